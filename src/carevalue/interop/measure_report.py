"""FHIR ``MeasureReport``s from the measure tables' rows: a summary per provider (outcome comparison,
cost per cycle — small cells already suppressed by the queries) and an individual report per patient
and care cycle (outcome values, cycle cost). A suppressed cell keeps no count and no score: its
score carries the data-absent-reason ``masked``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from carevalue.definitions.condition import ConditionTemplate
from carevalue.interop.fhir import (
    DATA_ABSENT,
    IMPROVEMENT,
    MEASURE_POPULATION,
    ext,
    fhir_id,
    validate,
)
from carevalue.interop.measure import COST, group_key, measure_url, scoring

Row = dict[str, Any]
MASKED = {"extension": [{"url": DATA_ABSENT, "valueCode": "masked"}]}


def _count(code: str, v: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"code": {"coding": [{"system": MEASURE_POPULATION, "code": code}]}}
    if isinstance(v, int | float) and not isinstance(v, bool):
        out["count"] = int(round(v))
    return out


def _score(v: Any, unit: str | None = None) -> dict[str, Any]:
    if not isinstance(v, int | float) or isinstance(v, bool):
        return MASKED
    q: dict[str, Any] = {"value": round(float(v), 6)}
    if unit:
        q["unit"] = unit
    return q


def _period(period: tuple[str | None, str | None]) -> dict[str, str]:
    start, end = period
    return {k: v[:10] for k, v in (("start", start), ("end", end)) if v}


def _measures(conditions: Iterable[ConditionTemplate]) -> dict[tuple[str, str], Any]:
    return {(c.id, m.id): m for c in conditions for m in c.outcomes}


def _outcome_group(kind: str, r: Row) -> dict[str, Any]:
    pops = [_count("initial-population", r.get("n")), _count("denominator" if kind == "proportion" else
                                                              "measure-population", r.get("n"))]
    if kind == "proportion":
        pops.append(_count("numerator", r.get("observed")))
    g: dict[str, Any] = {"code": {"text": group_key(r.get("time_point"), r.get("scale"))}, "population": pops,
                         "measureScore": _score(r.get("adjusted_rate"))}
    extra = [{"url": ext(k.replace("_", "-")), "valueDecimal": round(float(r[k]), 6)}
             for k in ("oe", "ci_low", "ci_high", "observed_rate") if isinstance(r.get(k), int | float)]
    extra += [{"url": ext(k.replace("_", "-")), "valueString": str(r[k])}
              for k in ("flag_95", "flag_998", "status", "adjustment") if r.get(k)]
    if r.get("suppressed"):
        extra.append({"url": ext("suppressed"), "valueString": "fewer than 11 patients (or would reveal such a cell)"})
    if extra:
        g["extension"] = extra
    return g


def provider_summaries(conditions: Iterable[ConditionTemplate], comparison: Iterable[Row],
                       periods: dict[str, tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    """One summary MeasureReport per provider, condition and measure from outcome-comparison rows.

    ``periods`` maps a condition to the (start, end) its cycles span. Rows without a provider
    (measure-level status rows) are not reports.
    """
    defs = _measures(conditions)
    by: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for r in comparison:
        if r.get("organization_id") and (r["condition"], r["measure"]) in defs:
            by[(r["condition"], r["measure"], r["organization_id"])].append(r)
    out = []
    for (cond, meas, org), rows in sorted(by.items()):
        kind = scoring(defs[(cond, meas)])
        out.append(validate({
            "resourceType": "MeasureReport", "id": fhir_id(f"{cond}-{meas}-{org}"), "status": "complete",
            "type": "summary", "measure": measure_url(cond, meas), "period": _period(periods.get(cond, (None, None))),
            "reporter": {"reference": f"Organization/{fhir_id(org)}"},
            "improvementNotation": {"coding": [{"system": IMPROVEMENT, "code": "increase" if defs[(cond, meas)].direction == "higher-better" else "decrease"}]},
            "group": [_outcome_group(kind, r) for r in rows]}))
    return out


def cost_summaries(costs: Iterable[Row], periods: dict[str, tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    """One summary MeasureReport of cost per care cycle per provider and condition."""
    out = []
    for r in costs:
        if not r.get("organization_id"):
            continue
        cond, org = r["condition"], r["organization_id"]
        g: dict[str, Any] = {"code": {"text": group_key(None, None)},
                             "population": [_count("initial-population", r.get("cycles")),
                                            _count("measure-population", r.get("cycles"))],
                             "measureScore": _score(r.get("cost_per_cycle"), r.get("currency"))}
        if r.get("suppressed"):
            g["extension"] = [{"url": ext("suppressed"), "valueString": "fewer than 11 patients (or would reveal such a cell)"}]
        rid = f"{cond}-{COST}-{org}" + (f"-{r['cycle_type']}" if r.get("cycle_type") else "")
        out.append(validate({"resourceType": "MeasureReport", "id": fhir_id(rid), "status": "complete",
                             "type": "summary", "measure": measure_url(cond, COST),
                             "period": _period(periods.get(cond, (None, None))),
                             "reporter": {"reference": f"Organization/{fhir_id(org)}"}, "group": [g]}))
    return out


def _individual_group(kind: str, r: Row) -> dict[str, Any]:
    measured = r.get("value") is not None
    pops = [_count("initial-population", 1),
            _count("denominator" if kind == "proportion" else "measure-population", int(measured))]
    if kind == "proportion":
        pops.append(_count("numerator", int(bool(r.get("value"))) if measured else 0))
    g: dict[str, Any] = {"code": {"text": group_key(r.get("time_point"), r.get("scale"))}, "population": pops}
    if measured:
        g["measureScore"] = _score(r["value"])
    if r.get("censored"):
        g["extension"] = [{"url": ext("censored"), "valueString": "follow-up ended before the time point"}]
    return g


def patient_reports(conditions: Iterable[ConditionTemplate], patient_id: str, cycles: Iterable[Row],
                    values: Iterable[Row], cycle_costs: Iterable[Row] = ()) -> list[dict[str, Any]]:
    """Individual MeasureReports of one patient: per care cycle and measure, and the cycle's cost."""
    defs = _measures(conditions)
    span = {c["cycle_id"]: (c.get("start_ts"), c.get("end_ts")) for c in cycles}
    by: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for v in values:
        if (v["condition"], v["measure"]) in defs:
            by[(v["cycle_id"], v["condition"], v["measure"])].append(v)
    subject = {"reference": f"Patient/{fhir_id(patient_id)}"}
    out = []
    for (cyc, cond, meas), rows in sorted(by.items()):
        kind = scoring(defs[(cond, meas)])
        out.append(validate({"resourceType": "MeasureReport", "id": fhir_id(f"{cyc}-{meas}"), "status": "complete",
                             "type": "individual", "measure": measure_url(cond, meas), "subject": subject,
                             "period": _period(span.get(cyc, (None, None))),
                             "group": [_individual_group(kind, r) for r in rows]}))
    for c in cycle_costs:
        if c.get("total_cost") is None:
            continue
        out.append(validate({"resourceType": "MeasureReport", "id": fhir_id(f"{c['cycle_id']}-{COST}"),
                             "status": "complete", "type": "individual", "measure": measure_url(c["condition"], COST),
                             "subject": subject, "period": _period(span.get(c["cycle_id"], (c.get("start_ts"), c.get("end_ts")))),
                             "group": [{"code": {"text": group_key(None, None)},
                                        "population": [_count("initial-population", 1), _count("measure-population", 1)],
                                        "measureScore": _score(c["total_cost"], c.get("currency"))}]}))
    return out
