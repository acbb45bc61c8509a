"""SNOMED CT -> ICD-10-CM for risk scores: the shipped crosswalk (content) or the official NLM map.

The shipped crosswalk (``content/crosswalks/snomed-icd10cm.csv``) covers the condition codes Synthea
and the synthetic population emit. Users holding a UMLS licence load NLM's rule-based map (RF2
Extended Map, refset 6011000124106) with :func:`load_nlm_map`: per concept and map group the
default target (rule ``TRUE`` / ``OTHERWISE TRUE``) is taken; rules that depend on age, sex or
other findings (``IFA ...``), inactive rows and null targets are skipped and counted.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from carevalue.definitions.loader import CONTENT

SHIPPED = CONTENT / "crosswalks" / "snomed-icd10cm.csv"
NLM_REFSET = "6011000124106"
DEFAULT_RULES = ("TRUE", "OTHERWISE TRUE", "")
SCHEMA = pa.schema([("snomed_code", pa.string()), ("icd10", pa.string()), ("map_group", pa.int64()),
                    ("needs_review", pa.bool_())])


def _norm(code: str) -> str:
    return code.strip().upper().replace(".", "")


@lru_cache(maxsize=2)
def shipped(include_needs_review: bool = True) -> pa.Table:
    """The shipped crosswalk's targets: snomed_code, icd10 (dot-free), map_group, needs_review."""
    rows: dict[str, list[object]] = {n: [] for n in SCHEMA.names}
    with SHIPPED.open(encoding="utf-8", newline="") as fh:
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


def crosswalk_table(source: pa.Table | None = None) -> ir.Table:
    """The crosswalk as an Ibis table (snomed_code, icd10), the shipped one unless given."""
    t = ibis.memtable(source if source is not None else shipped())
    return t.select("snomed_code", "icd10").distinct()
