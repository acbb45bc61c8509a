"""Patient-level reads the API needs beyond the named queries: one patient's row, PROM scores and
outcome values. Individual-level, so never suppressed — and reached only through ``patient_access``."""

from __future__ import annotations

from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries.base import QueryError, needs, rows_of


@needs("patients")
def patient_row(con: BaseBackend, library: Library, patient: str) -> dict[str, Any]:
    t = con.table("patients")
    rows = rows_of(t.filter(t.patient_id == patient))
    if not rows:
        raise QueryError(f"no patient {patient!r} in the store")
    return rows[0]


@needs("prom_scores")
def prom_scores(con: BaseBackend, library: Library, patient: str) -> list[dict[str, Any]]:
    t = con.table("prom_scores")
    return rows_of(t.filter(t.patient_id == patient).order_by("authored_ts", "instrument", "scale"))


@needs("outcome_values")
def outcome_values(con: BaseBackend, library: Library, patient: str) -> list[dict[str, Any]]:
    t = con.table("outcome_values")
    return rows_of(t.filter(t.patient_id == patient).order_by("condition", "measure", "time_point_day", "scale"))


@needs("cycle_cost_totals")
def cycle_costs(con: BaseBackend, library: Library, patient: str) -> list[dict[str, Any]]:
    """The TDABC cost of each of one patient's care cycles."""
    t = con.table("cycle_cost_totals")
    return rows_of(t.filter(t.patient_id == patient).select("cycle_id", "condition", "start_ts", "end_ts", "total_cost")
                   .order_by("start_ts", "cycle_id"))


@needs("care_cycles")
def condition_periods(con: BaseBackend, library: Library) -> dict[str, tuple[str | None, str | None]]:
    """The span of each condition's care cycles (the period a summary report covers)."""
    c = con.table("care_cycles")
    rows = rows_of(c.group_by("condition").aggregate(start=c.start_ts.min(), end=c.end_ts.max()))
    return {r["condition"]: (r["start"], r["end"]) for r in rows}


@needs("questionnaire_responses")
def responses(con: BaseBackend, library: Library, patient: str) -> list[dict[str, Any]]:
    """One patient's stored questionnaire responses (id, questionnaire, when)."""
    t = con.table("questionnaire_responses")
    return rows_of(t.filter(t.patient_id == patient).select("response_id", "questionnaire", "authored_ts")
                   .order_by("authored_ts"))
