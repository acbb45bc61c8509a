"""Questionnaires, Measures and MeasureReports are valid R4B and say what the definitions and rows say."""

from __future__ import annotations

import pytest
from fhir.resources.R4B.measure import Measure
from fhir.resources.R4B.measurereport import MeasureReport
from fhir.resources.R4B.questionnaire import Questionnaire

from carevalue.definitions.loader import load_library
from carevalue.interop.fhir import LOINC, ORDINAL
from carevalue.interop.measure import COST, measure_url, measures
from carevalue.interop.measure_report import cost_summaries, patient_reports, provider_summaries
from carevalue.interop.questionnaire import questionnaire

LIB = load_library()


@pytest.mark.parametrize("inst_id", sorted(LIB.instruments()))
def test_every_instrument_is_a_valid_questionnaire_with_its_items_options_and_loinc(inst_id: str) -> None:
    inst = LIB.instruments()[inst_id]
    q = questionnaire(inst)
    Questionnaire.model_validate(q)  # R4B
    assert [i["linkId"] for i in q["item"]] == [i.link_id for i in inst.items]
    for item, it in zip(q["item"], inst.items, strict=True):
        if it.loinc:
            assert item["code"] == [{"system": LOINC, "code": it.loinc}]
        if it.options:
            assert item["type"] == "choice"
            ordinals = [o["extension"][0] for o in item["answerOption"]]
            assert {e["url"] for e in ordinals} == {ORDINAL}
            assert [e["valueDecimal"] for e in ordinals] == [o.value for o in it.options]
            for opt, o in zip(item["answerOption"], it.options, strict=True):
                if o.code and o.code.startswith("LA"):
                    assert opt["valueCoding"]["system"] == LOINC and opt["valueCoding"]["code"] == o.code
        else:
            assert item["type"] in ("integer", "decimal")
    if inst.loinc_panel:
        assert q["code"][0]["code"] == inst.loinc_panel
    assert q["url"] in inst.questionnaire_urls or not inst.questionnaire_urls


def test_phq9_items_and_answers_carry_their_loinc_codes() -> None:
    q = questionnaire(LIB.instruments()["phq-9"])
    assert q["code"] == [{"system": LOINC, "code": "44249-1"}]
    first = q["item"][0]
    assert first["code"][0]["code"] == "44250-9"
    assert [o["valueCoding"]["code"] for o in first["answerOption"]] == ["LA6568-5", "LA6569-3", "LA6570-1", "LA6571-9"]


def test_every_outcome_and_cost_measure_is_a_valid_measure_with_a_group_per_time_point_and_scale() -> None:
    out = {m["url"]: m for m in measures(LIB.conditions())}
    for cond in LIB.conditions():
        for m in cond.outcomes:
            res = out[measure_url(cond.id, m.id)]
            Measure.model_validate(res)
            assert len(res["group"]) == len(m.time_points) * max(1, len(m.scales))
            notation = res["improvementNotation"]["coding"][0]["code"]
            assert notation == ("increase" if m.direction == "higher-better" else "decrease")
        cost = out[measure_url(cond.id, COST)]
        assert cost["scoring"]["coding"][0]["code"] == "continuous-variable"
    assert len(out) == sum(len(c.outcomes) + 1 for c in LIB.conditions())


def test_mortality_is_a_proportion_and_a_prom_a_continuous_variable() -> None:
    hip = LIB.get("conditions", "hip-osteoarthritis")
    by = {m["id"]: m for m in measures([hip])}
    assert by["hip-osteoarthritis-mortality-90d"]["scoring"]["coding"][0]["code"] == "proportion"
    pf = by["hip-osteoarthritis-physical-function"]
    assert pf["scoring"]["coding"][0]["code"] == "continuous-variable"
    assert pf["type"][0]["coding"][0]["code"] == "patient-reported-outcome"
    assert [g["code"]["text"] for g in pf["group"]] == ["baseline / score", "6 months / score", "1 year / score"]


def _pop(group: dict, code: str) -> int | None:
    for p in group["population"]:
        if p["code"]["coding"][0]["code"] == code:
            return p.get("count")
    raise KeyError(code)


