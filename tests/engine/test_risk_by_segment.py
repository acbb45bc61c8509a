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
    Workspace.open(path).run(only=["segments", "risk-scores"])
    return path


def test_every_scored_patient_lands_in_one_segment(store: Path) -> None:
    with Workspace.open(store) as ws:
        con = ws.con
        summary = risk_by_segment(con).to_pandas().set_index("segment")
        scored = con.table("patient_risk_scores").count().execute()
    assert int(summary.patients.sum()) == scored == 800
    # Segments are defined by chronic conditions and frailty; HCC scores by diagnoses and age.
    assert summary.loc["chronic", "mean_hcc"] > summary.loc["healthy", "mean_hcc"]
    assert summary.loc["complex", "mean_charlson"] > summary.loc["healthy", "mean_charlson"]


def test_cli_suppresses_small_segments(store: Path) -> None:
    res = CliRunner().invoke(app, ["risk-scores", "--store", str(store), "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    small = [r for r in rows if r["patients"] == "<11"]
    shown = [r for r in rows if r["patients"] != "<11"]
    assert small, "an 800-patient population has a segment (rare conditions) of fewer than 11"
    assert shown and all(r["patients"] >= 11 and r["mean_hcc"] is not None for r in shown)
    assert all(r["mean_hcc"] is None and r["mean_charlson"] is None for r in small)
