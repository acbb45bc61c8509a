"""Case-mix variables per care cycle, one query per typed variable of the template (definitions/casemix.py).

* ``demographic`` -> ``age``: years from the birth date to the cycle's anchor; else that
  ``patients`` column (numeric, or text for categorical ones)
* ``observation`` -> the latest observation of that system and code up to ``GRACE_DAYS`` after the
  anchor (its number, else its coded value: e.g. a smoking status code)
* ``condition-count`` -> number of distinct codes of the template code set among the patient's
  conditions active at the anchor (comorbidity count)
* ``prom`` -> the instrument's score at the template time point with that label (the first reported
  scale), e.g. baseline function
* ``onset-years`` -> years since the first condition of that code set
* ``risk-score`` -> the patient's score in the risk-scores stage's table (as of its date)

The result is long (``casemix_values``: cycle_id, condition, variable, value_num, value_text) for
tracing, and ``wide()`` pivots it to one column per variable for model fitting.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from carevalue.definitions.base import CODE_SYSTEM_ALIASES
from carevalue.definitions.casemix import (
    RISK_SCORE_TABLES,
    CaseMixVariable,
    ConditionCount,
    Demographic,
    Observation,
    OnsetYears,
    PromScore,
    RiskScore,
)
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.outcome import TimePoint
from carevalue.engine.codesets import matches
from carevalue.engine.outcome_measures import days_between
from carevalue.engine.record_filter import Counted

GRACE_DAYS = 14  # a work-up value recorded up to two weeks after the index event is still baseline
CASEMIX_COLUMNS = ("cycle_id", "condition", "variable", "value_num", "value_text")


def _row(t: ir.Table, var: CaseMixVariable, num: ir.Value | None = None, text: ir.Value | None = None) -> ir.Table:
    return t.select(
        cycle_id=t.cycle_id, condition=t.condition, variable=ibis.literal(var.id),
        value_num=(num if num is not None else ibis.null()).cast("float64"),
        value_text=(text if text is not None else ibis.null()).cast("string"),
    )


def _latest(j: ir.Table, ts: str) -> ir.Table:
    """Per cycle the latest value; at one time the lowest, so the pick never depends on row order."""
    w = ibis.window(group_by="cycle_id", order_by=[ibis.desc(ts), ibis.asc("_num", nulls_first=True),
                                                   ibis.asc("_code", nulls_first=True)])
    j = j.mutate(_rank=ibis.row_number().over(w))
    return j.filter(j._rank == 0)


def _system_match(col: ir.StringValue, system: str) -> ir.BooleanValue:
    return col.isnull() | col.isin([system, *CODE_SYSTEM_ALIASES[system]])


def _observation(con: Counted, base: ir.Table, var: Observation) -> ir.Table:
    o = con.table("observations")
    o = o.filter((o.code == var.code) & _system_match(o.code_system, var.system)).select(
        _pid="patient_id", _ts="effective_ts", _num="value_num", _code="value_code")
    j = base.inner_join(o, base.patient_id == o._pid)
    j = _latest(j.filter(j._ts <= j.anchor_ts + ibis.interval(days=GRACE_DAYS)), "_ts")
    return _row(j, var, j._num, ibis.cases((j._num.isnull(), j._code), else_=ibis.null().cast("string")))


def _code_set_count(con: Counted, tpl: ConditionTemplate, base: ir.Table, var: ConditionCount) -> ir.Table:
    c = con.table("conditions")
    c = c.filter(matches(c.code_system, c.code, tpl.code_sets[var.code_set], con.crosswalk)).select(
        _pid="patient_id", _code="code", _on=c.onset_ts.coalesce(c.recorded_ts), _off="abatement_ts")
    j = base.inner_join(c, base.patient_id == c._pid)
    j = j.filter((j._on <= j.anchor_ts) & (j._off.isnull() | (j._off > j.anchor_ts)))
    n = j.group_by(_cc="cycle_id").aggregate(_n=j._code.nunique())
    t = base.left_join(n, base.cycle_id == n._cc)
    return _row(t, var, t._n.coalesce(0))


def _prom(con: Counted, tpl: ConditionTemplate, base: ir.Table, var: PromScore) -> ir.Table | None:
    instrument, label = var.instrument, var.time_point
    if "prom_scores" not in con.list_tables():
        return None
    tp, scales = TimePoint(label=label, day=-30, window_days=60), list[str]()
    for m in tpl.outcomes:
        if m.instrument == instrument:
            scales = scales or list(m.scales)
            tp = next((x for x in m.time_points if x.label == label), tp)
    ps = con.table("prom_scores")
    ps = ps.filter((ps.instrument == instrument) & (ps.status == "scored") & ps.score.notnull())
    if scales:
        ps = ps.filter(ps.scale == scales[0])
    ps = ps.select(_pid="patient_id", _ts="authored_ts", _score="score")
    j = base.inner_join(ps, base.patient_id == ps._pid)
    j = j.mutate(_d=days_between(j._ts, j.anchor_ts))
    j = j.filter((j._d >= tp.day - tp.window_days) & (j._d <= tp.day + tp.window_days))
    j = j.mutate(_dist=(j._d - tp.day).abs())
    w = ibis.window(group_by="cycle_id", order_by=["_dist", "_ts", "_score"])
    j = j.mutate(_rank=ibis.row_number().over(w))
    j = j.filter(j._rank == 0)
    return _row(j, var, j._score)


def _onset_years(con: Counted, tpl: ConditionTemplate, base: ir.Table, var: OnsetYears) -> ir.Table:
    c = con.table("conditions")
    c = c.filter(matches(c.code_system, c.code, tpl.code_sets[var.code_set], con.crosswalk)).select(
        _pid="patient_id", _on=c.onset_ts.coalesce(c.recorded_ts))
    first = c.group_by("_pid").aggregate(_first=c._on.min())
    t = base.inner_join(first, base.patient_id == first._pid)
    return _row(t, var, ibis.greatest(days_between(t.anchor_ts, t._first) / 365.25, 0.0))


def _demographic(con: Counted, base: ir.Table, var: Demographic) -> ir.Table | None:
    if var.field == "age":
        p = con.table("patients").select(_pid="patient_id", _birth="birth_date")
        t = base.inner_join(p, base.patient_id == p._pid)
        return _row(t, var, days_between(t.anchor_ts, t._birth.cast("timestamp")) / 365.25)
    p = con.table("patients")
    if var.field not in p.columns:
        return None
    p = p.select(_pid="patient_id", _v=p[var.field])
    t = base.inner_join(p, base.patient_id == p._pid)
    numeric = t._v.type().is_numeric() or t._v.type().is_boolean()
    return _row(t, var, t._v if numeric else None, None if numeric else t._v)


def _risk_score(con: Counted, base: ir.Table, var: RiskScore) -> ir.Table | None:
    table, column = RISK_SCORE_TABLES[var.score]
    if table not in con.list_tables():
        return None
    r = con.table(table)
    r = r.select(_pid="patient_id", _score=r[column])
    t = base.inner_join(r, base.patient_id == r._pid)
    return _row(t, var, t._score)


def variable_table(con: Counted, tpl: ConditionTemplate, base: ir.Table,
                   var: CaseMixVariable) -> ir.Table | None:
    """Long rows of one case-mix variable for the template's cycles, or None when the data it needs
    is not in the store (a patients column, PROM scores, risk scores; reported by the caller)."""
    if isinstance(var, Demographic):
        return _demographic(con, base, var)
    if isinstance(var, Observation):
        return _observation(con, base, var)
    if isinstance(var, ConditionCount):
        return _code_set_count(con, tpl, base, var)
    if isinstance(var, PromScore):
        return _prom(con, tpl, base, var)
    if isinstance(var, OnsetYears):
        return _onset_years(con, tpl, base, var)
    return _risk_score(con, base, var)


def casemix_values(con: Counted, tpl: ConditionTemplate, base: ir.Table) -> tuple[ir.Table | None, list[str]]:
    """Long case-mix rows of every variable of the template, and the ids whose data is not in the store."""
    parts, unknown = [], []
    for var in tpl.case_mix:
        t = variable_table(con, tpl, base, var)
        if t is None:
            unknown.append(var.id)
        else:
            parts.append(t)
    if not parts:
        return None, unknown
    return (ibis.union(*parts) if len(parts) > 1 else parts[0]), unknown


def wide(long: ir.Table, variables: list[str], text_variables: set[str]) -> ir.Table:
    """One row per cycle, one column per variable (numeric, or text for categorical ones)."""
    aggs = {}
    for v in variables:
        src = long.value_text if v in text_variables else long.value_num
        aggs[v] = ibis.cases((long.variable == v, src), else_=ibis.null().cast(src.type())).max()
    return long.group_by("cycle_id").aggregate(**aggs)
