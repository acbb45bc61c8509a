"""Ingest source files into the store: discover, parse each into a Batch, write it, report."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from carevalue.ingest.batch import Batch
from carevalue.ingest.references import References
from carevalue.ingest.sources import SourceFile, discover
from carevalue.ingest.store import Store

# Tables searched by conditional references: written -> the resolver reloads them.
_IDENTIFIED_TABLES = {"patients", "organizations", "practitioners", "locations"}


@dataclass
class FileReport:
    source: str
    format: str
    read: int
    stored: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"source": self.source, "read": self.read, "stored": self.stored,
                "quarantined": self.quarantined, "reasons": self.reasons}


@dataclass
class IngestReport:
    files: list[FileReport]
    skipped: list[tuple[str, str]]

    def as_json(self) -> dict[str, object]:
        return {"files": [f.as_json() for f in self.files],
                "skipped": [{"source": s, "why": w} for s, w in self.skipped]}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def parse_file(src: SourceFile, batch: Batch, refs: References | None = None) -> None:
    """Dispatch a file to its parser."""
    if src.format == "fhir-ndjson":
        from carevalue.ingest.fhir import parse_ndjson
        parse_ndjson(src.path, batch, refs)
    elif src.format == "fhir-json":
        from carevalue.ingest.fhir import parse_json
        parse_json(src.path, batch, refs)
    elif src.format == "csv":
        from carevalue.ingest.csv_sources import parse_csv
        parse_csv(src.path, src.kind, batch)
    else:  # pragma: no cover - classify() only yields the formats above
        raise ValueError(f"{src.label}: unknown format {src.format}")


def ingest(paths: list[Path], store: Store,
           on_file: Callable[[SourceFile, int, int], None] | None = None) -> IngestReport:
    """Ingest every data file under ``paths``; each file is one transaction."""
    files, skipped = discover(paths)
    reports: list[FileReport] = []
    refs = References(store)
    for i, src in enumerate(files):
        if on_file:
            on_file(src, i, len(files))
        batch = Batch(src.label, src.format, _sha256(src.path))
        parse_file(src, batch, refs)
        lookup = None
        if src.format in ("fhir-ndjson", "fhir-json"):
            from carevalue.ingest.fhir import raw_records

            def lookup(locators: set[str], path: Path = src.path) -> dict[str, str]:
                return raw_records(path, locators)
        counts = store.write_batch(batch, lookup)
        if _IDENTIFIED_TABLES.intersection(batch.tables):
            refs.invalidate()
        reasons = dict(store.con.execute(
            "SELECT reason, count(DISTINCT locator) FROM quarantine WHERE source = ? GROUP BY reason ORDER BY reason",
            [src.label]).fetchall())
        reports.append(FileReport(src.label, src.format, counts["read"], counts["stored"],
                                  counts["quarantined"], {str(k): int(v) for k, v in reasons.items()}))
    return IngestReport(reports, skipped)
