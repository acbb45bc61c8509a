"""One patient's care cycles as a timeline: each cycle with its events by phase, oldest first.

This is the individual-level view a person uses to check the grouping by eye, so it is not
suppressed; an unknown patient id is a :class:`QueryError` saying how to find ids.
"""

from __future__ import annotations

from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries.base import QueryError, needs, rows_of

CYCLE_COLUMNS = ("cycle_id", "condition", "cycle_type", "start_ts", "end_ts", "index_ts", "trigger_table",
                 "trigger_id", "organization_id", "ipu_id", "period_label")
EVENT_COLUMNS = ("event_ts", "phase", "event_table", "event_id", "encounter_id", "organization_id",
                 "practitioner_id", "cost_bearing")


def _names(con: BaseBackend, table: str, key: str, ids: set[str]) -> dict[str, str]:
    if not ids or table not in con.list_tables():
        return {}
    t = con.table(table)
    rows = rows_of(t.filter(t[key].isin(sorted(ids))).select(key, "name"))
    return {r[key]: r["name"] for r in rows if r["name"]}


@needs("patients", "care_cycles", "cycle_events")
def patient_cycles(con: BaseBackend, library: Library, patient: str) -> list[dict[str, Any]]:
    """Every care cycle of ``patient`` (condition and provider names beside ids) with its ``events``."""
    p = con.table("patients")
    if int(p.filter(p.patient_id == patient).count().execute()) == 0:
        raise QueryError(f"no patient {patient!r} in the store; `carevalue list patients` shows patient ids")
    cyc = con.table("care_cycles")
    ev = con.table("cycle_events")
    cycles = rows_of(cyc.filter(cyc.patient_id == patient).select(*CYCLE_COLUMNS)
                     .order_by(["start_ts", "condition", "cycle_id"]))
    events = rows_of(ev.filter(ev.patient_id == patient).select("cycle_id", *EVENT_COLUMNS)
                     .order_by(["event_ts", "event_table", "event_id"]))
    orgs = _names(con, "organizations", "organization_id",
                  {r["organization_id"] for r in [*cycles, *events] if r["organization_id"]})
    titles = {k: v.title for k, v in library.kind("conditions").items()}
    out = []
    for c in cycles:
        mine = [{k: v for k, v in e.items() if k != "cycle_id"} | {"facility": orgs.get(e["organization_id"])}
                for e in events if e["cycle_id"] == c["cycle_id"]]
        out.append({**c, "condition_name": titles.get(c["condition"], c["condition"]),
                    "facility": orgs.get(c["organization_id"]), "events": mine})
    return out
