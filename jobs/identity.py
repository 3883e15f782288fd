"""`parcours identity show KIND VALUE` and `parcours identity stats`: why a person is who it is.

Everything is read back from ClickHouse (v_identities, identity_links, identity_refusals,
person_merges), so the same explanation is available to anyone with SQL access. Raw emails
and phones are normalised and hashed with the install's salt before the lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from pipeline.errors import Terminal
from pipeline.ingest.logic import IngestConfig, lookup_value
from pipeline.ingest.pii import masked
from pipeline.sink.clickhouse import query_rows

SQL_DIR = Path(__file__).parent / "sql" / "identity"


def sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text()


@dataclass(frozen=True)
class Explanation:
    kind: str
    value: str
    person_id: str
    shared: bool
    identifiers: list[tuple[Any, ...]]
    links: list[tuple[Any, ...]]
    refusals: list[tuple[Any, ...]]
    merged: list[tuple[Any, ...]]


def explain(client: Client, cfg: IngestConfig, kind: str, raw_value: str) -> Explanation:
    value = lookup_value(kind, raw_value, cfg)
    found = query_rows(client, sql("person_of"), {"kind": kind, "value": value})
    if not found:
        from jobs.forget import audit_hash

        erased = query_rows(client, sql("erased"), {"kind": kind, "hash": audit_hash(cfg, kind, value)})
        if erased:
            at, request = erased[0]
            raise Terminal(f"{kind}={masked(raw_value)!r} was erased by `parcours forget` at {str(at)[:19]} UTC "
                           f"(request {request})", hint="its person is gone from every table by design")
        raise Terminal(f"no identifier {kind}={masked(raw_value)!r} in ClickHouse",  # terminals get logged
                       hint="check the kind (user_id, email, phone, device_id, ...) and the value; "
                            "has the event that carried it been replayed?")
    person, shared = found[0]
    identifiers = query_rows(client, sql("identifiers"), {"person": person})
    keys = [f"{k}:{v}" for k, v, _, _ in identifiers] or [f"{kind}:{value}"]
    return Explanation(
        kind, value, person, bool(shared), identifiers,
        query_rows(client, sql("links"), {"keys": keys}),
        query_rows(client, sql("refusals"), {"keys": keys}),
        query_rows(client, sql("merges"), {"person": person}),
    )


def render(x: Explanation) -> str:
    lines = [f"{x.kind} {x.value}" + ("  (shared: links nobody)" if x.shared else ""),
             f"person {x.person_id}: {len(x.identifiers)} identifier(s)"]
    lines += [f"  {kind:<13} {value:<34} first seen {str(seen)[:19]}{'  shared' if sh else ''}"
              for kind, value, seen, sh in x.identifiers]
    lines.append(f"linked by {len(x.links)} event(s):")
    lines += [f"  {str(at)[:19]}  {event_id}  {' + '.join(ids)}" for at, event_id, ids in x.links]
    lines.append(f"refused links: {len(x.refusals)}")
    lines += [f"  {str(at)[:19]}  {event_id}  {refused} not joined to {kept}: a second {kind}"
              for event_id, at, kept, refused, kind in x.refusals]
    if x.merged:
        lines.append(f"earlier ids now pointing here: {len(x.merged)}")
        lines += [f"  {old}  ({reason}, {str(at)[:19]})" for old, reason, at in x.merged]
    return "\n".join(lines)


def stats(client: Client) -> dict[str, int]:
    rows = client.query(sql("stats"))
    return dict(zip(rows.column_names, rows.result_rows[0], strict=True))
