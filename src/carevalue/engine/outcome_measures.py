"""Outcome values per care cycle: the columns, the care-cycle base and the day arithmetic the
outcome families (engine/outcome_families.py) and case-mix variables share.

Time points count days from the cycle's anchor: the index event of an acute cycle, the start of a
chronic cycle's period. Follow-up ends at death or at the data end (censoring). Nothing here names
a condition.
"""

from __future__ import annotations

from datetime import datetime

import ibis
import ibis.expr.types as ir

from carevalue.definitions.condition import ConditionTemplate
from carevalue.engine.record_filter import Counted

VALUE_COLUMNS = ("cycle_id", "patient_id", "condition", "measure", "tier", "level", "time_point",
                 "time_point_day", "scale", "value", "value_type", "event", "time_days", "censored",
                 "organization_id", "anchor_ts")
EVIDENCE_COLUMNS = ("cycle_id", "condition", "measure", "time_point", "evidence_table", "evidence_id")
BINARY, CONTINUOUS = "binary", "continuous"
STAY_SEARCH_DAYS = 14  # an index inpatient stay starts within this many days of the index event


def days_between(later: ir.TimestampValue, earlier: ir.TimestampValue) -> ir.FloatingValue:
    """Days from ``earlier`` to ``later`` as a float (negative when later is before)."""
    return (later.epoch_seconds() - earlier.epoch_seconds()).cast("float64") / 86400.0


def data_end(con: Counted) -> datetime:
    """The last recorded time in the store: follow-up beyond it is not observed (censoring)."""
    have = set(con.list_tables())
    stamps = []
    for table, col in (("encounters", "start_ts"), ("observations", "effective_ts"),
                       ("procedures", "start_ts"), ("questionnaire_responses", "authored_ts")):
        if table in have:
            value = con.table(table)[col].max().execute()
            if value is not None and value == value:  # NaT compares unequal to itself
                stamps.append(value)
    return max(stamps) if stamps else datetime(1970, 1, 1)


def cycle_base(con: Counted, tpl: ConditionTemplate, end: datetime) -> ir.Table:
    """The template's cycles with anchor, death and follow-up end (death or data end)."""
    c = con.table("care_cycles")
    c = c.filter(c.condition == tpl.id)
    p = con.table("patients").select(_pid="patient_id", _death="death_date")
    j = c.left_join(p, c.patient_id == p._pid)
    end_lit = ibis.literal(end, "timestamp")
    anchor = ibis.cases((j.cycle_type == "chronic", j.start_ts), else_=j.index_ts.coalesce(j.start_ts))
    death_ts = j._death.cast("timestamp")
    return j.select(
        "cycle_id", "patient_id", "condition", "organization_id", "cycle_type", "trigger_table",
        "trigger_id", anchor_ts=anchor, death_ts=death_ts, data_end_ts=end_lit,
    )
