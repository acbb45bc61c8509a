"""What a read connection holds, named once: which published run it reads (so answers computed
from it can be reused until a new run is published) and its table handles (looked up once).

A published run is a DuckDB file that never changes (``<store>.runs/<run_id>.duckdb``, see
``pipeline/runs.py``); the core store attached beside it may still be written by ingest, so the
identity of what a connection reads is the run file plus the core file's size and modification
time. A connection with no run file (in memory, another backend) has no reusable identity.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

class PerConnection:
    """A value per open connection, by the connection object's identity (ibis backends compare
    equal when they connect to the same thing, so a closed connection and its successor would be
    taken for one another); the last ``size`` connections are kept."""

    def __init__(self, size: int = 16) -> None:
        self.size = size
        self._items: OrderedDict[int, tuple[weakref.ref[Any], Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, con: Any, make: Callable[[], T]) -> T:
        with self._lock:
            hit = self._items.get(id(con))
            if hit is not None and hit[0]() is con:
                self._items.move_to_end(id(con))
                return hit[1]  # type: ignore[no-any-return]
        value = make()
        try:
            ref = weakref.ref(con)
        except TypeError:
            return value
        with self._lock:
            self._items[id(con)] = (ref, value)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value


_FILES = PerConnection()  # per connection: (run file path or None, [other attached files])
_TABLES = PerConnection()  # per connection: its table handles


def _files(con: Any) -> tuple[str | None, tuple[str, ...]]:
    return _FILES.get(con, lambda: _attached(con))


def _attached(con: Any) -> tuple[str | None, tuple[str, ...]]:
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
    return run, tuple(sorted(others))


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
    handles: dict[str, Any] = _TABLES.get(con, dict)
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
