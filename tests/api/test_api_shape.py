"""Errors are RFC 9457 problem details; pages add up to the whole; OpenAPI speaks the declared tables."""

from __future__ import annotations

from fastapi.testclient import TestClient

from carevalue.model import declared

V1 = "/api/v1"
RFC9457 = {"type", "title", "status", "detail", "instance"}


def test_errors_are_problem_details(client: TestClient, as_) -> None:
    r = client.get(f"{V1}/definitions?limit=0", headers=as_("ana"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert set(body) >= RFC9457 and body["type"] == "about:blank" and body["status"] == 422
    assert body["instance"] == f"{V1}/definitions"
    assert body["errors"] == [{"field": "query.limit", "message": body["errors"][0]["message"]}]
    r = client.get(f"{V1}/nowhere", headers=as_("ana"))
    assert r.status_code == 404 and r.json()["title"] == "Not Found"
    r = client.get(f"{V1}/definitions/conditions/no-such-thing", headers=as_("ana"))
    assert r.status_code == 404 and "no-such-thing" in r.json()["detail"]
    r = client.get(f"{V1}/value?condition=no-such-condition", headers=as_("ana"))
    assert r.status_code == 400 and "no-such-condition" in r.json()["detail"]
    r = client.get(f"{V1}/outcomes?measure=x", headers=as_("ana"))
    assert r.status_code == 400 and "condition" in r.json()["detail"]


def test_pages_follow_next_to_the_whole_list_once(client: TestClient, as_) -> None:
    whole = client.get(f"{V1}/definitions?limit=1000", headers=as_("ana")).json()
    assert whole["next"] is None and whole["total"] == len(whole["items"]) > 10
    seen, url = [], f"{V1}/definitions?limit=7"
    while url:
        body = client.get(url, headers=as_("ana")).json()
        assert body["total"] == whole["total"] and len(body["items"]) <= 7
        seen += body["items"]
        url = body["next"]
    assert seen == whole["items"]


def test_filters_narrow_rows(client: TestClient, as_) -> None:
    conds = client.get(f"{V1}/definitions?kind=conditions", headers=as_("ana")).json()["items"]
    assert conds and {c["kind"] for c in conds} == {"conditions"}
    rows = client.get(f"{V1}/costs?limit=1000", headers=as_("ana")).json()["items"]
    org = next(r["organization_id"] for r in rows if r["organization_id"])
    one = client.get(f"{V1}/costs?organization_id={org}&limit=1000", headers=as_("ana")).json()
    assert one["total"] == sum(r["organization_id"] == org for r in rows) >= 1
    cond = rows[0]["condition"]
    c = client.get(f"{V1}/costs?condition={cond}&limit=1000", headers=as_("ana")).json()["items"]
    assert {r["condition"] for r in c} == {cond}


def test_a_definition_reads_back_as_validated(client: TestClient, as_) -> None:
    r = client.get(f"{V1}/definitions/conditions/hip-osteoarthritis", headers=as_("pat"))
    assert r.status_code == 200 and r.json()["id"] == "hip-osteoarthritis"


def test_openapi_uses_the_declared_tables_and_problem_details(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {f"{V1}/costs", f"{V1}/outcomes", f"{V1}/value", f"{V1}/payment", f"{V1}/cycles",
            f"{V1}/definitions", f"{V1}/runs", f"{V1}/patients/{{patient_id}}"} <= set(spec["paths"])
    schemas = spec["components"]["schemas"]
    assert set(schemas["Problem"]["properties"]) >= RFC9457
    oe = schemas["OutcomeRow"]["properties"]["oe"]
    doc = next(c.doc for c in declared("outcome_comparison").columns if c.name == "oe")
    assert oe["description"].startswith(doc)
    assert "[outcome_comparison.oe, DOUBLE]" in oe["description"]
    forbidden = spec["paths"][f"{V1}/costs"]["get"]["responses"]["403"]
    assert "application/problem+json" in forbidden["content"]
    assert "bearer" in str(spec["components"]["securitySchemes"]).lower()
