"""FHIR out through the API: Bundles of valid R4B resources, small cells masked, patients' own reports."""

from __future__ import annotations

import orjson
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

F = "/api/v1/fhir"


def _all(client, url: str, headers: dict[str, str]) -> list[dict]:
    out, nxt = [], url
    while nxt:
        r = client.get(nxt, headers=headers)
        assert r.status_code == 200, r.text
        assert r.headers["content-type"] == "application/fhir+json"
        b = r.json()
        Bundle.model_validate(b)
        out += [e["resource"] for e in b.get("entry", [])]
        nxt = next((lnk["url"] for lnk in b.get("link", []) if lnk["relation"] == "next"), None)
    return out


def test_summary_reports_validate_and_never_count_fewer_than_11(client, as_) -> None:
    reports = _all(client, f"{F}/MeasureReport?_count=50", as_("pay"))
    assert reports and {r["type"] for r in reports} == {"summary"}
    masked = 0
    for r in reports:
        get_fhir_model_class("MeasureReport").model_validate(r)
        for g in r["group"]:
            for p in g["population"]:
                code = p["code"]["coding"][0]["code"]
                if code in ("initial-population", "denominator", "measure-population") and "count" in p:
                    assert p["count"] == 0 or p["count"] >= 11, r["id"]
            masked += "extension" in g.get("measureScore", {})
    assert any("cost-per-cycle" in r["measure"] for r in reports)
    assert masked, "the 400-patient store has small cells: some scores must be masked"


def test_a_patient_gets_their_individual_reports_and_not_anothers(client, as_, people) -> None:
    mine = _all(client, f"{F}/MeasureReport?type=individual", as_("pat"))
    assert mine and {r["subject"]["reference"] for r in mine} == {f"Patient/{people['patient']}"}
    r = client.get(f"{F}/MeasureReport?type=individual&patient={people['neighbour']}", headers=as_("pat"))
    assert r.status_code == 403
    assert client.get(f"{F}/MeasureReport", headers=as_("pat")).status_code == 403  # summaries: aggregates


def test_questionnaires_and_measures_read_by_id(client, as_) -> None:
    qs = _all(client, f"{F}/Questionnaire", as_("pat"))
    assert {q["id"] for q in qs} >= {"phq-9", "hoos-ps"}
    one = client.get(f"{F}/Questionnaire/phq-9", headers=as_("pat")).json()
    assert one["url"] == next(q["url"] for q in qs if q["id"] == "phq-9")
    ms = _all(client, f"{F}/Measure?_count=20", as_("ana"))
    assert len(ms) > 20  # several pages
    assert client.get(f"{F}/Measure/nope", headers=as_("ana")).status_code == 404


def test_export_is_ndjson_of_valid_resources(client, as_) -> None:
    r = client.get(f"{F}/$export", headers=as_("ana"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+ndjson")
    lines = r.content.splitlines()
    kinds = set()
    for line in lines:
        res = orjson.loads(line)
        get_fhir_model_class(res["resourceType"]).model_validate(res)
        kinds.add(res["resourceType"])
    assert kinds == {"MeasureReport", "Measure"}
    assert client.get(f"{F}/$export?_type=Patient", headers=as_("ana")).status_code == 400
