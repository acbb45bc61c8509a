"""The patient timeline and a provider's cycle list: what they show (the fixture's arithmetic), who
may see them (the API's patient rule), and that every view, allowed or denied, is in the audit log."""

from __future__ import annotations

from pathlib import Path

import dashboard_fixture as fx
import pytest
from fastapi.testclient import TestClient

from carevalue.api.audit import AuditLog
from carevalue.web.app import create_dashboard_app

C = fx.CONDITION
# p62 is the 2nd cycle of org-b (cycles c61..c120; ipu-hip-b); p1 the 1st of org-a (not costed)


@pytest.fixture(scope="module")
def local(dashboard_ws, tmp_path_factory: pytest.TempPathFactory) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_dashboard_app(dashboard_ws, audit=tmp_path_factory.mktemp("ops") / "audit.sqlite"))


def test_timeline_phases_events_outcomes_costs(local: TestClient) -> None:
    data = local.get("/patients/p62.json").json()
    (cycle,) = data["cycles"]
    assert cycle["organization_id"] == "org-b" and cycle["ipu_id"] == "ipu-hip-b"
    # EVENTS: 2 diagnosing (days 0, 7), 1 intervening (day 30), 2 recovering (days 33, 75), template order
    assert [(p["phase"], p["events"]) for p in cycle["phases"]] == [
        ("diagnosing", 2), ("intervening", 1), ("recovering-rehabbing", 2)]
    rec = cycle["phases"][2]
    assert rec["start_ts"][:10] == "2024-04-04" and rec["end_ts"][:10] == "2024-05-16"  # 2024-03-02 + 33, + 75
    assert len(cycle["events"]) == 5
    # org-b costs 10% more: (300 + 6,000 + 1,200) × 1.1 = 8,250; by phase 330, 6,600, 1,320
    assert cycle["cost"]["total_cost"] == pytest.approx(8250) and cycle["cost"]["charges"] == 9000
    assert [round(p["total_cost"]) for p in cycle["phase_costs"]] == [330, 6600, 1320]
    assert {o["measure"] for o in cycle["outcomes"]} == {"length-of-stay", "mortality-90d", "readmission-30d"}
    html = local.get("/patients/p62").text
    assert "8,250" in html and "Length of hospital stay" in html and 'id="timeline-fig"' in html
    assert "procedures" in html and "c62-thr" in html


def test_uncosted_cycle_says_so(local: TestClient) -> None:
    html = local.get("/patients/p1").text
    assert "Not costed" in html or "No costing run" in html


def test_every_view_is_audited(local: TestClient) -> None:
    log: AuditLog = local.app.state.audit  # type: ignore[attr-defined]
    before = log.count(patient_id="p63")
    local.get("/patients/p63")
    local.get("/patients/p63.json")
    entries = log.entries(patient_id="p63")[before:]
    assert [(e["action"], e["username"], e["outcome"]) for e in entries] == [("read timeline", "local", "allowed")] * 2
    n = log.count()
    local.get(f"/conditions/{C}/providers/org-b/cycles")
    assert log.entries(after=0, offset=n)[0]["detail"] == f"{C}/org-b"


def test_unknown_patient_is_404(local: TestClient) -> None:
    r = local.get("/patients/nobody.json")
    assert r.status_code == 404 and "no patient" in r.json()["detail"]


def test_provider_cycles_link_to_timelines(local: TestClient) -> None:
    data = local.get(f"/conditions/{C}/providers/org-b/cycles.json").json()
    assert len(data["rows"]) == 60 and {r["patient_id"] for r in data["rows"]} >= {"p62"}
    assert data["rows"][0]["start_ts"] >= data["rows"][-1]["start_ts"]  # newest first
    html = local.get(f"/conditions/{C}/providers/org-b/cycles").text
    assert html.count('class="patient"') == 60 and "/patients/p62" in html
    assert 'id="cycles-link"' in local.get(f"/conditions/{C}/providers/org-b").text


def test_no_audit_log_no_patient_pages(dashboard_ws) -> None:  # type: ignore[no-untyped-def]
    bare = TestClient(create_dashboard_app(dashboard_ws))
    assert bare.get("/patients/p62").status_code == 403
    assert bare.get(f"/conditions/{C}/providers/org-b/cycles.json").status_code == 403
    assert bare.get("/overview").status_code == 200


