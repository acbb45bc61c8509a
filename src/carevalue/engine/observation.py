"""Observation periods (as OMOP's ``observation_period``): per patient, the spans in which the data
can see them, built from counted encounters and claims by the rule in content/observation-periods.

Records at most ``collapse_days`` apart form one period; it ends ``persistence_days`` after its last
record, but never after death + ``death_days`` nor after the data's last date. ``period_end`` is
inclusive (as in OMOP); ``at_data_end`` says the period reaches the data's last date, i.e. the
patient is still observed when the data stops. Chronic care cycles and segment intervals lie inside
these periods (engine/cycles.py, engine/segments.py).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.observation_period import ObservationPeriodRule
from carevalue.definitions.record_rule import RecordRules
from carevalue.engine.record_filter import counting

OBSERVATION_COLUMNS = ("period_id", "patient_id", "period_start", "period_end", "at_data_end", "records")

# Where each observing table keeps its span.
_SPANS = {"encounters": ("start_ts", "end_ts"), "claims": ("service_start", "service_end")}


def observed_spans(con: BaseBackend, rule: ObservationPeriodRule, rules: RecordRules) -> ir.Table:
    """(patient_id, s, e): the days each counted record of the rule's sources covers."""
    have = set(con.list_tables())
    parts = []
    for name in rule.sources:
        if name not in have:
            continue
        start, end = _SPANS[name]
        t = counting(con, name, rules)
        t = t.filter(t[start].notnull())
        s = t[start].date()
        e = ibis.greatest(t[end].date().coalesce(s), s)
        parts.append(t.select(patient_id=t.patient_id, s=s, e=e))
    if not parts:
        raise ValueError(f"none of the observation sources {rule.sources} is in the store")
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def data_last_date(spans: ir.Table) -> ir.Scalar:
    """The data's last date: the latest day any observing record covers."""
    return spans.e.max()


def observation_periods(con: BaseBackend, rule: ObservationPeriodRule,
                        rules: RecordRules) -> ir.Table:
    """One row per patient and period (see ``OBSERVATION_COLUMNS``)."""
    spans = observed_spans(con, rule, rules)
    last_day = spans.aggregate(_last=data_last_date(spans))
    # Distinct spans, so (s, e) orders each patient's rows totally: with ties, the two windows
    # below could each put the tied rows in another order and split one period in two.
    spans = spans.group_by(["patient_id", "s", "e"]).aggregate(_n=spans.count())
    order = ["s", "e"]
    before = ibis.window(group_by="patient_id", order_by=order, rows=(None, -1))
    sp = spans.mutate(_reach=spans.e.max().over(before))
    sp = sp.mutate(_new=(sp._reach.isnull() | (sp.s > sp._reach + ibis.interval(days=rule.collapse_days)))
                   .cast("int64"))
    sp = sp.mutate(_island=sp._new.sum().over(ibis.window(group_by="patient_id", order_by=order, rows=(None, 0))))
    per = sp.group_by(["patient_id", "_island"]).aggregate(
        period_start=sp.s.min(), _last=sp.e.max(), records=sp._n.sum())
    pts = counting(con, "patients", rules).select(_pid="patient_id", _death="death_date")
    per = per.left_join(pts, per.patient_id == pts._pid).cross_join(last_day.rename(_data_end="_last"))
    end = per._last + ibis.interval(days=rule.persistence_days)
    death_cap = (per._death.cast("date") + ibis.interval(days=rule.death_days)).coalesce(per._data_end)
    end = ibis.least(end, death_cap, per._data_end)
    per = per.mutate(period_end=end.cast("date"))
    per = per.filter(per.period_end >= per.period_start)
    return per.select(
        period_id=per.patient_id + ":" + per.period_start.cast("string"),
        patient_id=per.patient_id, period_start=per.period_start, period_end=per.period_end,
        at_data_end=per.period_end == per._data_end, records=per.records.cast("int64"))


def run(con: BaseBackend, rule: ObservationPeriodRule, rules: RecordRules) -> dict[str, int]:
    """Build and write ``observation_periods``; returns its row count."""
    out = write_table(con, "observation_periods", observation_periods(con, rule, rules))
    return {"observation_periods": int(out.count().execute())}


def periods_or_none(con: BaseBackend) -> ir.Table | None:
    """The written ``observation_periods`` table, or None when the store has none yet."""
    return con.table("observation_periods") if "observation_periods" in con.list_tables() else None
