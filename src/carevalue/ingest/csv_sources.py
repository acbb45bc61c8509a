"""Read one CSV file (Synthea export or carevalue costing input) into a Batch.

Rows are read with the csv module, checked for shape, then handed column-wise to the mapping of
the file's kind (``synthea_csv`` or ``costing_csv``); every data row ends as stored or
quarantined, with the physical line number as locator. Plain costing files (one record per line,
no quotes) are read column-wise with Arrow instead (``csv_columnar``), with the same outcome.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

from carevalue.ingest.batch import Batch
from carevalue.ingest.costing_csv import COSTING_KINDS, ONE_ROW_KINDS
from carevalue.ingest.csv_columnar import read_columnar
from carevalue.ingest.csv_records import CsvRecords, KindSpec, finish, open_text
from carevalue.ingest.synthea_csv import SYNTHEA_KINDS

csv.field_size_limit(64 * 1024 * 1024)

KINDS: dict[str, KindSpec] = {**SYNTHEA_KINDS, **COSTING_KINDS}
_BINARY = re.compile("[\ufffd\x00]")
CHUNK_ROWS = 100_000  # rows mapped at a time, to bound memory on large exports


def read_rows(fh: io.TextIOBase) -> Iterator[tuple[int, list[str] | None, str]]:
    """(first physical line, fields, error) per record; fields is None when the csv module fails."""
    reader = csv.reader(fh)
    prev = 0
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            line = prev + 1
            if reader.line_num <= prev:  # the reader cannot move on: give up on the rest
                yield line, None, str(e)
                return
            prev = reader.line_num
            yield line, None, str(e)
            continue
        line = prev + 1
        prev = reader.line_num
        if not row:  # blank line: not a record
            continue
        yield line, row, ""


def detect_kind(kind: str, header: list[str]) -> str | None:
    """The kind by file name; else the one kind whose full expected header the file has."""
    if kind in KINDS:
        return kind
    cols = {h.strip().upper() for h in header}
    matches = [k for k, spec in KINDS.items() if spec.signature and spec.signature <= cols]
    return matches[0] if len(matches) == 1 else None


def parse_csv(path: Path, kind: str, batch: Batch) -> None:
    """Parse one CSV file of the given kind (lower-case stem without numeric suffix) into batch."""
    with open_text(path) as fh:
        rows = read_rows(fh)
        first = next(rows, None)
        if first is None:
            return  # empty file: no header, no records
        _, header, error = first
        if header is None:
            # Without a header no row can be interpreted; count and quarantine the rest.
            _reject_all(rows, batch, kind, "", "unreadable CSV header", f"the header line cannot be read: {error}")
            return
        header = [h.strip() for h in header]
        if any(_BINARY.search(h) for h in header):
            _reject_all(rows, batch, kind, "", "binary or non-UTF-8 content",
                        "the header holds bytes that are not UTF-8 text: not a CSV file")
            return
        known = detect_kind(kind, header)
        if known is None:
            _reject_all(rows, batch, kind, "", "unrecognised CSV file",
                        f"file kind {kind!r} with header {','.join(header)[:200]} matches no known "
                        f"Synthea or carevalue CSV (known: {', '.join(sorted(KINDS))})")
            return
        spec = KINDS[known]
        one_row = ONE_ROW_KINDS.get(known)
        if one_row is not None and read_columnar(path, one_row, header, batch, CHUNK_ROWS):
            return
        width = len(header)
        good: list[list[str]] = []
        lines: list[int] = []
        chunk = CHUNK_ROWS if not spec.whole_file else 0
        for line, fields, err in rows:
            if fields is None:
                batch.read += 1
                batch.reject(f"line {line}", known, None, "", "unreadable CSV record", err)
                continue
            if len(fields) != width:
                batch.read += 1
                hint = (f"; a quote opened on line {line} may never be closed"
                        if any("\n" in v for v in fields) else "")
                batch.reject(f"line {line}", known, None, "", "wrong number of fields",
                             f"expected {width} fields as in the header, found {len(fields)}{hint}",
                             ",".join(fields))
                continue
            good.append(fields)
            lines.append(line)
            if len(good) == chunk:
                _map(known, header, good, lines, path, spec, batch)
                good, lines = [], []
        _map(known, header, good, lines, path, spec, batch)


def _map(kind: str, header: list[str], rows: list[list[str]], lines: list[int], path: Path,
         spec: KindSpec, batch: Batch) -> None:
    batch.read += len(rows)
    recs = CsvRecords(kind, header, rows, lines, path)
    _check_text(recs)
    finish(recs, batch, spec.mapper(recs))


def _reject_all(rows: Iterator[tuple[int, list[str] | None, str]], batch: Batch, kind: str,
                field: str, reason: str, detail: str) -> None:
    for line, fields, _ in rows:
        batch.read += 1
        batch.reject(f"line {line}", kind, None, field, reason, detail,
                     ",".join(fields) if fields is not None else None)


def _check_text(recs: CsvRecords) -> None:
    """Rows holding bytes that are not UTF-8 (decoded as U+FFFD) or NUL bytes are quarantined."""
    joined = "\n".join(recs.raws)
    if "\ufffd" not in joined and "\x00" not in joined:
        return
    search = _BINARY.search
    for j, raw in enumerate(recs.raws):
        if search(raw):
            name = next(h for h, v in zip(recs.header, recs.rows[j], strict=True) if search(v))
            recs.problem(j, name, "binary or non-UTF-8 content",
                         f"{name} holds bytes that are not valid UTF-8 text (or NUL bytes)")
