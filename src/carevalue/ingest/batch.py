"""A Batch collects what one source file yields: rows per core table and quarantine entries.

Parsers call :meth:`Batch.accept` with all rows of one record, or :meth:`Batch.reject` with a
reason; every record read is exactly one of the two, which is what makes read = stored +
quarantined hold per file.
"""

from __future__ import annotations

from typing import Any

from carevalue.model import table

MAX_CONTENT = 10_000


class Batch:
    def __init__(self, source: str, format: str, sha256: str = "") -> None:
        self.source = source
        self.format = format
        self.sha256 = sha256
        self.read = 0
        # table name -> list of column lists (table columns + _locator)
        self.columns: dict[str, list[list[Any]]] = {}
        self._width: dict[str, int] = {}
        self._seen: dict[tuple[str, tuple[Any, ...]], tuple[Any, ...]] = {}
        self._key_idx: dict[str, list[int]] = {}
        self.quarantine_rows: list[tuple[Any, ...]] = []

    def _ensure(self, name: str) -> list[list[Any]]:
        cols = self.columns.get(name)
        if cols is None:
            t = table(name)
            names = t.column_names
            self._width[name] = len(names)
            self._key_idx[name] = [names.index(k) for k in t.key]
            cols = [[] for _ in range(len(names) + 1)]
            self.columns[name] = cols
        return cols

    def accept(self, locator: str, rows: list[tuple[str, tuple[Any, ...]]], raw: str | None = None,
               record_type: str = "") -> bool:
        """Store the rows of one record (each row in table column order, without _locator).

        A row whose key was already produced by this file is dropped when identical and makes the
        whole record quarantined when different. Returns whether the record was accepted.
        """
        for name, row in rows:
            self._ensure(name)
            if len(row) != self._width[name]:
                raise ValueError(f"{name}: row has {len(row)} values, table has {self._width[name]} columns")
        first = True
        keep: list[tuple[str, tuple[Any, ...]]] = []
        for name, row in rows:
            key = (name, tuple(row[i] for i in self._key_idx[name]))
            prev = self._seen.get(key)
            if prev is not None:
                if prev[:-1] != row[:-1]:  # source column is last and equal by construction
                    self.reject(locator, record_type or name, str(key[1][0]), table(name).key[-1],
                                "duplicate id with different content",
                                f"{name} {'/'.join(map(str, key[1]))} appears earlier in this file with different content",
                                raw)
                    return False
                if first:
                    return True  # an identical repeat of a record already stored from this file
                continue
            first = False
            keep.append((name, row))
        for name, row in keep:
            self._seen[(name, tuple(row[i] for i in self._key_idx[name]))] = row
            cols = self.columns[name]
            for i, v in enumerate(row):
                cols[i].append(v)
            cols[-1].append(locator)
        return True

    def reject(self, locator: str, record_type: str, record_id: str | None, field: str, reason: str,
               detail: str, raw: str | None = None) -> None:
        """Quarantine one record with a reason a person can read."""
        content = raw[:MAX_CONTENT] if raw is not None else None
        self.quarantine_rows.append(
            (self.source, locator, record_type, record_id, field, reason, detail, content)
        )
