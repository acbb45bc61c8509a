"""`carevalue ingest`: per-file table, --json rows and the --report-json format."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from typer.testing import CliRunner

from carevalue.cli import app

PATIENT = {"resourceType": "Patient", "id": "p1", "gender": "female"}
COND = {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "44054006"}]}}


def _data(tmp_path: Path) -> Path:
    d = tmp_path / "export"
    d.mkdir()
    (d / "Patient.000.ndjson").write_bytes(orjson.dumps(PATIENT) + b"\n")
    (d / "Condition.000.ndjson").write_bytes(
        orjson.dumps(COND) + b"\n" + b"{broken\n" + orjson.dumps(COND | {"id": "c2", "onsetDateTime": "yesterday"}) + b"\n")
    (d / "log.ndjson").write_text('{"exportId": "x", "eventId": "kickoff"}\n')
    return d


def test_report_json_format_and_table(tmp_path: Path) -> None:
    d = _data(tmp_path)
    report = tmp_path / "report.json"
    res = CliRunner().invoke(app, ["ingest", str(d), "--store", str(tmp_path / "s.duckdb"), "--report-json", str(report)])
    assert res.exit_code == 0, res.output
    assert "total: read 4  stored 2  quarantined 2" in res.output and "skipped" in res.output
    doc = json.loads(report.read_text())
    files = {f["source"]: f for f in doc["files"]}
    assert set(files["export/Condition.000.ndjson"]) == {"source", "read", "stored", "quarantined", "reasons"}
    assert files["export/Condition.000.ndjson"] == {
        "source": "export/Condition.000.ndjson", "read": 3, "stored": 1, "quarantined": 2,
        "reasons": {"malformed JSON": 1, "unparseable date": 1}}
    assert files["export/Patient.000.ndjson"]["stored"] == 1
    assert [s["source"] for s in doc["skipped"]] == ["export/log.ndjson"]


def test_json_rows_and_rerun_same_counts(tmp_path: Path) -> None:
    d = _data(tmp_path)
    args = ["ingest", str(d), "--store", str(tmp_path / "s.duckdb"), "--json"]
    first = json.loads(CliRunner().invoke(app, args).stdout)
    second = json.loads(CliRunner().invoke(app, args).stdout)
    assert first == second
    assert {r["source"]: r["quarantined"] for r in first} == {"export/Patient.000.ndjson": 0, "export/Condition.000.ndjson": 2}


def test_missing_path_exits_2(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["ingest", str(tmp_path / "nope"), "--store", str(tmp_path / "s.duckdb")])
    assert res.exit_code == 2
