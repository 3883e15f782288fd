"""The links the current cut refuses, indexed under both of their identifiers.

strategy: a cluster cut again replaces its own refusals: those of the previous cut that no
longer hold (a device found shared since, an earlier event that joined the two first) are
withdrawn, so the recorded refusals are those of the final cut, whatever the arrival order.
Both identifiers of a refusal are in one cluster, or one of them is shared and in a cluster of
its own: a cut that touches either sees it. Few: a clash is rare.
"""

from __future__ import annotations

from collections.abc import Iterable

from pipeline.identity.rules import Key, Refusal


class Refusals:
    def __init__(self) -> None:
        self._by_key: dict[Key, set[Refusal]] = {}

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def current(self) -> set[Refusal]:
        return {r for held in self._by_key.values() for r in held}

    def settle(self, touched: Iterable[Key], refused: set[Refusal]) -> tuple[list[Refusal], list[Refusal]]:
        """The clusters of `touched` now refuse `refused`: (made, withdrawn)."""
        before = {r for key in touched for r in self._by_key.get(key, ())}
        withdrawn = list(before - refused)
        for refusal in withdrawn:
            self._unindex(refusal)
        made = list(refused - before)
        for refusal in made:
            for key in (refusal.kept, refusal.refused):
                self._by_key.setdefault(key, set()).add(refusal)
        return made, withdrawn

    def erase(self, keys: Iterable[Key]) -> None:
        """An erasure (`parcours forget`): its rows are deleted by the erasure itself."""
        for key in keys:
            for refusal in self._by_key.pop(key, set()):
                self._unindex(refusal)

    def _unindex(self, refusal: Refusal) -> None:
        for key in (refusal.kept, refusal.refused):
            held = self._by_key.get(key)
            if held is not None:
                held.discard(refusal)
                if not held:
                    del self._by_key[key]
