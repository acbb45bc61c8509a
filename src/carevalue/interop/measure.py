"""A FHIR ``Measure`` for every outcome measure of every condition template, and one for its cost
per care cycle: scoring, improvement notation and one group per time point with its populations."""

from __future__ import annotations

from typing import Any

from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.outcome import OutcomeMeasure
from carevalue.interop.fhir import (
    BASE,
    IMPROVEMENT,
    MEASURE_POPULATION,
    MEASURE_SCORING,
    MEASURE_TYPE,
    ext,
    fhir_id,
    validate,
)

# Calculations whose value per cycle is 0/1 (a proportion of cycles); the rest are continuous.
PROPORTIONS = frozenset({"survival", "mortality", "event", "readmission", "composite-event", "encounters"})
COST = "cost-per-cycle"


def measure_id(condition: str, measure: str) -> str:
    return fhir_id(f"{condition}-{measure}")


def measure_url(condition: str, measure: str) -> str:
    return f"{BASE}/Measure/{measure_id(condition, measure)}"


def group_key(time_point: str | None, scale: str | None) -> str:
    """The text naming one group of a measure: its time point, and the PROM scale where there is one."""
    return " / ".join(p for p in (time_point or "", scale or "") if p) or "care cycle"


def scoring(m: OutcomeMeasure) -> str:
    return "proportion" if m.resolved_calculation() in PROPORTIONS else "continuous-variable"


def _coding(system: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": system, "code": code}]}


def _population(code: str, text: str) -> dict[str, Any]:
    # The criteria are computed by the carevalue engine from the template, stated here in words.
    return {"code": _coding(MEASURE_POPULATION, code), "description": text,
            "criteria": {"language": "text/plain", "expression": text}}


def _populations(kind: str, what: str) -> list[dict[str, Any]]:
    base = [_population("initial-population", f"Care cycles of the condition that reached the time point ({what}).")]
    if kind == "proportion":
        return base + [_population("denominator", "Cycles measured."),
                       _population("numerator", "Cycles with the outcome.")]
    return base + [_population("measure-population", "Cycles measured."),
                   _population("measure-observation", "The value per cycle; the score is its mean.")]


def outcome_measure(cond: ConditionTemplate, m: OutcomeMeasure) -> dict[str, Any]:
    """One outcome measure of a condition as an R4B Measure (validated)."""
    kind = scoring(m)
    res: dict[str, Any] = {
        "resourceType": "Measure", "id": measure_id(cond.id, m.id), "url": measure_url(cond.id, m.id),
        "name": measure_id(cond.id, m.id).replace("-", "_").replace(".", "_"),
        "title": f"{cond.title}: {m.title}", "status": "active",
        "description": " ".join(m.definition.split()),
        "subjectCodeableConcept": {"text": "care cycle"},
        "scoring": _coding(MEASURE_SCORING, kind),
        "type": [_coding(MEASURE_TYPE, "patient-reported-outcome" if m.source == "prom" else "outcome")],
        "improvementNotation": _coding(IMPROVEMENT, "increase" if m.direction == "higher-better" else "decrease"),
        "extension": [{"url": ext("outcome-tier"), "valueInteger": m.tier},
                      {"url": ext("outcome-level"), "valueInteger": m.level},
                      {"url": ext("condition"), "valueString": cond.id},
                      {"url": ext("calculation"), "valueString": m.resolved_calculation()}],
        "group": [{"code": {"text": group_key(tp.label, sc)}, "description": f"day {tp.day} after the index "
                   f"event (± {tp.window_days} days){f', scale {sc}' if sc else ''}",
                   "population": _populations(kind, tp.label)} for tp in m.time_points for sc in (m.scales or [""])],
    }
    if m.standard:
        res["relatedArtifact"] = [{"type": "derived-from", "display": m.standard}]
    if m.case_mix:
        res["riskAdjustment"] = "Case-mix model on: " + ", ".join(m.case_mix)
    return validate(res)


def cost_measure(cond: ConditionTemplate) -> dict[str, Any]:
    """The condition's TDABC cost per care cycle as an R4B Measure (continuous variable, lower is better)."""
    res: dict[str, Any] = {
        "resourceType": "Measure", "id": measure_id(cond.id, COST), "url": measure_url(cond.id, COST),
        "name": measure_id(cond.id, COST).replace("-", "_"), "title": f"{cond.title}: cost per care cycle",
        "status": "active", "subjectCodeableConcept": {"text": "care cycle"},
        "description": "Mean time-driven activity-based cost (TDABC) of the full care cycle: minutes of "
                       "each resource times its capacity cost rate, plus consumables at acquisition cost.",
        "scoring": _coding(MEASURE_SCORING, "continuous-variable"),
        "improvementNotation": _coding(IMPROVEMENT, "decrease"),
        "extension": [{"url": ext("condition"), "valueString": cond.id}],
        "group": [{"code": {"text": group_key(None, None)}, "population": _populations("continuous-variable", "costed cycles")}],
    }
    return validate(res)


def measures(conditions: list[ConditionTemplate]) -> list[dict[str, Any]]:
    """Every outcome and cost measure of the conditions, in template order."""
    return [r for c in conditions for r in [*(outcome_measure(c, m) for m in c.outcomes), cost_measure(c)]]
