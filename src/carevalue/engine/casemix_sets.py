"""Case-mix values of every template set-based: the templates' variables become rows joined to the
cycles, one expression per variable kind instead of one per template x variable. The values are
those of engine/casemix_frame.py's :func:`~carevalue.engine.casemix_frame.variable_table` (which
stays the per-variable API).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import ibis.expr.types as ir

from carevalue.definitions.base import CODE_SYSTEM_ALIASES
from carevalue.definitions.casemix import (
    RISK_SCORE_TABLES,
    ConditionCount,
    Demographic,
    Observation,
    OnsetYears,
    PromScore,
    RiskScore,
)
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.outcome import TimePoint
from carevalue.engine import code_match
from carevalue.engine.casemix_frame import CASEMIX_COLUMNS, GRACE_DAYS
from carevalue.engine.outcome_families import Scratch, record_codes
from carevalue.engine.outcome_measures import days_between
from carevalue.engine.record_filter import Counted


def _rows(rows: Sequence[dict[str, Any]], schema: dict[str, str]) -> ir.Table:
    return ibis.memtable({c: [r[c] for r in rows] for c in schema}, schema=schema)


def _out(t: ir.Table, num: ir.Value | None = None, text: ir.Value | None = None) -> ir.Table:
    return t.select(cycle_id=t.cycle_id, condition=t.condition, variable=t._var,
                    value_num=(num if num is not None else ibis.null()).cast("float64"),
                    value_text=(text if text is not None else ibis.null()).cast("string"))


def _on(base: ir.Table, rows: ir.Table) -> ir.Table:
    return base.inner_join(rows, base.condition == rows._cond).drop("_cond")


def _systems() -> ir.Table:
    """(alias, system) with each system's own name as an alias too (casemix_frame's system match)."""
    pairs = sorted({(a, s) for s, al in CODE_SYSTEM_ALIASES.items() for a in (s, *al)})
    return ibis.memtable({"_alias": [a for a, _ in pairs], "_csys": [s for _, s in pairs]},
                         schema={"_alias": "string", "_csys": "string"})


def _prom_target(tpl: ConditionTemplate, var: PromScore) -> tuple[TimePoint, str | None]:
    tp, scales = TimePoint(label=var.time_point, day=-30, window_days=60), list[str]()
    for m in tpl.outcomes:
        if m.instrument == var.instrument:
            scales = scales or list(m.scales)
            tp = next((x for x in m.time_points if x.label == var.time_point), tp)
    return tp, (scales[0] if scales else None)


def casemix_long(con: Counted, templates: Sequence[ConditionTemplate], base: ir.Table,
                 scratch: Scratch) -> tuple[ir.Table | None, list[str]]:
    """Long case-mix rows (``CASEMIX_COLUMNS``) of every variable of every template over ``base``
    (the cycles of all templates), and ``template:variable`` of those whose data is not in the store."""
    have = set(con.list_tables())
    pcols = con.table("patients").columns
    unknown: list[str] = []
    demo: dict[str, list[dict[str, Any]]] = {}
    obs: list[dict[str, Any]] = []
    counts: list[dict[str, Any]] = []
    onsets: list[dict[str, Any]] = []
    proms: list[dict[str, Any]] = []
    risk: dict[str, list[dict[str, Any]]] = {}
    keyed: list[tuple[str, Any]] = []
    for tpl in templates:
        for var in tpl.case_mix:
            row: dict[str, Any] = {"_cond": tpl.id, "_var": var.id}
            if isinstance(var, Demographic):
                if var.field != "age" and var.field not in pcols:
                    unknown.append(f"{tpl.id}:{var.id}")
                    continue
                demo.setdefault(var.field, []).append(row)
            elif isinstance(var, Observation):
                obs.append({**row, "_ocode": var.code, "_osys": var.system})
            elif isinstance(var, ConditionCount | OnsetYears):
                key = f"{tpl.id}|set:{var.code_set}"
                keyed.append((key, tpl.code_sets[var.code_set]))
                (counts if isinstance(var, ConditionCount) else onsets).append({**row, "_key": key})
            elif isinstance(var, PromScore):
                if "prom_scores" not in have:
                    unknown.append(f"{tpl.id}:{var.id}")
                    continue
                tp, scale = _prom_target(tpl, var)
                proms.append({**row, "_inst": var.instrument, "_pscale": scale, "_pday": tp.day,
                              "_pwin": tp.window_days})
            elif isinstance(var, RiskScore):
                if RISK_SCORE_TABLES[var.score][0] not in have:
                    unknown.append(f"{tpl.id}:{var.id}")
                    continue
                risk.setdefault(var.score, []).append(row)
    var_schema = {"_cond": "string", "_var": "string"}
    parts: list[ir.Table] = []
    for field, rows in demo.items():
        t = _on(base, _rows(rows, var_schema))
        if field == "age":
            p = con.table("patients").select(_pid="patient_id", _birth="birth_date")
            t = t.inner_join(p, t.patient_id == p._pid)
            parts.append(_out(t, days_between(t.anchor_ts, t._birth.cast("timestamp")) / 365.25))
            continue
        p = con.table("patients")
        p = p.select(_pid="patient_id", _v=p[field])
        t = t.inner_join(p, t.patient_id == p._pid)
        numeric = t._v.type().is_numeric() or t._v.type().is_boolean()
        parts.append(_out(t, t._v if numeric else None, None if numeric else t._v))
    if obs:
        t = _on(base, _rows(obs, {**var_schema, "_ocode": "string", "_osys": "string"}))
        o = con.table("observations").select(_pid="patient_id", _ts="effective_ts", _num="value_num",
                                             _code="value_code", _c="code", _s="code_system")
        s = _systems()
        o = o.left_join(s, o._s == s._alias).drop("_alias")
        j = t.inner_join(o, [t.patient_id == o._pid, t._ocode == o._c])
        j = j.filter((j._s.isnull() | (j._csys == j._osys)) & (j._ts <= j.anchor_ts + ibis.interval(days=GRACE_DAYS)))
        j = j.select("cycle_id", "condition", "_var", "_ts", "_num", "_code").distinct()
        w = ibis.window(group_by=["cycle_id", "_var"], order_by=[  # ties: the lowest value, as casemix_frame
            ibis.desc("_ts"), ibis.asc("_num", nulls_first=True), ibis.asc("_code", nulls_first=True)])
        j = j.mutate(_rank=ibis.row_number().over(w))
        j = j.filter(j._rank == 0)
        parts.append(_out(j, j._num, ibis.cases((j._num.isnull(), j._code), else_=ibis.null().cast("string"))))
    if keyed and "conditions" in have:
        rows = code_match.code_rows(keyed, con.crosswalk)
        m = code_match.match(record_codes(con, ("conditions",)), rows, code_match.shapes_of(keyed, con.crosswalk))
        matched = scratch.write("casemix_conditions", m)
        key_schema = {**var_schema, "_key": "string"}
        if counts:
            t = _on(base, _rows(counts, key_schema))
            j = t.inner_join(matched, [t.patient_id == matched._pid, t._key == matched._key])
            j = j.filter((j._ts_on <= j.anchor_ts) & (j._off.isnull() | (j._off > j.anchor_ts)))
            n = j.group_by(_cc="cycle_id", _cv="_var").aggregate(_n=j._code0.nunique())
            t = t.left_join(n, [t.cycle_id == n._cc, t._var == n._cv])
            parts.append(_out(t, t._n.coalesce(0)))
        if onsets:
            t = _on(base, _rows(onsets, key_schema))
            first = matched.group_by("_pid", "_key").aggregate(_first=matched._ts_on.min())
            t = t.inner_join(first, [t.patient_id == first._pid, t._key == first._key])
            parts.append(_out(t, ibis.greatest(days_between(t.anchor_ts, t._first) / 365.25, 0.0)))
    if proms:
        t = _on(base, _rows(proms, {**var_schema, "_inst": "string", "_pscale": "string", "_pday": "int64",
                                    "_pwin": "int64"}))
        ps = con.table("prom_scores")
        ps = ps.filter((ps.status == "scored") & ps.score.notnull()).select(
            _pid="patient_id", _pi="instrument", _sc="scale", _ts="authored_ts", _score="score")
        j = t.inner_join(ps, [t.patient_id == ps._pid, t._inst == ps._pi])
        j = j.filter(j._pscale.isnull() | (j._sc == j._pscale))
        j = j.mutate(_d=days_between(j._ts, j.anchor_ts))
        j = j.filter((j._d >= j._pday - j._pwin) & (j._d <= j._pday + j._pwin))
        j = j.mutate(_dist=(j._d - j._pday).abs())
        w = ibis.window(group_by=["cycle_id", "_var"], order_by=["_dist", "_ts", "_score"])
        j = j.mutate(_rank=ibis.row_number().over(w))
        j = j.filter(j._rank == 0)
        parts.append(_out(j, j._score))
    for score, rows in risk.items():
        table, column = RISK_SCORE_TABLES[score]
        t = _on(base, _rows(rows, var_schema))
        r = con.table(table)
        r = r.select(_pid="patient_id", _score=r[column])
        t = t.inner_join(r, t.patient_id == r._pid)
        parts.append(_out(t, t._score))
    if not parts:
        return None, unknown
    out = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return out.select(*CASEMIX_COLUMNS), unknown