def test_a_provider_summary_carries_the_comparison_and_masks_a_small_cell() -> None:
    hip = LIB.get("conditions", "hip-osteoarthritis")
    rows = [
        # 40 cycles, 3 deaths observed, 2.4 expected: O/E = 3 / 2.4 = 1.25; adjusted rate 0.0625
        {"condition": "hip-osteoarthritis", "measure": "mortality-90d", "time_point": "90 days", "scale": "",
         "organization_id": "org-a", "n": 40, "patients": 40, "observed": 3, "oe": 1.25, "ci_low": 0.26,
         "ci_high": 3.65, "adjusted_rate": 0.0625, "flag_95": "as expected", "status": "ok", "suppressed": False},
        {"condition": "hip-osteoarthritis", "measure": "mortality-90d", "time_point": "90 days", "scale": "",
         "organization_id": "org-b", "n": "<11", "patients": "<11", "observed": None, "oe": None,
         "adjusted_rate": None, "status": "ok", "suppressed": True},
        {"condition": "hip-osteoarthritis", "measure": "mortality-90d", "time_point": "90 days", "scale": "",
         "organization_id": None, "n": 50, "status": "ok"},  # a measure-level status row: no report
    ]
    a, b = provider_summaries([hip], rows, {"hip-osteoarthritis": ("2023-01-01T00:00:00", "2024-12-31T00:00:00")})
    for r in (a, b):
        MeasureReport.model_validate(r)
        assert r["type"] == "summary" and r["measure"] == measure_url("hip-osteoarthritis", "mortality-90d")
    assert a["reporter"] == {"reference": "Organization/org-a"}
    assert a["period"] == {"start": "2023-01-01", "end": "2024-12-31"}
    g = a["group"][0]
    assert (_pop(g, "initial-population"), _pop(g, "denominator"), _pop(g, "numerator")) == (40, 40, 3)
    assert g["measureScore"] == {"value": 0.0625}
    assert {e["url"].rsplit("/", 1)[1]: e.get("valueDecimal", e.get("valueString")) for e in g["extension"]} == {
        "oe": 1.25, "ci-low": 0.26, "ci-high": 3.65, "flag-95": "as expected", "status": "ok"}
    hidden = b["group"][0]
    assert _pop(hidden, "initial-population") is None and _pop(hidden, "numerator") is None
    assert hidden["measureScore"]["extension"][0]["valueCode"] == "masked"


def test_cost_and_individual_reports() -> None:
    hip = LIB.get("conditions", "hip-osteoarthritis")
    (s,) = cost_summaries([{"condition": "hip-osteoarthritis", "organization_id": "org-a", "cycles": 30,
                            "patients": 30, "cost_per_cycle": 15234.5, "currency": "USD", "suppressed": False}], {})
    MeasureReport.model_validate(s)
    assert s["group"][0]["measureScore"] == {"value": 15234.5, "unit": "USD"}
    cycles = [{"cycle_id": "c1", "start_ts": "2024-01-01T00:00:00", "end_ts": "2024-12-31T00:00:00"}]
    values = [{"cycle_id": "c1", "condition": "hip-osteoarthritis", "measure": "physical-function",
               "time_point": "6 months", "scale": "score", "value": 80.0},
              {"cycle_id": "c1", "condition": "hip-osteoarthritis", "measure": "physical-function",
               "time_point": "1 year", "scale": "score", "value": None, "censored": True},
              {"cycle_id": "c1", "condition": "hip-osteoarthritis", "measure": "mortality-90d",
               "time_point": "90 days", "scale": "", "value": 0.0}]
    costs = [{"cycle_id": "c1", "condition": "hip-osteoarthritis", "total_cost": 12000.0, "currency": "USD"}]
    reports = {r["measure"].rsplit("/", 1)[1]: r for r in patient_reports([hip], "p1", cycles, values, costs)}
    for r in reports.values():
        MeasureReport.model_validate(r)
        assert r["type"] == "individual" and r["subject"] == {"reference": "Patient/p1"}
    pf = reports["hip-osteoarthritis-physical-function"]["group"]
    assert pf[0]["measureScore"] == {"value": 80.0} and _pop(pf[0], "measure-population") == 1
    assert "measureScore" not in pf[1] and _pop(pf[1], "measure-population") == 0  # censored: not measured
    mort = reports["hip-osteoarthritis-mortality-90d"]["group"][0]
    assert (_pop(mort, "denominator"), _pop(mort, "numerator")) == (1, 0)
    assert reports["hip-osteoarthritis-cost-per-cycle"]["group"][0]["measureScore"] == {"value": 12000.0, "unit": "USD"}
