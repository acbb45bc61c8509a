"""What a read connection holds, named once: which published run it reads (so answers computed
from it can be reused until a new run is published) and its table handles (looked up once).

A published run is a DuckDB file that never changes (``<store>.runs/<run_id>.duckdb``, see
``pipeline/runs.py``); the core store attached beside it may still be written by ingest, so the
identity of what a connection reads is the run file plus the core file's size and modification
time. A connection with no run file (in memory, another backend) has no reusable identity.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

# per connection: (run file path or None, [core file paths]) and the table handles looked up
_FILES: weakref.WeakKeyDictionary[Any, tuple[str | None, tuple[str, ...]]] = weakref.WeakKeyDictionary()
_TABLES: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()


def _files(con: Any) -> tuple[str | None, tuple[str, ...]]:
    try:
        return _FILES[con]
    except (KeyError, TypeError):
        pass
    run: str | None = None
    others: list[str] = []
    if getattr(con, "name", None) == "duckdb":
        try:
            current = con.raw_sql("SELECT current_database()").fetchall()[0][0]
            for name, path in con.raw_sql("SELECT database_name, path FROM duckdb_databases() "
                                          "WHERE path IS NOT NULL").fetchall():
                if name == current and str(path).endswith(".duckdb") and ".runs" in str(path):
                    run = os.path.realpath(path)
                else:
                    others.append(os.path.realpath(path))
        except Exception:  # noqa: BLE001 — a connection we cannot name is simply not reused
            run, others = None, []
    got = (run, tuple(sorted(others)))
    with contextlib.suppress(TypeError):
        _FILES[con] = got
    return got


def run_file(con: Any) -> str | None:
    """The published run file the connection reads (immutable once published), or None."""
    return _files(con)[0]


def read_identity(con: Any) -> Hashable | None:
    """What the connection reads now: its run file and the size and time of every other attached
    file (the core store); None when it reads no published run (nothing may then be reused)."""
    run, others = _files(con)
    if run is None:
        return None
    stamps = []
    for path in others:
        try:
            st = os.stat(path)
            stamps.append((path, st.st_size, st.st_mtime_ns))
        except OSError:
            stamps.append((path, -1, -1))
    return (run, tuple(stamps))


def table(con: Any, name: str) -> Any:
    """``con.table(name)``, looked up once per connection (each lookup reads the table's schema)."""
    try:
        handles = _TABLES.setdefault(con, {})
    except TypeError:
        return con.table(name)
    if name not in handles:
        handles[name] = con.table(name)
    return handles[name]


class RunMemo:
    """Answers computed from one published run, reused for as long as the connection reads that run
    (least recently used first out): a new run, or a write to the core store, changes the key."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, con: Any, key: Hashable, compute: Callable[[], T]) -> T:
        ident = read_identity(con)
        if ident is None:
            return compute()
        full = (ident, key)
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                self.hits += 1
                return self._items[full]  # type: ignore[no-any-return]
        value = compute()
        with self._lock:
            self.misses += 1
            self._items[full] = value
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0
