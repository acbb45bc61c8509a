"""Ingest source files into the store: discover, parse each into a Batch, write it, report."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from carevalue.definitions.plausibility_rule import PlausibilityRules
from carevalue.ingest.batch import Batch
from carevalue.ingest.references import References
from carevalue.ingest.sources import SourceFile, discover, parse_file, sha256
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
    # Plausibility violations in the whole store after this ingest: "reason (action)" -> records.
    implausible: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, object]:
        return {"files": [f.as_json() for f in self.files],
                "skipped": [{"source": s, "why": w} for s, w in self.skipped],
                "implausible": self.implausible}

    def lines(self) -> list[str]:
        """The plausibility summary, one line per reason (empty when everything is plausible)."""
        return [f"{n:,} record(s): {why}" for why, n in self.implausible.items()]


class PlausibilityQuery:
    """The plausibility query of one ingest (content/plausibility-rules/default unless ``rules``),
    compiled once; an ingest compiles it while worker processes parse, not after the last file."""

    def __init__(self, rules: PlausibilityRules | None = None, as_of: date | None = None) -> None:
        self.rules, self.as_of = rules, as_of
        self.sql: str | None = None

    def prepare(self) -> None:
        from carevalue.ingest.plausibility import violations_sql

        if self.rules is None:
            from carevalue.definitions.loader import CONTENT, load
            self.rules = load(CONTENT / "plausibility-rules", packaged=False).get("plausibility-rules", "default")
        self.sql = violations_sql(self.rules, self.as_of)

    def prepare_ahead(self) -> None:
        """:meth:`prepare` while files are still being written: a failure here (say, broken rules
        content) must not stop the ingest between files, so it is left for :meth:`__call__` to
        raise, after the last file, as an ingest always did."""
        try:
            self.prepare()
        except Exception:  # noqa: BLE001 - raised again by __call__, which prepares once more
            self.sql = None

    def __call__(self, store: Store) -> dict[str, int]:
        """Re-derive ``plausibility_flags`` over the whole store; returns the violations per reason."""
        from carevalue.ingest.plausibility import flag

        if self.sql is None:
            self.prepare()
        assert self.rules is not None and self.sql is not None
        return flag(store.con, self.sql, self.rules)


def check_plausibility(store: Store, rules: PlausibilityRules | None = None,
                       as_of: date | None = None) -> dict[str, int]:
    """Re-derive ``plausibility_flags`` over the whole store (content/plausibility-rules/default
    unless ``rules``); returns the violations per reason."""
    return PlausibilityQuery(rules, as_of)(store)


def _write(src: SourceFile, batch: Batch, store: Store) -> FileReport:
    """Write one parsed file (one transaction) and report it."""
    lookup = None
    if src.format in ("fhir-ndjson", "fhir-json"):
        from carevalue.ingest.fhir import raw_records

        def lookup(locators: set[str], path: Path = src.path) -> dict[str, str]:
            return raw_records(path, locators)
    counts = store.write_batch(batch, lookup)
    reasons = dict(store.con.execute(
        "SELECT reason, count(DISTINCT locator) FROM quarantine WHERE source = ? GROUP BY reason ORDER BY reason",
        [src.label]).fetchall())
    return FileReport(src.label, src.format, counts["read"], counts["stored"], counts["quarantined"],
                      {str(k): int(v) for k, v in reasons.items()})


def ingest(paths: list[Path], store: Store,
           on_file: Callable[[SourceFile, int, int], None] | None = None,
           plausibility: PlausibilityRules | None = None, workers: int | None = None) -> IngestReport:
    """Ingest every data file under ``paths``; each file is one transaction. Then the plausibility
    rules are checked over the whole store (flags, never deletions).

    Files are parsed in ``workers`` processes side by side (default: ``CAREVALUE_INGEST_WORKERS``,
    else one per core when there are 8 MiB of input or more) and written in order; the store is the same as with
    ``workers=1``, which parses each file in this process just before writing it.
    """
    from carevalue.ingest import file_parts, parallel

    files, skipped = discover(paths)
    reports: list[FileReport] = []
    if workers is None:
        workers = parallel.default_workers()
        small = sum(f.path.stat().st_size for f in files) < parallel.PARALLEL_MIN_BYTES
        if small and not os.environ.get("CAREVALUE_INGEST_WORKERS"):
            workers = 1
    plausible = PlausibilityQuery(plausibility)
    if workers > 1 and (len(files) > 1 or (files and len(file_parts.spans(files[0], workers)) > 1)):
        for i, (src, batch) in enumerate(parallel.parsed_in_order(files, store, workers, plausible.prepare_ahead)):
            if on_file:
                on_file(src, i, len(files))
            reports.append(_write(src, batch, store))
    else:
        refs = References(store)
        for i, src in enumerate(files):
            if on_file:
                on_file(src, i, len(files))
            batch = Batch(src.label, src.format, sha256(src.path))
            parse_file(src, batch, refs)
            reports.append(_write(src, batch, store))
            if _IDENTIFIED_TABLES.intersection(batch.tables):
                refs.invalidate()
    implausible = plausible(store) if files else {}
    return IngestReport(reports, skipped, implausible)
