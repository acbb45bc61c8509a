"""--json is one strictly valid JSON document for every command, and the same rows as the façade."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from small_store import copy_store
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.workspace import Workspace


def _no_nan(token: str) -> Any:
    raise AssertionError(f"non-standard JSON constant {token} in --json output")


def strict(text: str) -> Any:
    """Parse exactly one JSON document (NaN/Infinity refused, nothing before or after it)."""
    return json.loads(text, parse_constant=_no_nan)


def cli_json(args: list[str]) -> Any:
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, (res.stdout, res.stderr)
    return strict(res.stdout)


def _patient_with_cycles(store: Path) -> str:
    with Workspace.open(store) as ws:
        t = ws.con.table("care_cycles")
        return str(t.order_by("patient_id").patient_id.execute().iloc[0])


def test_same_rows_through_cli_and_facade(store: Path) -> None:
    patient = _patient_with_cycles(store)
    s = str(store)
    with Workspace.open(store) as ws:
        cases = {
            ("segments", "--store", s): ws.segments(),
            ("segments", "--store", s, "--on", "2024-06-30"): ws.segments("2024-06-30"),
            ("risk-scores", "--store", s): ws.risk_scores(),
            ("cycles", "--patient", patient, "--store", s): ws.cycles(patient),
            ("runs", "--store", s): ws.runs(),
        }
        from carevalue.queries import catalog

        for kind in catalog.QUERIES:
            cases[("list", kind, "--store", s)] = ws.ask(catalog.QUERIES[kind])
    for args, rows in cases.items():
        assert cli_json(list(args)) == json.loads(json.dumps(rows)), args
    assert cases[("cycles", "--patient", patient, "--store", s)][0]["events"], "a timeline has its events"


def test_every_command_json_is_one_document(store: Path, tmp_path: Path) -> None:
    """Commands beyond the read-outs: run, ingest, synth, definitions validate and list without a store."""
    own = copy_store(tmp_path)
    run = cli_json(["run", "--store", str(own), "--only", "segments"])
    assert run["status"] == "published" and [s["name"] for s in run["stages"]] == ["segments"]
    assert run["stages"][0]["rows"]["segments"] > 0
    pop = tmp_path / "pop"
    synth = cli_json(["synth", "--patients", "3", "--seed", "1", "--out", str(pop), "--workers", "1"])
    assert {r["file"] for r in synth} and all(isinstance(r["records"], int) for r in synth)
    ingest = cli_json(["ingest", str(pop / "source"), "--store", str(tmp_path / "new.duckdb")])
    assert all(r["read"] == r["stored"] + r["quarantined"] for r in ingest)
    assert isinstance(cli_json(["definitions", "validate"]), list)
    conditions = cli_json(["list", "conditions", "--store", str(tmp_path / "none.duckdb")])
    assert {"condition", "name"} <= set(conditions[0])
    assert cli_json(["list", "measures", "--condition", "hip-osteoarthritis"])


@pytest.mark.parametrize("args", [["segments", "--on", "2024-02-30"], ["cycles", "--patient", "nobody"]])
def test_errors_with_json_are_one_document_too(store: Path, args: list[str]) -> None:
    res = CliRunner().invoke(app, [*args, "--store", str(store), "--json"])
    assert res.exit_code != 0
    doc = strict(res.stdout)
    assert set(doc) == {"error", "exit_code"} and doc["exit_code"] == res.exit_code
