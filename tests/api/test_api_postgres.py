"""The PostgreSQL deployment: users, tokens, the audit log and the PROM inbox in one PostgreSQL
database; a submission and its audit entry commit together; the audit table refuses changes; the
drain stores every accepted response once; a kill -9 of the server mid-load loses none."""

from __future__ import annotations

import asyncio
import importlib.util
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
from api_accounts import PASSWORD, copy_store
from fastapi.testclient import TestClient
from test_api_proms import phq9

from carevalue.api.app import create_app

F = "/api/v1/fhir"


def _bench() -> Any:
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "prom_load.py"
    spec = importlib.util.spec_from_file_location("prom_load", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["prom_load"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture
def pg_app(built_store: Path, fresh_database: str, people: dict[str, Any], tmp_path: Path) -> Any:
    store = copy_store(built_store, tmp_path / "store")
    app = create_app(store, ops=tmp_path / "ops", database=fresh_database, dashboard=False)
    st = app.state.carevalue
    st.users.add("ada", PASSWORD, "admin")
    st.users.add("pat", PASSWORD, "patient", patient_id=people["patient"])
    yield app
    st.workspace.close()


def _token(c: TestClient, user: str) -> dict[str, str]:
    r = c.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def test_users_tokens_audit_and_inbox_live_in_postgres(pg_app, fresh_database, people, tmp_path) -> None:
    import psycopg

    st = pg_app.state.carevalue
    assert st.shared and st.audit_with_inbox and st.users.db.dialect == "postgresql"
    with TestClient(pg_app) as c:
        h = _token(c, "pat")
        r = c.post(f"{F}/QuestionnaireResponse", json=phq9(people["patient"], "pg-1"), headers=h)
        assert r.status_code == 201, r.text
        rid = r.json()["response_id"]
        assert c.post(f"{F}/QuestionnaireResponse", json=phq9(people["patient"], "pg-1"), headers=h).json()["duplicate"]
        assert c.post(f"{F}/QuestionnaireResponse", json=phq9(people["patient"], "pg-1", answer_index=2),
                      headers=h).status_code == 409
    with psycopg.connect(fresh_database) as con:
        assert con.execute("SELECT count(*) FROM prom_inbox WHERE response_id = %s", (rid,)).fetchone() == (1,)
        outcomes = con.execute("SELECT status, outcome FROM audit WHERE detail LIKE %s ORDER BY seq",
                               (f"{rid}%",)).fetchall()
        assert outcomes == [(201, "allowed"), (200, "allowed"), (409, "rejected")]
        assert con.execute("SELECT count(*) FROM tokens").fetchone()[0] >= 1
        assert not (tmp_path / "ops" / "users.sqlite").exists()
        for sql in ("UPDATE audit SET outcome = 'allowed'", "DELETE FROM audit", "TRUNCATE audit"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                con.execute(sql)
            con.rollback()
    # the drain stores it once; draining again stores nothing more
    (batch,) = st.drain()
    assert (batch.responses, batch.quarantined) == (1, 0) and st.drain() == []
    with st.reading() as ws:
        assert ws.con.raw_sql(f"SELECT count(*) FROM questionnaire_answers WHERE response_id = '{rid}'").fetchall() == [(9,)]


def test_a_response_is_kept_only_with_its_audit_entry(pg_app, fresh_database, people) -> None:
    """The one-statement intake: when the audit insert fails, the response is not kept either."""
    import psycopg

    with psycopg.connect(fresh_database, autocommit=True) as con:
        con.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    "IF NEW.action LIKE 'submit PROM%' THEN RAISE EXCEPTION 'audit down'; END IF; RETURN NEW; END $$")
        con.execute("CREATE TRIGGER refuse BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION refuse()")
    with TestClient(pg_app, raise_server_exceptions=False) as c:
        h = _token(c, "pat")
        r = c.post(f"{F}/QuestionnaireResponse", json=phq9(people["patient"], "pg-atomic"), headers=h)
        assert r.status_code == 500
    with psycopg.connect(fresh_database, autocommit=True) as con:
        assert con.execute("SELECT count(*) FROM prom_inbox").fetchone() == (0,)
        con.execute("DROP TRIGGER refuse ON audit")
    with TestClient(pg_app) as c:  # the same submission, audit working again: kept, and audited once
        h = _token(c, "pat")
        r = c.post(f"{F}/QuestionnaireResponse", json=phq9(people["patient"], "pg-atomic"), headers=h)
        assert r.status_code == 201, r.text
    with psycopg.connect(fresh_database) as con:
        assert con.execute("SELECT count(*) FROM prom_inbox").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM audit WHERE action LIKE 'submit PROM%'").fetchone() == (1,)


def test_kill_9_mid_load_loses_no_accepted_submission(built_store, fresh_database, tmp_path) -> None:
    """500 submissions from 10 clients against 2 workers (draining every 0.3 s); the whole server
    gets SIGKILL mid-load. After a restart the clients resend what got no answer; every response
    that was ever accepted is then stored exactly once."""
    bench = _bench()
    store = copy_store(built_store, tmp_path / "store")
    users = bench.add_patient_users(store, fresh_database, bench.patient_ids(store, 10))
    port = bench.free_port()
    base = f"http://127.0.0.1:{port}"
    server = bench.start_server(store, fresh_database, port, workers=2, drain_every=0.3)

    async def load_then_kill() -> Any:
        task = asyncio.create_task(bench.load(base, users, 500, seconds=120, prefix="k"))
        while True:  # kill once a good share has been accepted (and some drains ran)
            await asyncio.sleep(0.05)
            if task.done():
                break
            if len(_kept(fresh_database)) >= 150:
                bench.kill(server, signal.SIGKILL)
                break
        return await task

    first = asyncio.run(load_then_kill())
    bench.kill(server, signal.SIGKILL)
    assert first.accepted and first.unanswered, "the kill should have come mid-load"
    # every response answered 200/201 before the kill is in the inbox
    assert set(first.accepted.values()) <= _kept(fresh_database)
    server = bench.start_server(store, fresh_database, port, workers=2, drain_every=0)
    try:
        retry = asyncio.run(bench.load(base, users, 500, seconds=120, prefix="k"))  # resend all: idempotent
    finally:
        bench.kill(server, signal.SIGTERM)
    assert not retry.unanswered
    assert not set(first.accepted) & retry.fresh  # resent, each was recognised, none kept anew
    accepted = set(first.accepted.values()) | set(retry.accepted.values())
    bench.drain(store, fresh_database)
    counts = bench.stored_counts(store, accepted)
    assert counts and set(counts.values()) == {1}, {k: v for k, v in counts.items() if v != 1}
    assert all(reason for _, _, reason in first.rejected + retry.rejected)


def _kept(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as con:
        return {r[0] for r in con.execute("SELECT response_id FROM prom_inbox").fetchall()}
