"""`carevalue users add|list` write the user store beside the store; `serve` is registered."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from carevalue.cli import app


def test_users_add_and_list(tmp_path) -> None:
    run = CliRunner()
    store = tmp_path / "s.duckdb"
    r = run.invoke(app, ["users", "add", "doc", "--role", "clinician", "--ipu", "ipu-hip", "--store", str(store)],
                   env={"CAREVALUE_PASSWORD": "correct horse battery"})
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s.duckdb.ops" / "users.sqlite").exists()
    r = run.invoke(app, ["users", "add", "pat", "--role", "patient", "--store", str(store)],
                   env={"CAREVALUE_PASSWORD": "correct horse battery"})
    assert r.exit_code == 2 and "patient-id" in r.output
    r = run.invoke(app, ["users", "add", "x", "--role", "boss", "--store", str(store)],
                   env={"CAREVALUE_PASSWORD": "correct horse battery"})
    assert r.exit_code == 2 and "unknown role" in r.output
    r = run.invoke(app, ["users", "list", "--store", str(store), "--json"])
    assert r.exit_code == 0
    assert json.loads(r.output) == [{"username": "doc", "role": "clinician", "patient_id": None, "ipu_ids": "ipu-hip"}]


def test_serve_is_a_command() -> None:
    r = CliRunner().invoke(app, ["serve", "--help"])
    assert r.exit_code == 0 and "--store" in r.output
