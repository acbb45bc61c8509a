"""Which parser reads which file, and in what order files are ingested.

Reference targets (organizations, practitioners, patients) are ingested before the records that
point at them, so that a reference can be checked against what is already stored.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from carevalue.ingest.batch import Batch
from carevalue.ingest.collections_paused import few_collections

if TYPE_CHECKING:
    from carevalue.ingest.references import References

Parser = Callable[[Path, Batch], None]

# Resource types / Synthea file kinds that others refer to come first.
_ORDER = [
    "hospitalinformation", "practitionerinformation",
    "organization", "organizations", "location", "payer", "payers", "practitioner", "providers",
    "practitionerrole", "questionnaire", "patient", "patients", "resources", "encounter", "encounters",
]


@dataclass(frozen=True)
class SourceFile:
    path: Path
    label: str  # path as given, or relative to the directory given
    format: str
    kind: str  # resource type or Synthea file kind, lower-case; '' when per-record


def _kind_of(name: str) -> str:
    base = name.lower()
    for suffix in (".gz", ".ndjson", ".jsonl", ".json", ".csv"):
        base = base.removesuffix(suffix)
    base = re.sub(r"[.\-_]?\d+$", "", base)
    # Synthea bundle sets: hospitalInformation1234.json, practitionerInformation1234.json
    for shared in ("hospitalinformation", "practitionerinformation"):
        if base.startswith(shared):
            return shared
    return base


def _first_line(path: Path) -> bytes:
    with path.open("rb") as raw:
        fh: IO[bytes] = gzip.GzipFile(fileobj=raw) if raw.read(2) == b"\x1f\x8b" else raw  # type: ignore[assignment]
        if fh is raw:
            raw.seek(0)
        try:
            return fh.readline(65536).strip().removeprefix(b"\xef\xbb\xbf")
        except OSError:
            return b""


def export_log(path: Path) -> bool:
    """Whether an NDJSON file is a bulk-export log (events with exportId/eventId, no resources)."""
    try:
        first = json.loads(_first_line(path))
    except (ValueError, OSError):
        return False
    return isinstance(first, dict) and "resourceType" not in first and ("eventId" in first or "exportId" in first)


def classify(path: Path) -> str | None:
    """The format of a file: fhir-ndjson, fhir-json, csv; None for files that carry no records."""
    name = path.name.lower()
    if name.endswith((".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz")):
        return "fhir-ndjson"
    if name.endswith((".json", ".json.gz")):
        return "fhir-json"
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    return None


def discover(paths: list[Path]) -> tuple[list[SourceFile], list[tuple[str, str]]]:
    """Files to ingest, in dependency order, and files skipped with the reason."""
    found: list[SourceFile] = []
    skipped: list[tuple[str, str]] = []
    for given in paths:
        if not given.exists():
            raise FileNotFoundError(f"{given}: no such file or directory")
        files = sorted(p for p in given.rglob("*") if p.is_file()) if given.is_dir() else [given]
        for f in files:
            label = str(f.relative_to(given)) if given.is_dir() else str(given)
            if given.is_dir():
                label = str(Path(given.name) / label)
            fmt = classify(f)
            if fmt is None:
                skipped.append((label, "not a data file (expected .ndjson, .json, .csv, optionally .gz)"))
                continue
            if fmt == "fhir-ndjson" and export_log(f):
                skipped.append((label, "bulk-export log (events with exportId/eventId), not FHIR resources"))
                continue
            found.append(SourceFile(f, label, fmt, _kind_of(f.name)))

    def rank(s: SourceFile) -> tuple[int, str]:
        return (_ORDER.index(s.kind) if s.kind in _ORDER else len(_ORDER), s.label)

    return sorted(found, key=rank), skipped


def sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes (whether a re-ingested file changed)."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_file(src: SourceFile, batch: Batch, refs: References | None = None,
               span: tuple[int, int] | None = None) -> None:
    """Dispatch a file to its parser (``span``: only that byte range of an NDJSON file)."""
    if span is not None and src.format != "fhir-ndjson":
        raise ValueError(f"{src.label}: only NDJSON files are parsed in parts")
    with few_collections():
        _parse(src, batch, refs, span)


def _parse(src: SourceFile, batch: Batch, refs: References | None, span: tuple[int, int] | None) -> None:
    if src.format == "fhir-ndjson":
        from carevalue.ingest.fhir import parse_ndjson
        parse_ndjson(src.path, batch, refs, span)
    elif src.format == "fhir-json":
        from carevalue.ingest.fhir import parse_json
        parse_json(src.path, batch, refs)
    elif src.format == "csv":
        from carevalue.ingest.csv_sources import parse_csv
        parse_csv(src.path, src.kind, batch)
    else:  # pragma: no cover - classify() only yields the formats above
        raise ValueError(f"{src.label}: unknown format {src.format}")
