"""The touchpoint taxonomy and identifier kinds, read from schemas/*.toml once per process."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from functools import cache, lru_cache

from pipeline import SCHEMAS
from pipeline.identity.rules import Rules


@dataclass(frozen=True)
class Channel:
    name: str
    category: str
    ownership: str
    default_stage: str


@dataclass(frozen=True)
class Taxonomy:
    channels: dict[str, Channel]
    event_stages: dict[str, str]
    conversion_event_types: frozenset[str]
    after_sales_stages: frozenset[str] = frozenset()

    def stage(self, event_type: str, channel: str) -> str:
        """Event type's own stage, else the channel's default, else 'unknown'."""
        stage = self.event_stages.get(event_type)
        if stage:
            return stage
        known = self.channels.get(channel)
        return known.default_stage if known else "unknown"


@dataclass(frozen=True)
class IdentityKinds:
    ranks: dict[str, int]
    """kind -> priority rank, 0 strongest."""
    hashed: frozenset[str]
    junk_values: frozenset[str]
    junk_repeated: int
    """A value of one character repeated this many times or more is junk (0 = no such rule)."""
    default_phone_country: str
    limits: dict[str, int]
    shared_after: int
    contacts: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()
    contacts_after: int = 2

    def with_extra(self, kinds: tuple[str, ...]) -> IdentityKinds:
        """Extra identifier kinds from configuration, weaker than every built-in kind."""
        ranks = dict(self.ranks)
        for kind in kinds:
            ranks.setdefault(kind, len(ranks))
        return replace(self, ranks=ranks)

    def rules(self) -> Rules:
        return Rules(self.ranks, self.limits, self.shared_after, self.contacts, self.devices,
                     self.contacts_after)


@cache
def taxonomy() -> Taxonomy:
    data = tomllib.loads((SCHEMAS / "taxonomy.toml").read_text())
    channels = {
        name: Channel(name, c["category"], c["ownership"], c["default_stage"])
        for name, c in data["channels"].items()
    }
    return Taxonomy(channels, dict(data["event_types"]), frozenset(data["conversion_event_types"]),
                    frozenset(data.get("after_sales_stages", ())))


_SPELLING = re.compile(r"[\s_\-]+")


def spelling(name: str) -> str:
    """How an event type is written, without case, spaces, hyphens or underscores."""
    return _SPELLING.sub("", name).casefold()


@cache
def _known_event_types() -> dict[str, str]:
    """spelling -> event type, for the types the taxonomy knows and Segment's spec names."""
    tax = taxonomy()
    known = {spelling(t): t for t in (*tax.event_stages, *tax.conversion_event_types)}
    for name, mapped in segment_mapping()["track_events"].items():
        known.setdefault(spelling(name), str(mapped))
    return known


@lru_cache(maxsize=4096)
def canonical_event_type(name: str) -> str:
    """A known event type written another way ("Purchase", "ORDER COMPLETED", "add-to-cart",
    "Order Completed" sent natively) becomes that type, so conversions and stages find it;
    any other name is kept as it came (event types are open-ended)."""
    return _known_event_types().get(spelling(name), name)


@cache
def identity_kinds() -> IdentityKinds:
    data = tomllib.loads((SCHEMAS / "identity.toml").read_text())
    kinds = data["kinds"]
    return IdentityKinds(
        ranks={k["name"]: rank for rank, k in enumerate(kinds)},
        hashed=frozenset(k["name"] for k in kinds if k["hashed"]),
        junk_values=frozenset(v.lower() for v in data["junk_values"]),
        junk_repeated=int(data.get("junk_repeated", 0)),
        default_phone_country=data["default_phone_country"],
        limits={kind: int(n) for kind, n in data["limits"].items()},
        shared_after=int(data["shared"]["after"]),
        contacts=frozenset(data["shared"].get("contacts", ())),
        devices=frozenset(data["shared"].get("devices", ())),
        contacts_after=int(data["shared"].get("contacts_after", 2)),
    )


@cache
def segment_mapping() -> dict[str, dict[str, object]]:
    return tomllib.loads((SCHEMAS / "segment.toml").read_text())
