"""Plain costing CSV files read column-wise with Arrow instead of record by record in Python.

Half the records of a large population are activity rows (23.5M at 1M patients); reading them
with the csv module and converting each value in Python cost about 11 µs per row. A file
qualifies for this reader when it is ASCII text without NUL or separator control bytes, quotes
only as empty fields (``""``, as DuckDB writes an empty text), and exactly one record per line (so a row's line number is its position); pyarrow then
reads it as text columns and each value is converted where its reading is unambiguous (a plain
decimal number, an ISO 8601 date or date-time) with Arrow compute, any other value by the same
Python function the record-by-record reader uses. Rows with a problem, and every row whose id
occurs more than once in the file, go through the record-by-record reader, which reports the
reason; so a file stores and quarantines exactly what :func:`csv_sources.parse_csv` would.
"""

from __future__ import annotations

import codecs
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from carevalue.ingest.batch import Batch, arrow_schema
from carevalue.ingest.costing_csv import Field, OneRowKind
from carevalue.ingest.csv_records import CsvRecords, finish, parse_number, parse_timestamp

# Bytes that make a file take the record-by-record reader: NUL, and the separators Python's
# str.strip() removes but Arrow's does not.
_EXCLUDED = (b"\x00", b"\x1c", b"\x1d", b"\x1e", b"\x1f")
_SPACES = (b" ", b"\t", b"\x0b", b"\x0c")
NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_TIME = r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
_ZONE = r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
NAIVE_TIMESTAMP = f"^{_DATE}({_TIME})?$"
ZONED_TIMESTAMP = f"^{_DATE}{_TIME}{_ZONE}$"
_TS = pa.timestamp("us")


def _file_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.decompress(data)
    return data[len(codecs.BOM_UTF8):] if data.startswith(codecs.BOM_UTF8) else data


def _plain(data: bytes) -> bool:
    return (data.isascii() and not any(b in data for b in _EXCLUDED)
            and data.count(b"\r") == data.count(b"\r\n") and _quotes_only_empty_fields(data))


def _quotes_only_empty_fields(data: bytes) -> bool:
    """Every quote is half of a ``""`` that is a whole field: then the csv module and pyarrow read
    the same (an empty value); a quoted value with text in it takes the record-by-record reader."""
    if b'"' not in data:
        return True
    raw = np.frombuffer(data, dtype=np.uint8)
    at = np.flatnonzero(raw == ord('"'))
    if len(at) % 2 or not np.array_equal(at[0::2] + 1, at[1::2]):
        return False
    opens, closes = at[0::2], at[1::2]
    before = raw[np.maximum(opens - 1, 0)]
    after = raw[np.minimum(closes + 1, len(raw) - 1)]
    starts = (opens == 0) | (before == ord(",")) | (before == ord("\n"))
    ends = (closes == len(raw) - 1) | (after == ord(",")) | (after == ord("\n")) | (after == ord("\r"))
    return bool(starts.all() and ends.all())


def read_columnar(path: Path, kind: OneRowKind, header: list[str], batch: Batch, chunk_rows: int) -> bool:
    """Read the whole file into ``batch`` if it qualifies; return False, with ``batch`` untouched,
    if it does not (then the caller reads it record by record)."""
    index: dict[str, int] = {}
    for i, h in enumerate(header):
        index.setdefault(h.upper(), i)
    if any(f.required and f.column.upper() not in index for f in kind.fields):
        return False  # the record-by-record reader explains the missing column for every row
    data = _file_bytes(path)
    if not _plain(data):
        return False
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    names = [f"c{i}" for i in range(len(header))]
    try:
        text = pacsv.read_csv(
            pa.py_buffer(data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
            parse_options=pacsv.ParseOptions(),
            convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                 null_values=[""], strings_can_be_null=True))
    except pa.ArrowInvalid:  # e.g. a row with another number of fields
        return False
    if text.num_rows != lines - 1:  # blank lines: line numbers are not row positions
        return False
    trim = any(s in data for s in _SPACES)
    del data
    n = text.num_rows
    bad = np.zeros(n, dtype=bool)
    columns: dict[str, pa.Array] = {}
    for f in kind.fields:
        at = index.get(f.column.upper())
        col = (text.column(at).combine_chunks() if at is not None else pa.nulls(n, pa.string()))
        if trim:
            col = pc.ascii_trim_whitespace(col)
            col = pc.if_else(pc.equal(pc.binary_length(col), 0), pa.scalar(None, pa.string()), col)
        columns[f.column], problem = _convert(f, col)
        if problem is not None:
            bad |= problem
    bad |= _repeated(columns[kind.id_field])
    _store(kind, text, header, bad, columns, batch, path, chunk_rows)
    return True


