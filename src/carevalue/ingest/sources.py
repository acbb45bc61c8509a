"""Which parser reads which file, and in what order files are ingested.

Reference targets (organizations, practitioners, patients) are ingested before the records that
point at them, so that a reference can be checked against what is already stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from carevalue.ingest.batch import Batch

Parser = Callable[[Path, Batch], None]

# Resource types / Synthea file kinds that others refer to come first.
_ORDER = [
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
    for suffix in (".gz", ".ndjson", ".json", ".csv"):
        base = base.removesuffix(suffix)
    return re.sub(r"[.\-_]?\d+$", "", base)


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
            found.append(SourceFile(f, label, fmt, _kind_of(f.name)))

    def rank(s: SourceFile) -> tuple[int, str]:
        return (_ORDER.index(s.kind) if s.kind in _ORDER else len(_ORDER), s.label)

    return sorted(found, key=rank), skipped