# ------------------------------------------------------------------ behind the API's sign-in
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def api(dashboard_store: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from carevalue.api.app import create_app

    app = create_app(dashboard_store, ops=tmp_path_factory.mktemp("api-ops"))
    users = app.state.carevalue.users
    users.add("ada", PASSWORD, "admin")
    users.add("ana", PASSWORD, "analyst")
    users.add("doc", PASSWORD, "clinician", ipu_ids=["ipu-hip-b"])
    users.add("pat", PASSWORD, "patient", patient_id="p62")
    return app


def signed_in(app, user: str) -> TestClient:  # type: ignore[no-untyped-def]
    c = TestClient(app)
    r = c.post("/dashboard/sign-in", data={"username": user, "password": PASSWORD, "next": "/dashboard/overview"},
               headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/dashboard/overview", r.text
    assert "samesite=strict" in r.headers["set-cookie"].lower() and "httponly" in r.headers["set-cookie"].lower()
    return c


def test_pages_send_a_stranger_to_sign_in(api) -> None:  # type: ignore[no-untyped-def]
    c = TestClient(api)
    r = c.get("/dashboard/patients/p62?x=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith("/dashboard/sign-in?next=%2Fdashboard%2Fpatients%2Fp62%3Fx%3D1")
    assert c.get("/dashboard/patients/p62.json").status_code == 401
    form = c.get(r.headers["location"]).text
    assert 'id="sign-in-form"' in form and 'value="/dashboard/patients/p62?x=1"' in form


def test_clinician_sees_their_ipu_patients_only(api) -> None:  # type: ignore[no-untyped-def]
    doc = signed_in(api, "doc")
    assert doc.get("/dashboard/patients/p62").status_code == 200
    assert doc.get("/dashboard/patients/p1").status_code == 403  # org-a, ipu-hip-a
    assert len(doc.get(f"/dashboard/conditions/{C}/providers/org-b/cycles.json").json()["rows"]) == 60
    assert doc.get(f"/dashboard/conditions/{C}/providers/org-a/cycles.json").json()["rows"] == []
    log = api.state.carevalue.audit
    assert [(e["username"], e["outcome"]) for e in log.entries(patient_id="p1")][-1] == ("doc", "denied")


def test_patient_sees_only_themselves_and_aggregate_roles_none(api) -> None:  # type: ignore[no-untyped-def]
    pat = signed_in(api, "pat")
    assert pat.get("/dashboard/patients/p62.json").status_code == 200
    assert pat.get("/dashboard/patients/p63.json").status_code == 403
    ana = signed_in(api, "ana")
    assert ana.get("/dashboard/patients/p62").status_code == 403
    assert ana.get(f"/dashboard/conditions/{C}/providers/org-b/cycles").status_code == 403
    assert ana.get("/dashboard/overview").status_code == 200
    assert "ana (analyst)" in ana.get("/dashboard/overview").text


def test_wrong_password_and_foreign_next(api) -> None:  # type: ignore[no-untyped-def]
    c = TestClient(api)
    r = c.post("/dashboard/sign-in", data={"username": "ada", "password": "nope", "next": "/dashboard/overview"},
               headers={"Origin": "http://testserver"})
    assert r.status_code == 401 and "wrong name or password" in r.text
    r = c.post("/dashboard/sign-in", data={"username": "ada", "password": PASSWORD, "next": "//evil.example/x"},
               headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.headers["location"] == "/dashboard/overview"


def test_form_posts_from_another_site_are_refused(api) -> None:  # type: ignore[no-untyped-def]
    c = TestClient(api)
    body = {"username": "ada", "password": PASSWORD}
    assert c.post("/dashboard/sign-in", data=body, headers={"Origin": "http://evil.example"}).status_code == 403
    assert c.post("/dashboard/sign-in", data=body).status_code == 403  # neither Origin nor Referer
    assert c.post("/dashboard/sign-in", data=body,
                  headers={"Referer": "http://testserver/dashboard/sign-in"}, follow_redirects=False).status_code == 303
    ada = signed_in(api, "ada")
    assert ada.post("/dashboard/sign-out", headers={"Origin": "http://evil.example"}).status_code == 403
    assert ada.get("/dashboard/overview.json").status_code == 200  # still signed in
    r = ada.post("/dashboard/sign-out", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    assert ada.get("/dashboard/overview.json").status_code == 401
