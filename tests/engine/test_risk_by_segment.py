"""Risk scores by primary-care segment: every scored patient counted once, sicker segments score
higher, and the CLI suppresses segments of fewer than 11 patients."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.engine.riskscores.summary import risk_by_segment
from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store
from carevalue.synth import generate
from carevalue.workspace import Workspace


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("risk-seg")
    generate(patients=800, seed=5, out=out / "pop")
    path = out / "s.duckdb"
    with Store(path) as s:
        ingest([out / "pop" / "source"], s)
    Workspace.open(path).run(only=["observation", "segments", "risk-scores"])
    return path


def test_every_scored_patient_lands_in_one_segment(store: Path) -> None:
    with Workspace.open(store) as ws:
        con = ws.con
        summary = risk_by_segment(con).to_pandas().set_index("segment")
        scores = con.table("patient_risk_scores").execute()
    # Everyone is scored (the deceased as of death); those who died before the as-of date leave
    # the segment denominators.
    assert len(scores) == 800
    assert int(summary.patients.sum()) == int((~scores.deceased).sum())
    # Segments are defined by chronic conditions and frailty; HCC scores by diagnoses and age.
    assert summary.loc["chronic", "mean_hcc"] > summary.loc["healthy", "mean_hcc"]
    assert summary.loc["complex", "mean_charlson"] > summary.loc["healthy", "mean_charlson"]


def test_cli_suppresses_small_segments(store: Path) -> None:
    res = CliRunner().invoke(app, ["risk-scores", "--store", str(store), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)   # warnings go to stderr, the JSON document alone to stdout
    # The synthetic population codes most primary-care diagnoses in SNOMED CT with an ICD-10-CM
    # second coding only for some: the healthy segment's coverage is low and the CLI says so.
    assert "warning: fewer than 50% of patients have any ICD-10 diagnosis" in res.stderr
    small = [r for r in rows if r["patients"] == "<11"]
    shown = [r for r in rows if r["patients"] != "<11"]
    # Segments hold only patients observed on the scoring date (observation periods); whoever is
    # not observed then is counted apart, never silently dropped.
    assert any(r["segment"] == "(not observed on that date)" for r in shown)
    assert shown and all(r["patients"] >= 11 and r["mean_hcc"] is not None for r in shown)
    assert all(r["mean_hcc"] is None and r["mean_charlson"] is None for r in small)


@pytest.fixture(scope="module", params=("dbt-synthea-v3.0", "mcode-v2", "unmc-crane-v3.0"))
def synthea(request: pytest.FixtureRequest, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("risk-synthea") / f"{request.param}.duckdb"
    with Store(path) as s:
        ingest([shared_data / "synthea-csv" / request.param], s)
    Workspace.open(path).run(only=["observation", "segments", "risk-scores"])
    return path


def test_snomed_only_synthea_gets_icd10_through_the_crosswalk(synthea: Path) -> None:
    from carevalue.engine.riskscores.crosswalk import from_library
    from carevalue.engine.riskscores.summary import icd10_coverage

    with Workspace.open(synthea) as ws:
        con = ws.con
        rules = ws.library.get("record-rules", "default")
        as_of = con.table("patient_risk_scores").as_of.max().execute().date()
        with_xw = icd10_coverage(con, as_of, rules=rules, crosswalk=from_library(ws.library)).to_pandas()
        without = icd10_coverage(con, as_of, rules=rules, crosswalk=None).to_pandas()
        hccs = con.table("patient_risk_scores").execute()
    # Synthea codes conditions in SNOMED CT only: no patient has an ICD-10 code of their own, so
    # without the crosswalk every segment is flagged as low coverage.
    assert int(without.with_any_icd10.sum()) == 0 and without.low_coverage.all()
    assert int(with_xw.with_own_icd10.sum()) == 0
    assert int(with_xw.with_mapped_icd10_only.sum()) == int(with_xw.with_any_icd10.sum()) > 0
    assert (hccs.hcc_count > 0).any()
    assert (with_xw.patients == without.patients).all()
