"""Case-mix variables are a typed union: a typo is rejected with file, field and allowed values, and
the engine computes each kind from the typed fields."""

from __future__ import annotations

import copy
from datetime import datetime
from pathlib import Path

import ibis
import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.definitions.casemix import CASE_MIX_KINDS, Observation, PromScore, RiskScore
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.loader import CONTENT, load
from carevalue.engine import casemix_frame

HIP = yaml.safe_load((CONTENT / "conditions" / "hip-osteoarthritis.yaml").read_text())
KINDS = ", ".join(CASE_MIX_KINDS)


def _hip_with(index: int, **changes: object) -> dict:
    data = copy.deepcopy(HIP)
    data["case_mix"][index].update(changes)
    return data


@pytest.mark.parametrize(("index", "change", "expected"), [
    (2, {"kind": "observaton"}, f"case_mix.2.kind: unknown kind 'observaton'; allowed: {KINDS}"),
    (2, {"system": "LOINK"}, "case_mix.2.observation.system: unknown code system 'LOINK'; known: SNOMED CT, "),
    (6, {"instrument": "hoos"}, "case_mix.6.instrument: unknown instrument 'hoos'; allowed (the template's "
                                "instruments): ['hoos-ps', 'promis-global-10']"),
    (6, {"time_point": "basline"}, "case_mix.6.time_point: unknown time point 'basline' for hoos-ps; allowed: "
                                   "['1 year', '6 months', 'baseline']"),
    (4, {"code_set": "comorbidity"}, "case_mix.4.code_set: unknown code set 'comorbidity'; allowed: "),
    (0, {"field": "agee"}, "case_mix.0.demographic.field: Input should be 'age', 'sex'"),
    (2, {"colour": "red"}, "case_mix.2.observation.colour: unknown field; allowed fields here: id, title, kind, "
                           "system, code"),
])
def test_a_case_mix_typo_is_rejected_by_definitions_validate(tmp_path: Path, index: int,
                                                             change: dict, expected: str) -> None:
    (tmp_path / "conditions").mkdir()
    path = tmp_path / "conditions" / "hip-osteoarthritis.yaml"
    path.write_text(yaml.safe_dump(_hip_with(index, **change)))
    res = CliRunner().invoke(app, ["definitions", "validate", "--content", str(tmp_path), "--json"])
    assert res.exit_code == 1
    errors = load(tmp_path, strict=False).errors
    assert len(errors) == 1 and errors[0].startswith(f"{path}: {expected}"), errors
    assert str(path) in res.output


def test_packaged_case_mix_is_typed() -> None:
    tpl = load().get("conditions", "hip-osteoarthritis")
    by_id = {v.id: v for v in tpl.case_mix}
    assert by_id["bmi"] == Observation(id="bmi", title="Body mass index", kind="observation",
                                       system="LOINC", code="39156-5")
    assert isinstance(by_id["baseline-function"], PromScore)
    assert by_id["baseline-function"].is_prom_at("hoos-ps", "baseline")
    assert not by_id["baseline-function"].is_prom_at("hoos-ps", "1 year")
    assert by_id["asa-class"].system == "carevalue case-mix"  # written as a name, matched on its URI too


def _base(con: ibis.BaseBackend) -> ibis.Table:
    return ibis.memtable(pd.DataFrame({
        "cycle_id": ["c1", "c2", "c3"], "condition": ["hip-osteoarthritis"] * 3,
        "patient_id": ["p1", "p2", "p3"], "anchor_ts": [datetime(2024, 1, 10)] * 3}))


def test_risk_score_variable_reads_the_risk_scores_table() -> None:
    """Charlson 3 for p1 and 0 for p2, none for p3 (not scored): two rows, nothing invented."""
    con = ibis.duckdb.connect()
    tpl = ConditionTemplate.model_validate(HIP)
    var = RiskScore(id="charlson", title="Charlson index", kind="risk-score", score="charlson")
    assert casemix_frame.variable_table(con, tpl, _base(con), var) is None  # the stage has not run
    con.create_table("patient_charlson", pd.DataFrame({"patient_id": ["p1", "p2"], "score": [3, 0]}))
    rows = casemix_frame.variable_table(con, tpl, _base(con), var).to_pandas().sort_values("cycle_id")
    assert list(rows.cycle_id) == ["c1", "c2"] and list(rows.value_num) == [3.0, 0.0]
    assert set(rows.variable) == {"charlson"} and rows.value_text.isna().all()


def test_observation_system_matches_every_spelling() -> None:
    """The observation written with the URI, the name, or no system at all is found; another system is not."""
    con = ibis.duckdb.connect()
    con.create_table("observations", pd.DataFrame({
        "patient_id": ["p1", "p2", "p3"], "code": ["39156-5"] * 3,
        "code_system": ["http://loinc.org", None, "http://snomed.info/sct"],
        "effective_ts": [datetime(2024, 1, 1)] * 3, "value_num": [31.5, 24.0, 40.0], "value_code": pd.Series([None] * 3, dtype="string")}))
    tpl = ConditionTemplate.model_validate(HIP)
    var = Observation(id="bmi", title="BMI", kind="observation", system="http://loinc.org", code="39156-5")
    rows = casemix_frame.variable_table(con, tpl, _base(con), var).to_pandas().sort_values("cycle_id")
    assert list(rows.cycle_id) == ["c1", "c2"] and list(rows.value_num) == [31.5, 24.0]
