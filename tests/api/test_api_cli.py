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


def test_several_workers_need_postgres(tmp_path) -> None:
    store = tmp_path / "s.duckdb"
    store.touch()
    r = CliRunner().invoke(app, ["serve", "--store", str(store), "--workers", "2"], env={"CAREVALUE_DATABASE_URL": ""})
    assert r.exit_code == 2 and "PostgreSQL" in r.output


def test_proms_drain_ingests_the_waiting_responses(built_store, people, tmp_path) -> None:
    from api_accounts import copy_store
    from test_api_proms import phq9

    from carevalue.api.app import create_app

    store = copy_store(built_store, tmp_path / "store")
    st = create_app(store, dashboard=False).state.carevalue
    with st.prom_inbox.db.connect() as con:
        st.prom_inbox.put(con, "prom-cli-1", phq9(people["patient"], "cli-1"), patient_id=people["patient"],
                          instrument="phq-9", scores={})
    st.workspace.close()
    r = CliRunner().invoke(app, ["proms", "drain", "--store", str(store), "--json"], env={"CAREVALUE_DATABASE_URL": ""})
    assert r.exit_code == 0, r.output
    (batch,) = json.loads(r.output)
    assert (batch["responses"], batch["stored"], batch["quarantined"]) == (1, 1, 0)
    assert st.prom_inbox.counts() == {"accepted": 1, "drained": 1, "waiting": 0}
