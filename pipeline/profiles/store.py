"""The profiles of one partition: recently touched ones as objects, the others packed.

strategy: a worker keeps a profile for every person it owns (HTTP lookups), so at a million
customers the profiles are most of its state; only the few thousand persons active right now
are read and changed. A profile object costs ~1.2 KB (dicts, lists, tuples, ints); packed
(orjson, fields by position) it costs ~0.3 KB. The store keeps the profiles touched most
recently as objects and packs the rest when a batch ends (`settle`); reading a packed one
unpacks it (~3 µs).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, MutableMapping
from itertools import islice
from typing import Any

import orjson

from pipeline.profiles.state import Profile

#: Profile objects kept per partition after a batch: the persons active at once.
HOT = 8192


class ProfileStore(MutableMapping[str, Profile]):
    def __init__(self, hot: int = HOT) -> None:
        self.hot_limit = hot
        self._hot: dict[str, Profile] = {}
        """Least recently touched first (insertion order, refreshed by `settle`)."""
        self._packed: dict[str, bytes] = {}

    def get(self, person: str, default: Profile | None = None) -> Profile | None:  # type: ignore[override]
        profile = self._hot.get(person)  # the common case, kept to one C call
        if profile is not None:
            return profile
        packed = self._packed.pop(person, None)
        if packed is None:
            return default
        profile = self._hot[person] = Profile.unpack(person, packed)
        return profile

    def fields(self, person: str) -> list[Any] | orjson.Fragment | None:
        """The person's profile as `Profile.fields` JSON, without unpacking a packed one (the
        changelog writes the profile of every person whose sessions were forgotten)."""
        profile = self._hot.get(person)
        if profile is not None:
            return profile.fields()
        packed = self._packed.get(person)
        return None if packed is None else orjson.Fragment(packed)

    def setdefault(self, person: str, default: Profile) -> Profile:  # type: ignore[override]
        profile = self.get(person)
        if profile is None:
            profile = self._hot[person] = default
        return profile

    def __getitem__(self, person: str) -> Profile:
        profile = self.get(person)
        if profile is None:
            raise KeyError(person)
        return profile

    def __setitem__(self, person: str, profile: Profile) -> None:
        self._packed.pop(person, None)
        self._hot[person] = profile

    def __delitem__(self, person: str) -> None:
        if self._hot.pop(person, None) is None:
            del self._packed[person]

    def __contains__(self, person: object) -> bool:
        return person in self._hot or person in self._packed

    def __iter__(self) -> Iterator[str]:
        return iter([*self._hot, *self._packed])  # reading a packed one moves it: iterate a copy

    def __len__(self) -> int:
        return len(self._hot) + len(self._packed)

    def settle(self, touched: Iterable[str] = ()) -> None:
        """Pack the profiles touched least recently, beyond the `hot_limit` most recent.
        `touched`: the persons the batch changed, moved to the young end first (a lookup does
        not reorder: that would cost a dict re-insert on every read of the hot path)."""
        hot = self._hot
        for person in touched:
            profile = hot.pop(person, None)
            if profile is not None:
                hot[person] = profile
        extra = len(hot) - self.hot_limit
        if extra <= 0:
            return
        for person in list(islice(hot, extra)):  # the oldest `extra` only: popping needs a copy
            self._packed[person] = hot.pop(person).pack()
