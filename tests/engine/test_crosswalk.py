"""SNOMED CT -> ICD-10-CM (issue 10.6): the shipped crosswalk covers every condition code of the
Synthea samples and of the synthetic population, each row carries source/confidence/review flags,
and the NLM map loader takes the default target and counts what it skipped."""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest

from carevalue.definitions.crosswalk import CONFIDENCE, CROSSWALK_COLUMNS
from carevalue.definitions.loader import load
from carevalue.engine.riskscores.crosswalk import csv_path, load_nlm_map, read_csv
from carevalue.synth.codes import COMORBIDITIES, COMPLICATIONS, CONDITIONS

FIXTURE = Path(__file__).parent / "fixtures" / "nlm-extended-map-tiny.txt"
LIB = load()
SHIPPED = csv_path(LIB, LIB.get("crosswalks", "snomed-icd10cm"))


def _rows() -> list[dict[str, str]]:
    with SHIPPED.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_shipped_crosswalk_is_described_content() -> None:
    xw = load().get("crosswalks", "snomed-icd10cm")
    assert xw.source_system == "SNOMED CT" and xw.target_system == "ICD-10-CM" and xw.source
    rows = _rows()
    assert tuple(rows[0]) == CROSSWALK_COLUMNS
    assert len({(r["snomed_code"], r["map_group"]) for r in rows}) == len(rows)
    for r in rows:
        assert r["confidence"] in CONFIDENCE and r["needs_review"] in ("true", "false")
        assert (r["confidence"] == "none") == (r["icd10cm_code"] == ""), r   # no target <=> said so
        assert r["snomed_display"] and r["origin"]


def test_covers_every_condition_code_of_synthea_samples_and_synth(shared_data: Path) -> None:
    codes = set()
    for f in (shared_data / "synthea-csv").glob("*/conditions.csv"):
        codes |= set(pd.read_csv(f, dtype=str).CODE)
    codes |= {v[0] for d in (CONDITIONS, COMORBIDITIES, COMPLICATIONS) for v in d.values()}
    covered = {r["snomed_code"] for r in _rows()}
    assert codes - covered == set()


def test_synth_pairings_agree_with_crosswalk_up_to_laterality() -> None:
    targets = {r["snomed_code"]: r["icd10cm_code"] for r in _rows() if r["map_group"] == "1"}
    for snomed, _, icd, _ in (*CONDITIONS.values(), *COMORBIDITIES.values()):
        assert targets[snomed][:3] == icd[:3], (snomed, targets[snomed], icd)


def test_needs_review_rows_can_be_left_out() -> None:
    assert read_csv(SHIPPED, include_needs_review=True).num_rows > 0
    assert read_csv(SHIPPED, include_needs_review=False).num_rows == sum(
        1 for r in _rows() if r["icd10cm_code"] and r["needs_review"] == "false")


def test_nlm_map_takes_default_targets_and_counts_skips() -> None:
    m = load_nlm_map(FIXTURE)
    got = {(r["snomed_code"], r["map_group"]): r["icd10"] for r in m.table.to_pylist()}
    assert got == {
        ("44054006", 1): "E119",
        ("76571007", 1): "A419", ("76571007", 2): "R6521",   # two map groups: both codes
        ("254837009", 1): "C50919",                           # IFA male rule skipped, OTHERWISE TRUE taken
        ("84114007", 1): "I509",                              # the inactive I50.0 row is ignored
    }
    assert m.rows_read == 9 and m.concepts_mapped == 4
    assert m.skipped == {"inactive rows": 1, "rows of another refset": 0, "conditional-rule rows": 2,
                         # 314529007 (null target) and 195967001 (only a conditional rule)
                         "map groups without a default target": 2}
    assert "4 SNOMED CT concepts" in m.summary()


@pytest.mark.parametrize("rule", ["TRUE", "OTHERWISE TRUE"])
def test_nlm_default_rules(tmp_path: Path, rule: str) -> None:
    header = FIXTURE.read_text().splitlines()[0]
    row = "\t".join(["x", "20230901", "1", "m", "6011000124106", "1", "1", "1", rule, "", "G43.909", "c", "k"])
    f = tmp_path / "map.txt"
    f.write_text(header + "\n" + row + "\n")
    assert load_nlm_map(f).table.to_pylist() == [
        {"snomed_code": "1", "icd10": "G43909", "map_group": 1, "needs_review": False}]
