"""The well-formed rows of one CSV file, column by column, with typed access and per-row problems.

Mappings ask for a column by header name (case-insensitive, first of several spellings present)
and get a typed list back; a value that does not convert marks its row with a readable problem.
:func:`finish` then stores every clean row and quarantines every marked one.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from carevalue.ingest.batch import Batch
from carevalue.model import table


@dataclass(frozen=True)
class Problem:
    field: str
    reason: str
    detail: str


@dataclass
class Emit:
    """Rows for one table: column name -> list (one value per CSV row) or a constant.

    ``when`` (one bool per row) limits the table to some rows, e.g. charge lines only.
    """

    table: str
    columns: dict[str, Any]
    when: list[bool] | None = None


@dataclass(frozen=True)
class KindSpec:
    """How to read one kind of CSV file."""

    mapper: Callable[[CsvRecords], list[Emit]]
    # Upper-case header columns that identify the kind when the file name does not.
    signature: frozenset[str] = field(default_factory=frozenset)
    # Rows refer to each other (transactions settle earlier charges): map the file in one piece.
    whole_file: bool = False


def open_text(path: Path) -> io.TextIOBase:
    """The file as text; gzip by suffix; undecodable bytes become U+FFFD (quarantined later)."""
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", errors="replace", newline="")  # type: ignore[return-value]
    return open(path, encoding="utf-8-sig", errors="replace", newline="")  # noqa: SIM115


_BAD = object()


def parse_timestamp(s: str) -> datetime:
    """ISO 8601 date or date-time; zoned values are converted to naive UTC."""
    d = datetime.fromisoformat(s)
    if d.tzinfo is not None:
        d = d.astimezone(UTC).replace(tzinfo=None)
    return d


def parse_number(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise ValueError(s)
    return v


class CsvRecords:
    def __init__(self, kind: str, header: list[str], rows: list[list[str]], lines: list[int],
                 path: Path) -> None:
        self.kind = kind
        self.header = header
        self.rows = rows
        self.lines = lines
        self.path = path
        self.n = len(rows)
        self.raws = [",".join(r) for r in rows]  # the record as text, for quarantine entries
        self.index: dict[str, int] = {}
        for i, h in enumerate(header):
            self.index.setdefault(h.upper(), i)
        self.problems: dict[int, Problem] = {}
        self.missing: list[str] = []
        self.ids: list[str | None] | None = None  # record ids for quarantine entries

    # -- columns -------------------------------------------------------------------------
    def has(self, *names: str) -> str | None:
        """The first of ``names`` present in the header (as spelled in the header), or None."""
        for n in names:
            i = self.index.get(n.upper())
            if i is not None:
                return self.header[i]
        return None

    def raw_column(self, *names: str, required: bool = False) -> tuple[str | None, list[str]]:
        name = self.has(*names)
        if name is None:
            if required:
                self.missing.append(" or ".join(names))
            return None, [""] * self.n
        i = self.index[name.upper()]
        return name, [r[i].strip() for r in self.rows]

    def text(self, *names: str, required: bool = False) -> list[str | None]:
        """Text values; empty -> None. ``required``: the column must exist and no value be empty."""
        name, col = self.raw_column(*names, required=required)
        out = [v or None for v in col]
        if required and name is not None and None in out:
            for j, v in enumerate(out):
                if v is None:
                    self.problem(j, name, "missing required field", f"{name} is empty")
        return out

    def _convert(self, names: tuple[str, ...], required: bool, conv: Callable[[str], Any],
                 reason: str, what: str) -> list[Any]:
        name, col = self.raw_column(*names, required=required)
        out: list[Any] = [None] * self.n
        if name is None:
            return out
        cache: dict[str, Any] = {}
        for j, v in enumerate(col):
            if not v:
                if required:
                    self.problem(j, name, "missing required field", f"{name} is empty")
                continue
            r = cache.get(v)
            if r is None:
                try:
                    r = conv(v)
                except (ValueError, OverflowError):
                    r = _BAD
                cache[v] = r
            if r is _BAD:
                self.problem(j, name, reason, f"{name} = {v[:80]!r} is not {what}")
            else:
                out[j] = r
        return out

    def timestamp(self, *names: str, required: bool = False) -> list[datetime | None]:
        return self._convert(names, required, parse_timestamp, "unparseable date",
                             "an ISO 8601 date or date-time")

    def date(self, *names: str, required: bool = False) -> list[date | None]:
        return self._convert(names, required, lambda s: parse_timestamp(s).date(),
                             "unparseable date", "an ISO 8601 date")

    def number(self, *names: str, required: bool = False, minimum: float | None = 0.0,
               positive: bool = False) -> list[float | None]:
        """Finite numbers; below ``minimum`` (default 0: amounts, minutes, quantities) is a problem."""
        vals = self._convert(names, required, parse_number, "non-numeric value", "a number")
        name = self.has(*names)
        for j, v in enumerate(vals):
            if v is None:
                continue
            if positive and v <= 0:
                self.problem(j, name or names[0], "value must be positive", f"{name} = {v:g} must be greater than 0")
            elif minimum is not None and v < minimum:
                self.problem(j, name or names[0], "negative quantity", f"{name} = {v:g} is negative")
        return vals

    def integer(self, *names: str, required: bool = False) -> list[int | None]:
        return self._convert(names, required, int, "non-numeric value", "a whole number")

    def one_of(self, values: list[str | None], name: str, allowed: set[str]) -> None:
        """Mark rows whose value is not in ``allowed`` (empty values are left to ``required``)."""
        for j, v in enumerate(values):
            if v is not None and v not in allowed:
                self.problem(j, name, "invalid code",
                             f"{name} = {v!r} is not one of {', '.join(sorted(allowed))}")

    def not_before(self, start: list[Any], end: list[Any], start_name: str, end_name: str) -> None:
        """Mark rows whose end lies before their start."""
        for j, (s, e) in enumerate(zip(start, end, strict=True)):
            if s is not None and e is not None and e < s:
                self.problem(j, end_name, "end before start", f"{end_name} {e} is before {start_name} {s}")

    # -- rows ----------------------------------------------------------------------------
    def problem(self, j: int, field: str, reason: str, detail: str) -> None:
        """Record a problem for row j (the first one found is the one reported)."""
        if j not in self.problems:
            self.problems[j] = Problem(field, reason, detail)

    def row_hash(self, j: int) -> str:
        """Deterministic id of a row without an id column: the same values give the same id."""
        h = hashlib.blake2b("\x1f".join([self.kind, *self.rows[j]]).encode(), digest_size=16)
        return h.hexdigest()

    def row_hashes(self) -> list[str]:
        return [self.row_hash(j) for j in range(self.n)]

    def raw(self, j: int) -> str:
        return self.raws[j]


def finish(recs: CsvRecords, batch: Batch, emits: list[Emit]) -> None:
    """Accept every row without a problem (with its rows in every emitted table), reject the rest."""
    locs = [f"line {n}" for n in recs.lines]
    if recs.missing:
        missing = ", ".join(recs.missing)
        detail = (f"required column {missing} is not in the header "
                  f"({','.join(recs.header)[:300]}); no row of this file can be read")
        for j in range(recs.n):
            batch.reject(locs[j], recs.kind, None, recs.missing[0], "missing required column", detail, recs.raw(j))
        return
    streams: list[tuple[str, Iterator[tuple[Any, ...]], list[bool] | None]] = []
    for em in emits:
        t = table(em.table)
        unknown = set(em.columns) - set(t.column_names)
        if unknown:
            raise KeyError(f"{em.table} has no column(s) {sorted(unknown)}")
        arrays: list[Any] = []
        for c in t.column_names:
            v = batch.source if c == "source" else em.columns.get(c)
            arrays.append(v if isinstance(v, list) else repeat(v))
        streams.append((em.table, zip(*arrays, strict=False), em.when))
    ids = recs.ids
    problems = recs.problems
    raws = recs.raws
    if len(streams) == 1 and streams[0][2] is None:  # one row per record (costing CSVs): in bulk
        name, it, _ = streams[0]

        def quarantined(j: int) -> bool:
            p = problems.get(j)
            if p is None:
                return False
            rid = ids[j] if ids is not None else recs.row_hash(j)
            batch.reject(locs[j], recs.kind, rid, p.field, p.reason, p.detail, recs.raw(j))
            return True

        skip = quarantined if problems else (lambda j: False)
        batch.accept_one_row_records(name, it, locs, skip, recs.kind, recs.raw)
        return
    for j in range(recs.n):
        rows = []
        for name, it, when in streams:
            row = next(it)
            if when is None or when[j]:
                rows.append((name, row))
        p = problems.get(j)
        if p is not None:
            rid = ids[j] if ids is not None else recs.row_hash(j)
            batch.reject(locs[j], recs.kind, rid, p.field, p.reason, p.detail, recs.raw(j))
        else:
            batch.accept(locs[j], rows, raw=raws[j], record_type=recs.kind)
