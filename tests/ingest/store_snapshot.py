"""Every row of every core table of a store, sorted: two stores are equal when their snapshots are."""

from __future__ import annotations

from typing import Any

from carevalue.ingest.store import Store
from carevalue.model import TABLES


def snapshot(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    out = {}
    for t in TABLES:
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        out[t.name] = store.con.execute(f'SELECT {cols} FROM "{t.name}" ORDER BY ALL').fetchall()
    return out
