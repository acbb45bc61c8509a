"""Case-mix variables per care cycle, from the ``source`` of each of the template's case-mix variables.

Understood sources (ICHOM-style, as the templates write them):

* ``patients.birth_date`` -> age in years at the cycle's anchor; ``patients.<column>`` -> that column
* ``observations <system> <code>`` -> the latest such observation up to ``GRACE_DAYS`` after the
  anchor (its number, else its coded value: e.g. a smoking status code)
* ``code set <name>`` -> number of distinct codes of that template code set among the patient's
  conditions active at the anchor (comorbidity count)
* ``PROM <instrument> at <label>`` -> the instrument's score at the template time point with that
  label (the first reported scale), e.g. baseline function
* ``conditions <code set> onset`` -> years since the first condition of that code set

The result is long (``casemix_values``: cycle_id, condition, variable, value_num, value_text) for
tracing, and ``wide()`` pivots it to one column per variable for model fitting.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.base import CODE_SYSTEM_ALIASES
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.outcome import CaseMixVariable, TimePoint
from carevalue.engine.codesets import matches
from carevalue.engine.outcome_measures import days_between

GRACE_DAYS = 14  # a work-up value recorded up to two weeks after the index event is still baseline
CASEMIX_COLUMNS = ("cycle_id", "condition", "variable", "value_num", "value_text")


def _row(t: ir.Table, var: CaseMixVariable, num: ir.Value | None = None, text: ir.Value | None = None) -> ir.Table:
    return t.select(
        cycle_id=t.cycle_id, condition=t.condition, variable=ibis.literal(var.id),
        value_num=(num if num is not None else ibis.null()).cast("float64"),
        value_text=(text if text is not None else ibis.null()).cast("string"),
    )


def _latest(j: ir.Table, ts: str) -> ir.Table:
    w = ibis.window(group_by="cycle_id", order_by=[ibis.desc(ts)])
    j = j.mutate(_rank=ibis.row_number().over(w))
    return j.filter(j._rank == 0)


def _system_match(col: ir.StringValue, system: str) -> ir.BooleanValue:
    aliases = CODE_SYSTEM_ALIASES.get(system)
    if aliases:
        return col.isnull() | col.isin(list(aliases))
    return col.isnull() | (col == system) | col.endswith("/" + system)


def _observation(con: BaseBackend, base: ir.Table, var: CaseMixVariable, system: str, code: str) -> ir.Table:
    o = con.table("observations")
    o = o.filter((o.code == code) & _system_match(o.code_system, system)).select(
        _pid="patient_id", _ts="effective_ts", _num="value_num", _code="value_code")
    j = base.inner_join(o, base.patient_id == o._pid)
    j = _latest(j.filter(j._ts <= j.anchor_ts + ibis.interval(days=GRACE_DAYS)), "_ts")
    return _row(j, var, j._num, ibis.cases((j._num.isnull(), j._code), else_=ibis.null().cast("string")))


def _code_set_count(con: BaseBackend, tpl: ConditionTemplate, base: ir.Table, var: CaseMixVariable,
                    name: str) -> ir.Table:
    c = con.table("conditions")
    c = c.filter(matches(c.code_system, c.code, tpl.code_sets[name])).select(
        _pid="patient_id", _code="code", _on=c.onset_ts.coalesce(c.recorded_ts), _off="abatement_ts")
    j = base.inner_join(c, base.patient_id == c._pid)
    j = j.filter((j._on <= j.anchor_ts) & (j._off.isnull() | (j._off > j.anchor_ts)))
    n = j.group_by(_cc="cycle_id").aggregate(_n=j._code.nunique())
    t = base.left_join(n, base.cycle_id == n._cc)
    return _row(t, var, t._n.coalesce(0))


def _prom(con: BaseBackend, tpl: ConditionTemplate, base: ir.Table, var: CaseMixVariable,
          instrument: str, label: str) -> ir.Table | None:
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
    w = ibis.window(group_by="cycle_id", order_by=["_dist", "_ts"])
    j = j.mutate(_rank=ibis.row_number().over(w))
    j = j.filter(j._rank == 0)
    return _row(j, var, j._score)


def _onset_years(con: BaseBackend, tpl: ConditionTemplate, base: ir.Table, var: CaseMixVariable,
                 name: str) -> ir.Table:
    c = con.table("conditions")
    c = c.filter(matches(c.code_system, c.code, tpl.code_sets[name])).select(
        _pid="patient_id", _on=c.onset_ts.coalesce(c.recorded_ts))
    first = c.group_by("_pid").aggregate(_first=c._on.min())
    t = base.inner_join(first, base.patient_id == first._pid)
    return _row(t, var, ibis.greatest(days_between(t.anchor_ts, t._first) / 365.25, 0.0))


def variable_table(con: BaseBackend, tpl: ConditionTemplate, base: ir.Table,
                   var: CaseMixVariable) -> ir.Table | None:
    """Long rows of one case-mix variable for the template's cycles, or None if its source is not
    understood (reported by the caller, never guessed)."""
    words = var.source.split()
    if var.source == "patients.birth_date":
        p = con.table("patients").select(_pid="patient_id", _birth="birth_date")
        t = base.inner_join(p, base.patient_id == p._pid)
        return _row(t, var, days_between(t.anchor_ts, t._birth.cast("timestamp")) / 365.25)
    if len(words) == 1 and var.source.startswith("patients."):
        col = var.source.split(".", 1)[1]
        p = con.table("patients")
        if col not in p.columns:
            return None
        p = p.select(_pid="patient_id", _v=p[col])
        t = base.inner_join(p, base.patient_id == p._pid)
        numeric = t._v.type().is_numeric() or t._v.type().is_boolean()
        return _row(t, var, t._v if numeric else None, None if numeric else t._v)
    if len(words) == 3 and words[0] == "observations":
        return _observation(con, base, var, words[1], words[2])
    if len(words) == 3 and words[:2] == ["code", "set"] and words[2] in tpl.code_sets:
        return _code_set_count(con, tpl, base, var, words[2])
    if len(words) >= 4 and words[0] == "PROM" and words[2] == "at":
        return _prom(con, tpl, base, var, words[1], " ".join(words[3:]))
    if len(words) == 3 and words[0] == "conditions" and words[2] == "onset" and words[1] in tpl.code_sets:
        return _onset_years(con, tpl, base, var, words[1])
    return None


def casemix_values(con: BaseBackend, tpl: ConditionTemplate, base: ir.Table) -> tuple[ir.Table | None, list[str]]:
    """Long case-mix rows of every variable of the template, and the ids whose source is not understood."""
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
