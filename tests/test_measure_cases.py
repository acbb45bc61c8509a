"""YAML measure cases: given a few FHIR resources, the stages produce the expected rows.

A content author adds a case without Python: a file in tests/cases/ with ``given`` (test-bed
resources, one line each), ``run`` (stages) and ``expect`` (per table: rows selected by ``where``,
how many, and the values they must have). See tests/cases/README.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from fhir_bed import FhirBed

CASES = sorted((Path(__file__).parent / "cases").glob("*.yaml"))
POSITIONAL = {"patient": (), "encounter": ("patient", "on"), "condition": ("patient", "code", "on"),
              "procedure": ("patient", "code", "on"), "observation": ("patient", "code", "on"),
              "organization": ("id",)}


def _build(bed: FhirBed, given: list[dict[str, Any]]) -> None:
    for item in given:
        ((kind, fields),) = item.items()
        rename = {"id": "id_", "date": "on"}
        fields = {rename.get(k, k): (str(v) if k in ("date", "born", "died") else v)
                  for k, v in fields.items()}
        args = [fields.pop("id_" if p == "id" else p) for p in POSITIONAL[kind]]
        getattr(bed, kind)(*args, **fields)


def _close(a: Any, b: Any) -> bool:
    if isinstance(b, float | int) and not isinstance(b, bool) and isinstance(a, float | int):
        return abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(b)))
    return bool(a == b)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_measure_case(path: Path, tmp_path: Path) -> None:
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    bed = FhirBed(tmp_path)
    _build(bed, case["given"])
    bed.run(case.get("run"), [path.parent / c for c in case.get("content", [])])
    for table, checks in case["expect"].items():
        for check in checks:
            rows = bed.rows(table, **check.get("where", {}))
            if "rows" in check:
                assert len(rows) == check["rows"], (path.name, table, check, rows)
            for row in rows:
                for col, want in check.get("values", {}).items():
                    assert _close(row[col], want), (path.name, table, check["where"], col, row[col], want)
