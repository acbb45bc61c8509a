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
