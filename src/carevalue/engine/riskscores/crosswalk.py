"""SNOMED CT -> ICD-10-CM for risk scores and value sets: the library's crosswalks or the NLM map.

The crosswalks come from the definitions library (``crosswalks`` kind: the packaged
``snomed-icd10cm`` covers the condition codes Synthea and the synthetic population emit; a user's
content folder may override it or add another). Users holding a UMLS licence load NLM's rule-based
map (RF2 Extended Map, refset 6011000124106) with :func:`load_nlm_map`: per concept and map group
the default target (rule ``TRUE`` / ``OTHERWISE TRUE``) is taken; rules that depend on age, sex or
other findings (``IFA ...``), inactive rows and null targets are skipped and counted.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from carevalue.definitions.crosswalk import Crosswalk
from carevalue.definitions.loader import Library
from carevalue.engine.codesets import CodeMap

NLM_REFSET = "6011000124106"
DEFAULT_RULES = ("TRUE", "OTHERWISE TRUE", "")
SCHEMA = pa.schema([("snomed_code", pa.string()), ("icd10", pa.string()), ("map_group", pa.int64()),
                    ("needs_review", pa.bool_())])


def _norm(code: str) -> str:
    return code.strip().upper().replace(".", "")


def read_csv(path: Path | str, include_needs_review: bool = True) -> pa.Table:
    """A crosswalk CSV's targets: snomed_code, icd10 (dot-free), map_group, needs_review."""
    rows: dict[str, list[object]] = {n: [] for n in SCHEMA.names}
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            review = r["needs_review"].strip().lower() == "true"
            if not r["icd10cm_code"].strip() or (review and not include_needs_review):
                continue
            rows["snomed_code"].append(r["snomed_code"].strip())
            rows["icd10"].append(_norm(r["icd10cm_code"]))
            rows["map_group"].append(int(r["map_group"]))
            rows["needs_review"].append(review)
    return pa.table(rows, schema=SCHEMA)


@dataclass
class NlmMap:
    """The default targets of an NLM map file and what was left out, counted."""

    table: pa.Table
    rows_read: int = 0
    concepts_mapped: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        parts = ", ".join(f"{n:,} {why}" for why, n in sorted(self.skipped.items()) if n)
        return (f"{self.rows_read:,} map rows read; {self.concepts_mapped:,} SNOMED CT concepts mapped to a "
                f"default ICD-10-CM target; skipped: {parts or 'nothing'}")


def load_nlm_map(path: Path | str) -> NlmMap:
    """Read an NLM SNOMED CT to ICD-10-CM Extended Map file (RF2, tab-separated, with header).

    Per (referencedComponentId, mapGroup) of active rows, the target of the first default rule by
    mapPriority. Skipped and counted: inactive rows, rows of another refset, conditional rules
    (``IFA`` age/sex/finding tests a batch cannot evaluate), and groups whose default target is
    empty (NLM's "cannot be classified" or "not a diagnosis" maps).
    """
    skipped = {"inactive rows": 0, "rows of another refset": 0, "conditional-rule rows": 0,
               "map groups without a default target": 0}
    best: dict[tuple[str, int], tuple[int, str]] = {}
    groups: set[tuple[str, int]] = set()
    read = 0
    with Path(path).open(encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh, delimiter="\t"):
            read += 1
            if r["active"].strip() != "1":
                skipped["inactive rows"] += 1
                continue
            if r.get("refsetId", NLM_REFSET).strip() != NLM_REFSET:
                skipped["rows of another refset"] += 1
                continue
            key = (r["referencedComponentId"].strip(), int(r["mapGroup"]))
            groups.add(key)
            if r["mapRule"].strip().upper() not in DEFAULT_RULES:
                skipped["conditional-rule rows"] += 1
                continue
            prio = int(r["mapPriority"])
            if key not in best or prio < best[key][0]:
                best[key] = (prio, r["mapTarget"].strip())
    targets = {k: t for k, (_, t) in best.items() if t}
    skipped["map groups without a default target"] = len(groups) - len(targets)
    keys = sorted(targets)
    table = pa.table({"snomed_code": [k[0] for k in keys], "icd10": [_norm(targets[k]) for k in keys],
                      "map_group": [k[1] for k in keys], "needs_review": [False] * len(keys)}, schema=SCHEMA)
    return NlmMap(table, read, len({k[0] for k in keys}), skipped)


def csv_path(library: Library, xw: Crosswalk) -> Path:
    """The CSV file of a crosswalk definition (beside the YAML it was read from)."""
    return library.file_of("crosswalks", xw.id).parent / xw.file


def from_library(library: Library, include_needs_review: bool = True) -> pa.Table | None:
    """The library's SNOMED CT -> ICD-10-CM targets, None when it has no such crosswalk. When
    several crosswalks map one SNOMED CT code, the one loaded last (a user's content folder) wins."""
    found: dict[str, list[dict[str, object]]] = {}
    for xw in library.kind("crosswalks").values():
        if (xw.source_system, xw.target_system) != ("SNOMED CT", "ICD-10-CM"):
            continue
        mine: dict[str, list[dict[str, object]]] = {}
        for r in read_csv(csv_path(library, xw), include_needs_review).to_pylist():
            mine.setdefault(str(r["snomed_code"]), []).append(r)
        found.update(mine)
    if not found:
        return None
    rows = [r for code in sorted(found) for r in found[code]]
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def code_map(source: pa.Table | None) -> CodeMap | None:
    """The crosswalk as a :class:`CodeMap` for value-set matching (None stays None)."""
    if source is None:
        return None
    return CodeMap.of(zip(source.column("snomed_code").to_pylist(), source.column("icd10").to_pylist(),
                          strict=True))


def crosswalk_table(source: pa.Table) -> ir.Table:
    """The crosswalk as an Ibis table (snomed_code, icd10)."""
    return ibis.memtable(source).select("snomed_code", "icd10").distinct()
