"""A backend whose table list is read once: engine code that filters many core tables through
:func:`carevalue.engine.record_filter.counting` asks for the list at every call (twice per table),
and on a run file with the core attached each ask is a catalogue query."""

from __future__ import annotations

from typing import Any, cast

from ibis.backends import BaseBackend


class ListedOnce:
    """``con`` with :meth:`list_tables` answered from one read; everything else is ``con``'s.
    Use it only while the tables it lists do not change (to build expressions over core tables)."""

    def __init__(self, con: BaseBackend) -> None:
        self._con = con
        self._names: list[str] | None = None

    def list_tables(self) -> list[str]:
        if self._names is None:
            self._names = list(self._con.list_tables())
        return list(self._names)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def listed_once(con: BaseBackend) -> BaseBackend:
    """``con`` as a :class:`ListedOnce` (typed as the backend it stands in for)."""
    return cast(BaseBackend, ListedOnce(con))
