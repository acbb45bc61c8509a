"""A Batch collects what one source file yields: rows per core table and quarantine entries.

Parsers call :meth:`Batch.accept` with all rows of one record, or :meth:`Batch.reject` with a
reason; every record read is exactly one of the two, which is what makes read = stored +
quarantined hold per file. Rows are kept column-wise so the store can write them in bulk; every
``chunk_rows`` rows of a table become an Arrow chunk, so parsing a large file holds compact Arrow
rather than Python tuples (for the in-file duplicate check a chunked row is remembered by the hash
of its content).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from operator import itemgetter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from carevalue.ingest.collections_paused import few_collections
from carevalue.model import table

MAX_CONTENT = 10_000
# Rows of one table held as Python tuples before they are turned into an Arrow chunk.
CHUNK_ROWS = 200_000

_ARROW = {
    "VARCHAR": pa.string(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us"),
    "DOUBLE": pa.float64(),
    "BIGINT": pa.int64(),
    "BOOLEAN": pa.bool_(),
}


def arrow_schema(name: str, extra: tuple[str, ...] = ()) -> pa.Schema:
    """The Arrow schema of a core table (declared column types), plus ``extra`` text columns."""
    t = table(name)
    fields = [pa.field(c.name, _ARROW[c.type]) for c in t.columns]
    fields += [pa.field(e, pa.string()) for e in extra]
    return pa.schema(fields)


class Reason:
    """Quarantine reason categories shared by every parser (the `quarantine.reason` column)."""

    MALFORMED_JSON = "malformed JSON"
    BINARY = "binary or non-UTF-8 content"
    LINE_TOO_LONG = "line too long"
    NOT_OBJECT = "not a JSON object"
    MISSING_RESOURCE_TYPE = "missing resourceType"
    INVALID_RESOURCE_TYPE = "invalid resourceType"
    UNSUPPORTED_VERSION = "unsupported FHIR version"
    MISSING_ID = "missing id"
    INVALID_ID = "invalid id"
    MISSING_FIELD = "missing required field"
    WRONG_TYPE = "wrong type"
    BAD_DATE = "unparseable date"
    END_BEFORE_START = "end before start"
    DANGLING = "dangling reference"
    INVALID_REFERENCE = "invalid reference"
    UNKNOWN_UNIT = "unknown unit"
    NEGATIVE = "negative quantity"
    NON_NUMERIC = "non-numeric value"
    INVALID_CODE = "invalid code"
    INVALID_GENDER = "invalid gender"
    INVALID_STATUS = "invalid status"
    DUPLICATE = "duplicate id with different content"
    ENTRY_WITHOUT_RESOURCE = "bundle entry without resource"
    BUNDLE_WITHOUT_ENTRIES = "bundle without entries"
    WRONG_RESOURCE_TYPE = "unexpected resource type"
    OUT_OF_RANGE = "value out of range"
    SUPERSEDED = "superseded by a later version"


def _same(prev: tuple[Any, ...] | int, row: tuple[Any, ...]) -> bool:
    """Whether ``row`` has the content (all but the source column, last) of the row seen before:
    ``prev`` is that row, or the hash of its content once it was moved into an Arrow chunk."""
    if isinstance(prev, tuple):
        return prev[:-1] == row[:-1]
    return prev == hash(row[:-1])


class Batch:
    def __init__(self, source: str, format: str, sha256: str = "", chunk_rows: int = CHUNK_ROWS) -> None:
        if chunk_rows < 1:
            raise ValueError(f"chunk_rows must be at least 1, not {chunk_rows}")
        self.source = source
        self.format = format
        self.sha256 = sha256
        self.read = 0
        # table name -> its rows (tuples in table column order) and the locator of each row's record
        self.rows: dict[str, list[tuple[Any, ...]]] = {}
        self.locators: dict[str, list[str]] = {}
        self._width: dict[str, int] = {}
        # (table, key) -> the row with that key, or the hash of its content once it is in a chunk.
        self._seen: dict[tuple[str, Any], tuple[Any, ...] | int] = {}
        self._chunk_rows = chunk_rows
        self._chunks: dict[str, list[pa.Table]] = {}  # earlier rows of a table as Arrow chunks
        self._dropped: set[str] = set()  # locators of records removed after their rows were chunked
        self._key_idx: dict[str, tuple[int, ...]] = {}
        # table -> the key of a row: its one key value, or the tuple of its key values
        self._key_of: dict[str, Callable[[tuple[Any, ...]], Any]] = {}
        self._names: dict[str, list[str]] = {}
        self.quarantine_rows: list[tuple[Any, ...]] = []
        # Main-row key -> (locator, meta.lastUpdated) of the record that produced it.
        self._version: dict[tuple[str, Any], tuple[str, Any]] = {}
        # Locator -> every version of a record carrying meta.lastUpdated (store.record_versions).
        self.versions: dict[str, dict[str, Any]] = {}
        # Set by freeze(): the rows as Arrow tables (table columns + _locator), columns emptied.
        self.frozen: dict[str, pa.Table] | None = None
        # Resource types whose stored identifiers the parse looked up (references.References.used).
        self.identifiers_used: frozenset[str] = frozenset()
        # Rows a reader produced as Arrow already (csv_columnar), checked and in file order.
        self.prebuilt: dict[str, pa.Table] = {}

    @property
    def columns(self) -> dict[str, list[list[Any]]]:
        """The rows column by column (table columns + _locator), for looking at a batch."""
        cols = {n: [list(c) for c in zip(*rows, strict=True)] + [self.locators[n]] if rows
                else [[] for _ in range(self._width[n] + 1)] for n, rows in self.rows.items()}
        cols.update({n: [c.to_pylist() for c in self.arrow(n).columns] for n in self._chunks})
        cols.update({n: [c.to_pylist() for c in t.columns] for n, t in self.prebuilt.items()})
        return cols

    def add_arrow(self, name: str, rows: pa.Table) -> None:
        """Take every row of ``name`` this file yields as one Arrow table (declared columns and types
        plus ``_locator``), already checked record by record as :meth:`accept` would."""
        schema = arrow_schema(name, ("_locator",))
        if not rows.schema.equals(schema):
            raise ValueError(f"{name}: Arrow rows do not have the table's schema:\n{rows.schema}")
        if self.rows.get(name) or name in self.prebuilt:
            raise ValueError(f"{name}: this batch already holds rows of it")
        self.prebuilt[name] = rows

    def _ensure(self, name: str) -> None:
        if name not in self.rows:
            if name in self.prebuilt:
                raise ValueError(f"{name}: this batch already holds its rows as one Arrow table")
            t = table(name)
            names = t.column_names
            if names[-1] != "source":
                raise ValueError(f"{name}: last column must be 'source'")
            self._names[name] = names
            self._width[name] = len(names)
            self._key_idx[name] = tuple(names.index(k) for k in t.key)
            self._key_of[name] = itemgetter(*self._key_idx[name])
            self.rows[name] = []
            self.locators[name] = []

    def row(self, name: str, **values: Any) -> tuple[Any, ...]:
        """A row of ``name`` in column order from keyword values (absent columns are null)."""
        self._ensure(name)
        names = self._names[name]
        unknown = set(values) - set(names)
        if unknown:
            raise ValueError(f"{name}: unknown columns {sorted(unknown)}")
        values["source"] = self.source
        return tuple(values.get(n) for n in names)

    def _key(self, name: str, row: tuple[Any, ...]) -> Any:
        return self._key_of[name](row)

    def accept(self, locator: str, rows: list[tuple[str, tuple[Any, ...]]], raw: str | None = None,
               record_type: str = "", version: Any = None) -> bool:
        """Store the rows of one record (each row in table column order, source last).

        A row whose key was already produced by this file is dropped when identical and makes the
        whole record quarantined when different — unless both versions carry ``version``
        (FHIR meta.lastUpdated) and they differ: then the later version is kept and the earlier
        one is quarantined as superseded (one fact, not two). Returns whether the record was accepted.
        """
        if rows and version is not None:
            name, row = rows[0]
            self._ensure(name)
            key = (name, self._key(name, row))
            prev = self._seen.get(key)
            old = self._version.get(key)
            if prev is not None and not _same(prev, row) and old is not None and old[1] is not None \
                    and old[1] != version:
                kv = key[1] if isinstance(key[1], tuple) else (key[1],)
                rid = "/".join(map(str, kv))
                if version < old[1]:
                    why = (f"{name} {rid}: this version (lastUpdated {version:%Y-%m-%dT%H:%M:%SZ}) is older "
                           f"than the one at {old[0]} (lastUpdated {old[1]:%Y-%m-%dT%H:%M:%SZ})")
                    self.reject(locator, record_type or name, str(kv[0]), "meta.lastUpdated", Reason.SUPERSEDED,
                                why, raw)
                    self._note_version(locator, name, rid, record_type, version, rows, False, why)
                    return False
                self._drop_record(old[0])
                why = (f"{name} {rid}: replaced by the later version at {locator} (lastUpdated "
                       f"{version:%Y-%m-%dT%H:%M:%SZ} > {old[1]:%Y-%m-%dT%H:%M:%SZ})")
                self.reject(old[0], record_type or name, str(kv[0]), "meta.lastUpdated", Reason.SUPERSEDED, why)
                if old[0] in self.versions:
                    self.versions[old[0]].update(current=False, why=why)
            fresh = key not in self._seen  # first time, or the earlier version was just dropped
            accepted = self._accept(locator, rows, raw, record_type, key)
            if accepted and fresh:
                self._version[key] = (locator, version)
                kv = key[1] if isinstance(key[1], tuple) else (key[1],)
                self._note_version(locator, name, "/".join(map(str, kv)), record_type, version, rows, True,
                                   "current")
            return accepted
        if not rows:
            return self._accept(locator, rows, raw, record_type)
        name, row = rows[0]
        self._ensure(name)
        key = (name, self._key_of[name](row))
        fresh = key not in self._seen
        accepted = self._accept(locator, rows, raw, record_type, key)
        if accepted and fresh:
            self._version[key] = (locator, None)
        return accepted

    def accept_one_row_records(self, name: str, rows: Iterator[tuple[Any, ...]], locators: list[str],
                               skip: Callable[[int], bool], record_type: str,
                               raw: Callable[[int], str | None]) -> None:
        """:meth:`accept` for a run of records of one row of ``name`` each, without versions (a CSV
        chunk): the same outcome record by record, in order, with the per-record overhead paid once.
        Record ``j`` is skipped when ``skip(j)`` (the caller has quarantined it)."""
        self._ensure(name)
        width, key_of = self._width[name], self._key_of[name]
        seen, version, out, locs = self._seen, self._version, self.rows[name], self.locators[name]
        for j, row in enumerate(rows):
            if skip(j):
                continue
            if len(row) != width:
                raise ValueError(f"{name}: row has {len(row)} values, table has {width} columns")
            key = (name, key_of(row))
            prev = seen.get(key)
            if prev is None:
                seen[key] = row
                out.append(row)
                locs.append(locators[j])
                version[key] = (locators[j], None)
                if len(out) >= self._chunk_rows:
                    self._chunk(name)
            elif not _same(prev, row):
                kv = key[1] if isinstance(key[1], tuple) else (key[1],)
                self.reject(locators[j], record_type or name, str(kv[0]), table(name).key[-1], Reason.DUPLICATE,
                            f"{name} {'/'.join(map(str, kv))} appears earlier in this file with different content",
                            raw(j))
            # else: an identical repeat of a record already stored from this file

    def _note_version(self, locator: str, name: str, rid: str, record_type: str, version: Any,
                      rows: list[tuple[str, tuple[Any, ...]]], current: bool, why: str) -> None:
        keys = []
        for n, row in rows:
            self._ensure(n)
            k = self._key(n, row)
            keys.append([n, *(k if isinstance(k, tuple) else (k,))])
        # The content without the source column: two versions with the same digest are one fact.
        digest = hashlib.blake2b(repr(sorted((n, row[:-1]) for n, row in rows)).encode(), digest_size=16)
        self.versions[locator] = {"table_name": name, "record_id": rid, "record_type": record_type or name,
                                  "locator": locator, "last_updated": version, "current": current,
                                  "why": why, "row_keys": keys, "digest": digest.hexdigest()}

    def _drop_record(self, locator: str) -> None:
        """Remove every row an earlier record (by locator) produced, and forget its keys."""
        if self._chunks:  # its rows may be in a chunk already: filtered out when the table is built
            self._dropped.add(locator)
            # Only a versioned record is ever dropped, and its version entry lists its rows' keys.
            for name, *kv in self.versions[locator]["row_keys"]:
                self._seen.pop((name, kv[0] if len(kv) == 1 else tuple(kv)), None)
        for name, rows in self.rows.items():
            locs = self.locators[name]
            idx = [i for i, x in enumerate(locs) if x == locator]
            for i in reversed(idx):
                self._seen.pop((name, self._key(name, rows[i])), None)
                del rows[i]
                del locs[i]

    def _accept(self, locator: str, rows: list[tuple[str, tuple[Any, ...]]], raw: str | None,
                record_type: str, first_key: tuple[str, Any] | None = None) -> bool:
        """Store the rows of one record unless one clashes with a different row of the same key
        (``first_key``: the key of ``rows[0]`` when the caller has it already)."""
        if len(rows) == 1:  # fast path: a record of one row
            name, row = rows[0]
            if name not in self._width:
                self._ensure(name)
            if len(row) != self._width[name]:
                raise ValueError(f"{name}: row has {len(row)} values, table has {self._width[name]} columns")
            key = first_key or (name, self._key_of[name](row))
            prev = self._seen.get(key)
            if prev is None:
                self._seen[key] = row
                out = self.rows[name]
                out.append(row)
                self.locators[name].append(locator)
                if len(out) >= self._chunk_rows:
                    self._chunk(name)
                return True
        keep: list[tuple[str, tuple[Any, ...], Any]] = []
        for n, (name, row) in enumerate(rows):
            if name not in self._width:
                self._ensure(name)
            if len(row) != self._width[name]:
                raise ValueError(f"{name}: row has {len(row)} values, table has {self._width[name]} columns")
            key = first_key if n == 0 and first_key else (name, self._key_of[name](row))
            prev = self._seen.get(key)
            if prev is not None:
                if not _same(prev, row):  # source column is last and equal by construction
                    kv = key[1] if isinstance(key[1], tuple) else (key[1],)
                    self.reject(locator, record_type or name, str(kv[0]), table(name).key[-1],
                                Reason.DUPLICATE,
                                f"{name} {'/'.join(map(str, kv))} appears earlier in this file with different content",
                                raw)
                    return False
                if n == 0:
                    return True  # an identical repeat of a record already stored from this file
                continue
            keep.append((name, row, key))
        seen = self._seen
        for name, row, key in keep:
            seen[key] = row
            self.rows[name].append(row)
            self.locators[name].append(locator)
        for name in {name for name, _, _ in keep}:
            if len(self.rows[name]) >= self._chunk_rows:
                self._chunk(name)
        return True

    def _chunk(self, name: str) -> None:
        """Move the rows of ``name`` held as tuples into an Arrow chunk; the duplicate index keeps
        each row's key and the hash of its content (a 64-bit hash: two different contents of one
        key in one file are told apart unless their hashes collide, about 1 in 2**64)."""
        rows, seen = self.rows[name], self._seen
        self._chunks.setdefault(name, []).append(self._rows_arrow(name))
        key_of = self._key_of[name]
        for row in rows:
            seen[(name, key_of(row))] = hash(row[:-1])
        rows.clear()
        self.locators[name].clear()

    def reject(self, locator: str, record_type: str | None, record_id: str | None, field: str, reason: str,
               detail: str, raw: str | None = None) -> None:
        """Quarantine one record with a reason a person can read."""
        content = raw[:MAX_CONTENT] if raw is not None else None
        self.quarantine_rows.append(
            (self.source, locator, record_type, record_id, field, reason, detail, content)
        )

    @property
    def tables(self) -> list[str]:
        """Tables this batch has rows for."""
        if self.frozen is not None:
            return [n for n, t in self.frozen.items() if t.num_rows]
        return ([n for n, rows in self.rows.items() if rows or n in self._chunks]
                + [n for n, t in self.prebuilt.items() if t.num_rows])

    def arrow(self, name: str) -> pa.Table:
        """The rows of ``name`` as an Arrow table in the declared types, with a ``_locator`` column."""
        if self.frozen is not None:
            return self.frozen[name]
        if name in self.prebuilt:
            return self.prebuilt[name]
        if name not in self._chunks:
            return self._rows_arrow(name)
        parts = list(self._chunks[name])
        if self._dropped:
            gone = pa.array(sorted(self._dropped), type=pa.string())
            parts = [t.filter(pc.invert(pc.is_in(t.column("_locator"), value_set=gone))) for t in parts]
        return pa.concat_tables([*parts, self._rows_arrow(name)])

    def _rows_arrow(self, name: str) -> pa.Table:
        """The rows of ``name`` still held as tuples, as an Arrow table (declared types, ``_locator``)."""
        schema = arrow_schema(name)
        with few_collections():
            # One conversion pass over the rows as a struct array, not a transpose into columns and
            # a pass per column (measured slightly cheaper; the values are scattered in memory).
            body = pa.Table.from_struct_array(pa.array(self.rows[name], type=pa.struct(list(schema))))
            return body.append_column(pa.field("_locator", pa.string()),
                                      pa.array(self.locators[name], type=pa.string()))

    def key_hashes(self) -> np.ndarray:
        """The hashes of every row key this batch holds, sorted (before :meth:`freeze`): whether two
        parts of one file share a key (ingest/file_parts.py). Python's string hash, so comparable
        only between processes forked from one parent."""
        seen = self._seen
        return np.sort(np.fromiter(map(hash, seen), dtype=np.int64, count=len(seen)))

    @classmethod
    def joined(cls, parts: list[Batch]) -> Batch:
        """One frozen batch of the frozen ``parts`` of one file, in order (rows, quarantine entries,
        versions and counts concatenated). Only equal to parsing the file whole when no row key is
        in two parts and no part quarantined a duplicate or superseded version (the caller checks)."""
        frozen = [b.frozen for b in parts if b.frozen is not None]
        if not parts or len(frozen) < len(parts):
            raise ValueError("joined() takes one or more frozen batches")
        first = parts[0]
        out = cls(first.source, first.format, first.sha256)
        names = dict.fromkeys(n for f in frozen for n in f)
        out.frozen = {n: pa.concat_tables([f[n] for f in frozen if n in f]) for n in names}
        for b in parts:
            out.read += b.read
            out.quarantine_rows += b.quarantine_rows
            out.versions.update(b.versions)
        out.identifiers_used = frozenset().union(*(b.identifiers_used for b in parts))
        return out

    def freeze(self) -> Batch:
        """Turn the rows into Arrow tables and drop the Python objects and duplicate index: done
        parsing, the batch is now small to keep and cheap to send from a worker process."""
        if self.frozen is None:
            self.frozen = {n: self.arrow(n) for n in self.tables}
            self.rows, self.locators, self._seen, self._version, self.prebuilt = {}, {}, {}, {}, {}
            self._chunks, self._dropped = {}, set()
        return self
