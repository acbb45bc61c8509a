"""Each role sees exactly what it may; every patient-level read (and every denial) is audited."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from fastapi.testclient import TestClient

from carevalue.queries.privacy import MARK

V1 = "/api/v1"


def audit_rows(client: TestClient, **where: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = client.app.state.carevalue.audit.entries(limit=100_000)  # type: ignore[attr-defined]
    return [r for r in rows if all(r[k] == v for k, v in where.items())]


def test_a_patient_reads_their_own_record_and_the_read_is_audited(client, as_, people, sql) -> None:
    r = client.get(f"{V1}/patients/{people['patient']}", headers=as_("pat"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["patient"]["patient_id"] == people["patient"]
    theirs = {r[0] for r in sql(f"SELECT cycle_id FROM care_cycles WHERE patient_id = '{people['patient']}'")}
    assert theirs and {c["cycle_id"] for c in body["cycles"]} == theirs
    assert all(s["patient_id"] == people["patient"] for s in body["prom_scores"])
    assert audit_rows(client, username="pat", patient_id=people["patient"], action="read record",
                      outcome="allowed")
    # ?patient_id is optional for a patient: their own cycles
    mine = client.get(f"{V1}/cycles", headers=as_("pat")).json()
    assert {c["cycle_id"] for c in mine["items"]} == theirs


def test_a_patient_asking_for_another_patient_gets_403_and_the_attempt_is_audited(client, as_, people) -> None:
    for url in (f"{V1}/patients/{people['neighbour']}", f"{V1}/cycles?patient_id={people['neighbour']}"):
        r = client.get(url, headers=as_("pat"))
        assert r.status_code == 403
        assert r.headers["content-type"] == "application/problem+json"
        assert "only their own record" in r.json()["detail"]
    denied = audit_rows(client, username="pat", patient_id=people["neighbour"], outcome="denied")
    assert {d["action"] for d in denied} == {"read record", "read cycles"}
    assert all(d["role"] == "patient" and d["status"] == 403 and d["remote"] for d in denied)


def test_a_clinician_sees_the_patients_of_their_ipu_only(client, as_, people) -> None:
    assert client.get(f"{V1}/patients/{people['patient']}", headers=as_("doc")).status_code == 200
    r = client.get(f"{V1}/patients/{people['outsider']}", headers=as_("doc"))
    assert r.status_code == 403 and "IPU" in r.json()["detail"]
    assert audit_rows(client, username="doc", patient_id=people["outsider"], outcome="denied")


@pytest.mark.parametrize("user", ["ana", "pay", "emp"])
def test_analysts_payers_and_employers_get_no_patient_level_data(client, as_, people, user) -> None:
    r = client.get(f"{V1}/patients/{people['patient']}", headers=as_(user))
    assert r.status_code == 403
    assert audit_rows(client, username=user, patient_id=people["patient"], outcome="denied")


@pytest.mark.parametrize("path", ["costs", "value", "outcomes", "payment"])
@pytest.mark.parametrize("user", ["ana", "pay", "emp", "doc", "ada"])
def test_aggregates_never_show_a_cell_under_11_nor_a_patient_id(client, as_, user, path) -> None:
    r = client.get(f"{V1}/{path}?limit=1000", headers=as_(user))
    assert r.status_code == 200, r.text
    rows = r.json()["items"]
    assert rows, f"{path}: the synthetic store should have rows"
    for row in rows:
        assert "patient_id" not in row and "cycle_id" not in row
        for col in ("patients", "outcome_patients", "cost_patients"):
            v = row.get(col)
            assert v is None or v == MARK or v == 0 or v >= 11, (path, col, row)
        if row.get("suppressed"):
            assert any(row.get(c) == MARK for c in ("patients", "outcome_patients", "cost_patients", "n"))
    assert any(r["suppressed"] is False for r in rows)


def test_a_patient_gets_no_aggregates(client, as_) -> None:
    r = client.get(f"{V1}/costs", headers=as_("pat"))
    assert r.status_code == 403 and r.json()["title"] == "Forbidden"


def test_runs_for_admins_and_analysts_audit_for_admins_only(client, as_) -> None:
    runs = client.get(f"{V1}/runs", headers=as_("ana")).json()["items"]
    assert runs and runs[-1]["status"] == "published"
    assert client.get(f"{V1}/audit", headers=as_("ana")).status_code == 403
    log = client.get(f"{V1}/audit?limit=5", headers=as_("ada")).json()
    assert log["total"] >= 5 and [e["seq"] for e in log["items"]] == sorted(e["seq"] for e in log["items"])


def test_no_api_route_alters_the_audit_log_and_the_file_refuses_to(client, as_) -> None:
    for method in ("put", "patch", "delete", "post"):
        r = getattr(client, method)(f"{V1}/audit", headers=as_("ada"))
        assert r.status_code == 405 and r.headers["content-type"] == "application/problem+json"
    path = client.app.state.carevalue.audit.db.path  # type: ignore[attr-defined]
    con = sqlite3.connect(path)
    for sql in ("UPDATE audit SET outcome = 'allowed'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            con.execute(sql)
    con.close()


def test_signed_out_or_unknown_tokens_get_401_with_a_bearer_challenge(client, as_) -> None:
    r = client.get(f"{V1}/costs")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "sign in" in r.json()["detail"]
    r = client.get(f"{V1}/costs", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    tok = client.post(f"{V1}/auth/token", json={"username": "emp", "password": "correct horse battery"}).json()
    h = {"Authorization": f"Bearer {tok['access_token']}"}
    assert client.get(f"{V1}/auth/me", headers=h).json()["role"] == "employer"
    assert client.post(f"{V1}/auth/signout", headers=h).status_code == 204
    assert client.get(f"{V1}/auth/me", headers=h).status_code == 401


def test_admins_add_users_and_the_write_is_audited(client, as_, people) -> None:
    body = {"username": "new-doc", "password": "a long enough one", "role": "clinician",
            "ipu_ids": [people["ipu"]]}
    assert client.post(f"{V1}/users", json=body, headers=as_("ana")).status_code == 403
    r = client.post(f"{V1}/users", json=body, headers=as_("ada"))
    assert r.status_code == 201 and r.json()["role"] == "clinician"
    assert audit_rows(client, username="ada", action="add user new-doc (clinician)", outcome="allowed")
    again = client.post(f"{V1}/users", json=body, headers=as_("ada"))
    assert again.status_code == 400 and "exists" in again.json()["detail"]