def _mask(a: pa.Array) -> np.ndarray:
    return np.asarray(a.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _convert(f: Field, col: pa.Array) -> tuple[pa.Array, np.ndarray | None]:
    """The field's typed values and the rows with a problem (None: no row has one)."""
    problem = _mask(pc.is_null(col)) if f.required else None
    if f.type == "text":
        if f.lower:
            col = pc.ascii_lower(col)
        if f.allowed is not None:
            outside = _mask(pc.and_(pc.is_valid(col), pc.invert(pc.is_in(col, value_set=pa.array(sorted(f.allowed))))))
            problem = outside if problem is None else problem | outside
        return col, problem
    if f.type == "number":
        vals, failed = _typed(col, pa.float64(), [(NUMBER, None)], parse_number)
        wrong = pc.less_equal(vals, 0.0) if f.positive else pc.less(vals, 0.0)
        failed |= _mask(pc.or_kleene(pc.invert(pc.is_finite(vals)), wrong))
    else:
        vals, failed = _typed(col, _TS, [(NAIVE_TIMESTAMP, None), (ZONED_TIMESTAMP, pa.timestamp("us", tz="UTC"))],
                              parse_timestamp)
    return vals, failed if problem is None else problem | failed


def _typed(col: pa.Array, to: pa.DataType, patterns: list[tuple[str, pa.DataType | None]],
           convert: Callable[[str], Any]) -> tuple[pa.Array, np.ndarray]:
    """Values of ``col`` as ``to``: Arrow casts those matching a pattern (via the pattern's own
    type), the Python ``convert`` the distinct others; plus the rows ``convert`` refused."""
    out = pa.nulls(len(col), to)
    rest = pc.is_valid(col)
    for pattern, via in patterns:
        hit = pc.and_(rest, pc.match_substring_regex(col, pattern).fill_null(False))
        if not pc.any(hit).as_py():
            continue
        try:
            cast = pc.cast(pc.if_else(hit, col, pa.scalar(None, pa.string())), via or to)
        except pa.ArrowInvalid:  # a well-shaped value that is no date (2023-02-30): Python decides
            continue
        out = pc.if_else(hit, pc.cast(cast, to) if via is not None else cast, out)
        rest = pc.and_(rest, pc.invert(hit))
    failed = np.zeros(len(col), dtype=bool)
    if pc.any(rest).as_py():
        others = pc.unique(pc.filter(col, rest))
        got: list[Any] = []
        for v in others.to_pylist():
            try:
                got.append(convert(v))
            except (ValueError, OverflowError):
                got.append(None)
        pos = pc.index_in(col, value_set=others)
        typed = pc.take(pa.array(got, type=to), pos)
        failed = _mask(pc.and_(rest, pc.is_null(typed)))
        out = pc.if_else(rest, typed, out)
    return out, failed


def _repeated(ids: pa.Array) -> np.ndarray:
    """Rows whose id occurs more than once in the file (the record-by-record reader settles them)."""
    enc = pc.dictionary_encode(ids)
    if len(enc.dictionary) + enc.null_count == len(ids):
        return np.zeros(len(ids), dtype=bool)
    idx = enc.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    counts = np.bincount(idx[idx >= 0], minlength=len(enc.dictionary))
    return (idx >= 0) & (counts[np.maximum(idx, 0)] > 1)


def _store(kind: OneRowKind, text: pa.Table, header: list[str], slow: np.ndarray,
           columns: dict[str, pa.Array], batch: Batch, path: Path, chunk_rows: int) -> None:
    """Put the clean rows into ``batch`` as Arrow and map the others record by record, in file order."""
    n = text.num_rows
    batch.read += n
    schema = arrow_schema(kind.table, ("_locator",))
    fast = np.flatnonzero(~slow)
    arrays = []
    for fld in schema:
        if fld.name == "source":
            arrays.append(pa.repeat(pa.scalar(batch.source, pa.string()), len(fast)))
        elif fld.name == "_locator":
            lines = pa.array(fast + 2)
            arrays.append(pc.binary_join_element_wise("line ", pc.cast(lines, pa.string()), ""))
        elif fld.name in columns:
            arrays.append(columns[fld.name].take(pa.array(fast)).cast(fld.type))
        else:
            arrays.append(pa.nulls(len(fast), fld.type))
    parts = [pa.Table.from_arrays(arrays, schema=schema)]
    line_of = [fast + 2]
    others = np.flatnonzero(slow)
    if len(others):
        aside = Batch(batch.source, batch.format)
        for start in range(0, len(others), chunk_rows or len(others)):
            take = pa.array(others[start:start + (chunk_rows or len(others))])
            raw = [[v if v is not None else "" for v in text.column(i).take(take).to_pylist()]
                   for i in range(len(header))]
            rows = [list(r) for r in zip(*raw, strict=True)]
            recs = CsvRecords(kind.table, header, rows, [int(j) + 2 for j in take.to_pylist()], path)
            finish(recs, aside, kind.map(recs))
        batch.quarantine_rows.extend(aside.quarantine_rows)
        if kind.table in aside.tables:
            kept = aside.arrow(kind.table)
            parts.append(kept)
            line_of.append(np.array([int(s.removeprefix("line ")) for s in kept.column("_locator").to_pylist()]))
    table = pa.concat_tables(parts) if len(parts) > 1 else parts[0]
    if len(parts) > 1:
        table = table.take(pa.array(np.argsort(np.concatenate(line_of), kind="stable")))
    batch.add_arrow(kind.table, table)
