"""Outcome values and evidence set-based: one expression per calculation family covering every
template, measure and time point, joined to the spec tables (engine/outcome_specs.py).

:func:`write_outcomes` materialises what the families share as scratch tables (the cycle base of
every template; the coded records matched once against every code list; each family's hits), so
each written table compiles a small expression, then writes ``outcome_values`` and
``outcome_evidence`` from them. Survival and mortality come from ``patients.death_date``, PROM
scores from ``prom_scores``, clinical values from ``observations``, complications / revisions /
recurrences from coded records, length of stay and readmissions from inpatient encounters; every
value row has evidence rows naming the records it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.valueset import ValueSet
from carevalue.engine import code_match
from carevalue.engine.outcome_measures import (
    BINARY,
    CONTINUOUS,
    STAY_SEARCH_DAYS,
    VALUE_COLUMNS,
    data_end,
    days_between,
)
from carevalue.engine.outcome_specs import ANY, CLASSES, RECORDED, Specs, build_specs
from carevalue.engine.record_filter import Counted

VALUE_TYPES = {"tier": "int64", "level": "int64", "time_point_day": "int64", "value": "float64", "event": "int64",
               "time_days": "float64", "censored": "boolean", "anchor_ts": "timestamp"}
DEATH = ("survival", "mortality")
EVENTS = ("event", "encounters")


class Scratch:
    """Scratch tables written during one stage and dropped afterwards: temporary tables where the
    backend has them (DuckDB: kept in memory, spilled only when large, never compressed into the
    store file, about a quarter of a stored table's cost), stored tables elsewhere (Spark)."""

    def __init__(self, con: BaseBackend, prefix: str = "_ov_") -> None:
        self.con, self.prefix, self.names = con, prefix, list[str]()
        self.temp = bool(getattr(con, "supports_temporary_tables", False)) and con.name == "duckdb"

    def write(self, name: str, expr: ir.Table) -> ir.Table:
        full = self.prefix + name
        self.names.append(full)
        if self.temp:
            self.con.raw_sql(f"DROP TABLE IF EXISTS temp.main.{full}")
            return self.con.create_table(full, expr, temp=True)
        return write_table(self.con, full, expr)

    def drop(self) -> None:
        for n in self.names:
            self.con.raw_sql(f"DROP TABLE IF EXISTS {n}")


def all_cycles(con: Counted, templates: Sequence[ConditionTemplate], end: datetime) -> ir.Table:
    """Cycles of every template with anchor, death and follow-up end (death or data end)."""
    c = con.table("care_cycles")
    c = c.filter(c.condition.isin([t.id for t in templates]))
    p = con.table("patients").select(_pid="patient_id", _death="death_date")
    j = c.left_join(p, c.patient_id == p._pid)
    anchor = ibis.cases((j.cycle_type == "chronic", j.start_ts), else_=j.index_ts.coalesce(j.start_ts))
    return j.select("cycle_id", "patient_id", "condition", "organization_id", "cycle_type", "trigger_table",
                    "trigger_id", anchor_ts=anchor, death_ts=j._death.cast("timestamp"),
                    data_end_ts=ibis.literal(end, "timestamp"))


CODED = ("conditions", "procedures", "observations", "encounters")


def record_codes(con: Counted, tables: Sequence[str] = CODED) -> ir.Table:
    """Every coded record of ``tables`` once per code it carries (encounters: code and reason):
    (_tbl, _id, _pid, _ts_on, _ts_rec, _class, _num, _code0, _off, _system, _code)."""
    have = set(con.list_tables()) & set(tables)
    null_s, null_t, null_f = ibis.null().cast("string"), ibis.null().cast("timestamp"), ibis.null().cast("float64")
    parts = []

    def part(name: str, t: ir.Table, idcol: str, on: ir.Value, rec: ir.Value, cls: ir.Value, num: ir.Value,
             off: ir.Value, system: str, code: str) -> None:
        parts.append(t.select(_tbl=ibis.literal(name), _id=t[idcol].cast("string"), _pid=t.patient_id,
                              _ts_on=on.cast("timestamp"), _ts_rec=rec.cast("timestamp"), _class=cls.cast("string"),
                              _num=num.cast("float64"), _code0=t.code.cast("string"), _off=off.cast("timestamp"),
                              _system=t[system].cast("string"), _code=t[code].cast("string")))

    if "conditions" in have:
        t = con.table("conditions")
        part("conditions", t, "condition_id", t.onset_ts.coalesce(t.recorded_ts), t.recorded_ts.coalesce(t.onset_ts),
             null_s, null_f, t.abatement_ts, "code_system", "code")
    if "procedures" in have:
        t = con.table("procedures")
        part("procedures", t, "procedure_id", t.start_ts, t.start_ts, null_s, null_f, null_t, "code_system", "code")
    if "observations" in have:
        t = con.table("observations")
        part("observations", t, "observation_id", t.effective_ts, t.effective_ts, null_s, t.value_num, null_t,
             "code_system", "code")
    if "encounters" in have:
        t = con.table("encounters")
        for system, code in (("code_system", "code"), ("reason_system", "reason_code")):
            part("encounters", t, "encounter_id", t.start_ts, t.start_ts, t.class_code, null_f, null_t, system, code)
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def matched_records(con: Counted, specs: Specs) -> ir.Table | None:
    """Every coded record joined to the record keys whose code lists it matches (``_key``)."""
    keyed = specs.keyed_groups()
    if not keyed or not ({"conditions", "procedures", "observations", "encounters"} & set(con.list_tables())):
        return None
    rows = code_match.code_rows(keyed, con.crosswalk)
    return code_match.match(record_codes(con), rows, code_match.shapes_of(keyed, con.crosswalk))


def key_events(con: Counted, specs: Specs, matched: ir.Table | None) -> ir.Table:
    """(_rk, _pid, _tbl, _id, _ts): the records each record key counts, timed as its variant says."""
    cols = ("_rk", "_pid", "_tbl", "_id", "_ts")
    v = specs.variants_table()
    cls = specs.classes_table()
    parts = []
    if matched is not None:
        m = matched.inner_join(v, matched._key == v._rk)
        anyv = m.filter((m._variant == ANY) & m._ts_on.notnull())
        parts.append(anyv.select("_rk", "_pid", "_tbl", "_id", _ts=anyv._ts_on))
        rec = m.filter((m._variant == RECORDED) & (m._tbl == "conditions") & m._ts_rec.notnull())
        parts.append(rec.select("_rk", "_pid", "_tbl", "_id", _ts=rec._ts_rec))
        enc = m.filter((m._variant == CLASSES) & (m._tbl == "encounters") & m._ts_on.notnull())
        enc = enc.inner_join(cls, [enc._rk == cls._rk, enc._class == cls._class])
        parts.append(enc.select("_rk", "_pid", "_tbl", "_id", _ts=enc._ts_on))
    if "encounters" in con.list_tables():
        e = con.table("encounters")
        e = e.filter(e.start_ts.notnull())
        o = v.filter(v._open & (v._variant == CLASSES)).select("_rk")
        oc = cls.inner_join(o, "_rk")
        j = e.inner_join(oc, e.class_code == oc._class)
        parts.append(j.select("_rk", _pid=j.patient_id, _tbl=ibis.literal("encounters"),
                              _id=j.encounter_id.cast("string"), _ts=j.start_ts))
    if not parts:
        return ibis.memtable({c: [] for c in cols}, schema={c: "timestamp" if c == "_ts" else "string" for c in cols})
    return (ibis.union(*parts) if len(parts) > 1 else parts[0]).distinct()


# ---- the values and evidence columns ---------------------------------------------------------------

def _values(t: ir.Table, scale: ir.Value | None, value_type: str, value: ir.Value, event: ir.Value,
            time_days: ir.Value, censored: ir.Value, evidence: tuple[ir.Value, ir.Value] | None = None) -> ir.Table:
    """The value columns and, for a family with one evidence record per value, that record's table
    and id (``_ev_table``, ``_ev_id``; ``_ev1`` says which rows carry one): values and evidence then
    come from one written row set instead of computing the family twice."""
    ev_cols = {"_ev1": ibis.literal(evidence is not None),
               "_ev_table": (evidence[0] if evidence else ibis.null()).cast("string"),
               "_ev_id": (evidence[1] if evidence else ibis.null()).cast("string")}
    cols = {"cycle_id": t.cycle_id, "patient_id": t.patient_id, "condition": t.condition, "measure": t.measure,
            "tier": t.tier, "level": t.level, "time_point": t.time_point, "time_point_day": t.time_point_day,
            "scale": (scale if scale is not None else ibis.null()).cast("string"),
            "value": value.cast("float64"), "value_type": ibis.literal(value_type), "event": event.cast("int64"),
            "time_days": time_days.cast("float64"), "censored": censored.cast("boolean"),
            "organization_id": t.organization_id, "anchor_ts": t.anchor_ts}
    return t.select(**{c: cols[c].cast(VALUE_TYPES[c]) if c in VALUE_TYPES else cols[c] for c in VALUE_COLUMNS},
                    **ev_cols)


def _evidence(t: ir.Table, table: ir.Value, record: ir.Value) -> ir.Table:
    return t.select(cycle_id=t.cycle_id, condition=t.condition, measure=t.measure, time_point=t.time_point,
                    evidence_table=table.cast("string"), evidence_id=record.cast("string"))


def _with_specs(base: ir.Table, specs: ir.Table) -> ir.Table:
    return base.inner_join(specs, base.condition == specs._cond).drop("_cond")


def _binary_from_first(t: ir.Table) -> ir.Table:
    """Binary value from ``_first`` (event time) relative to ``_start`` (censored at the data end unless death came first)."""
    d = t.time_point_day.cast("float64")
    event = t._first.notnull()
    died_day = days_between(t.death_ts, t._start)
    end_day = days_between(t.data_end_ts, t._start)
    died_before = t.death_ts.notnull() & (died_day <= d)
    censored = ~event & ~died_before & (end_day < d)
    stop = ibis.least(d, end_day, died_day.coalesce(d))
    time_days = ibis.cases((event, days_between(t._first, t._start)), else_=stop)
    flag = event.cast("int64")
    value = ibis.cases((censored, ibis.null().cast("float64")),
                       else_=ibis.cases((t._good, 1 - flag), else_=flag).cast("float64"))
    return _values(t, None, BINARY, value, flag, time_days, censored)


def _days(col: ir.IntegerValue) -> ir.IntervalValue:
    return col.as_interval("D")


def _nearest(j: ir.Table, keys: Sequence[str], target: ir.Value, ts: str, tie: str) -> ir.Table:
    """Per ``keys`` the row nearest ``target`` days, the earlier on equal distance and the record
    with the lower id ``tie`` at the same time, so the pick never depends on the engine's row order."""
    j = j.mutate(_dist=(j._d - target).abs())
    w = ibis.window(group_by=list(keys), order_by=["_dist", ts, ibis.asc(tie, nulls_first=True)])
    j = j.mutate(_rank=ibis.row_number().over(w))
    return j.filter(j._rank == 0)


# ---- the families: each returns (values, evidence) over all its specs ----------------------------

Family = tuple[ir.Table, ir.Table | None]  # (values, evidence of hits: None when the values carry it)


def death(base: ir.Table, specs: Specs) -> Family:
    """survival / mortality from patients.death_date."""
    t = _with_specs(base, specs.table(DEATH))
    d = t.time_point_day.cast("float64")
    died_day = days_between(t.death_ts, t.anchor_ts.truncate("D"))
    event = t.death_ts.notnull() & (died_day <= d)
    end_day = days_between(t.data_end_ts, t.anchor_ts)
    censored = ~event & (end_day < d)
    time_days = ibis.cases((event, died_day), else_=ibis.least(d, end_day))
    flag = event.cast("int64")
    value = ibis.cases((censored, ibis.null().cast("float64")),
                       else_=ibis.cases((t._good, 1 - flag), else_=flag).cast("float64"))
    return _values(t, None, BINARY, value, flag, time_days, censored, (ibis.literal("patients"), t.patient_id)), None


def _first(base_specs: ir.Table, hits: ir.Table) -> ir.Table:
    first = hits.group_by(_fc="cycle_id", _fs="_sid").aggregate(_first=hits._ts.min())
    out = base_specs.left_join(first, [base_specs.cycle_id == first._fc, base_specs._sid == first._fs])
    return out.drop("_fc", "_fs")


def events(base: ir.Table, specs: Specs, ev: ir.Table, scratch: Scratch) -> Family:
    """event / encounters: the first record of the measure's key after the anchor, up to the day."""
    b = _with_specs(base, specs.table(EVENTS)).mutate(_start=lambda x: x.anchor_ts)
    j = b.inner_join(ev, [b._rk == ev._rk, b.patient_id == ev._pid])
    hits = scratch.write("event_hits", j.filter((j._ts > j._start) & (j._ts <= j._start + _days(j.time_point_day))))
    return _binary_from_first(_first(b, hits)), _evidence(hits, hits._tbl, hits._id)


def index_stays(con: Counted, acute: ir.Table, enc: ir.Table, search: ir.Value) -> ir.Table:
    """Acute cycle x spec rows with their index stay (_stay_id, _adm, _dis; null for a day case) among
    ``enc`` (_pid, _stay_id, _adm, _dis, and _rk when per key): the stay containing the anchor or
    starting nearest to it within ``search`` days."""
    on = [acute.patient_id == enc._pid] + ([acute._rk == enc._rk] if "_rk" in enc.columns else [])
    j = acute.inner_join(enc, on)
    j = j.mutate(_d=days_between(j._adm, j.anchor_ts))
    contains = (j._adm <= j.anchor_ts) & (j._dis.coalesce(j._adm) >= j.anchor_ts)
    j = j.filter(contains | (j._d.abs() <= search))
    j = j.mutate(_d=ibis.cases((contains, 0.0), else_=j._d))
    j = _nearest(j, ["cycle_id", "_sid"], ibis.literal(0.0), "_adm", "_stay_id").select(
        _sc="cycle_id", _ss="_sid", _stay_id="_stay_id", _adm="_adm", _dis="_dis")
    return acute.left_join(j, [acute.cycle_id == j._sc, acute._sid == j._ss]).drop("_sc", "_ss")


def _encounters(con: Counted) -> ir.Table:
    e = con.table("encounters")
    return e.select(_pid="patient_id", _stay_id="encounter_id", _adm="start_ts", _dis="end_ts", _class="class_code")


def length_of_stay(con: Counted, base: ir.Table, specs: Specs) -> Family:
    """length-of-stay: midnights of the index stay of the measure's classes; no stay = a day case (0)."""
    acute = _with_specs(base.filter(base.cycle_type == "acute"), specs.table(("length-of-stay",)))
    e = _encounters(con)
    cls = specs.classes_table()
    e = e.inner_join(cls, e._class == cls._class).select("_pid", "_stay_id", "_adm", "_dis", "_rk")
    s = index_stays(con, acute, e, ibis.greatest(acute._window, 0))
    los = ibis.cases((s._stay_id.notnull(), days_between(s._dis.coalesce(s._adm).truncate("D"), s._adm.truncate("D"))),
                     else_=ibis.literal(0.0))
    ev = (ibis.cases((s._stay_id.notnull(), "encounters"), else_=s.trigger_table), s._stay_id.coalesce(s.trigger_id))
    return _values(s, None, CONTINUOUS, los, ibis.null().cast("int64"), s.time_point_day.cast("float64"),
                   ibis.literal(False), ev), None


def readmission(con: Counted, base: ir.Table, specs: Specs, ev: ir.Table, scratch: Scratch) -> Family:
    """readmission: the first encounter of the measure's classes after the index stay's discharge."""
    acute = _with_specs(base.filter(base.cycle_type == "acute"), specs.table(("readmission",)))
    e = _encounters(con)
    e = e.filter(e._class == "IMP").select("_pid", "_stay_id", "_adm", "_dis")
    s = index_stays(con, acute, e, ibis.literal(STAY_SEARCH_DAYS))
    s = s.mutate(_start=s._dis.coalesce(s._adm).coalesce(s.anchor_ts))
    j = s.inner_join(ev, [s._rk == ev._rk, s.patient_id == ev._pid])
    hits = scratch.write("readmit_hits", j.filter((j._ts > j._start) & (j._ts <= j._start + _days(j.time_point_day))))
    return _binary_from_first(_first(s, hits)), _evidence(hits, hits._tbl, hits._id)


def prom_score(con: Counted, base: ir.Table, specs: Specs) -> Family:
    """prom-score: the instrument's score per scale nearest the time point within its window."""
    b = _with_specs(base, specs.table(("prom-score",)))
    ps = con.table("prom_scores")
    ps = ps.filter((ps.status == "scored") & ps.score.notnull()).select(
        _pid="patient_id", _inst="instrument", _rid="response_id", _scale="scale", _score="score", _ts="authored_ts")
    sc = specs.scales_table()
    every = b.filter(b._all_scales)
    j1 = every.inner_join(ps, [every.patient_id == ps._pid, every._instrument == ps._inst])
    some = b.filter(~b._all_scales)
    j2 = some.inner_join(ps, [some.patient_id == ps._pid, some._instrument == ps._inst])
    j2 = j2.inner_join(sc, [j2._sid == sc._ssid, j2._scale == sc._sscale]).drop("_ssid", "_sscale")
    j = ibis.union(j1, j2)
    j = j.mutate(_d=days_between(j._ts, j.anchor_ts))
    j = j.filter((j._d >= j.time_point_day - j._window) & (j._d <= j.time_point_day + j._window))
    j = _nearest(j, ["cycle_id", "_sid", "_scale"], j.time_point_day, "_ts", "_rid")
    return _values(j, j._scale, CONTINUOUS, j._score, ibis.null().cast("int64"), j._d, ibis.literal(False),
                   (ibis.literal("questionnaire_responses"), j._rid)), None


def latest_value(base: ir.Table, specs: Specs, matched: ir.Table) -> Family:
    """latest-value: the measure's observation value nearest the time point within its window."""
    b = _with_specs(base, specs.table(("latest-value",)))
    o = matched.filter((matched._tbl == "observations") & matched._num.notnull()).select(
        _pid="_pid", _key="_key", _oid="_id", _v="_num", _ts="_ts_on").distinct()
    j = b.inner_join(o, [b.patient_id == o._pid, b._rk == o._key])
    j = j.mutate(_d=days_between(j._ts, j.anchor_ts))
    j = j.filter((j._d >= j.time_point_day - j._window) & (j._d <= j.time_point_day + j._window))
    j = _nearest(j, ["cycle_id", "_sid"], j.time_point_day, "_ts", "_oid")
    return _values(j, None, CONTINUOUS, j._v, ibis.null().cast("int64"), j._d, ibis.literal(False),
                   (ibis.literal("observations"), j._oid)), None


def time_from_diagnosis(base: ir.Table, specs: Specs, ev: ir.Table) -> Family:
    """time-from-diagnosis: whole days from the first diagnosis record (up to a day after) to the anchor."""
    b = _with_specs(base, specs.table(("time-from-diagnosis",)))
    j = b.inner_join(ev, [b._rk == ev._rk, b.patient_id == ev._pid])
    j = j.filter(j._ts <= j.anchor_ts + ibis.interval(days=1))
    w = ibis.window(group_by=["cycle_id", "_sid"], order_by=["_ts", "_tbl", "_id"])
    j = j.mutate(_rank=ibis.row_number().over(w))
    j = j.filter(j._rank == 0)
    days = ibis.greatest(days_between(j.anchor_ts.truncate("D"), j._ts.truncate("D")), 0.0)
    return _values(j, None, CONTINUOUS, days, ibis.null().cast("int64"), days, ibis.literal(False),
                   (j._tbl, j._id)), None


def composite(base: ir.Table, specs: Specs, ev: ir.Table, scratch: Scratch) -> Family:
    """composite-event: any component within its own window (capped at the time point); excluded
    cycles (an exclusion code from_day..to_day of the anchor) get no value."""
    b = _with_specs(base, specs.table(("composite-event",)))
    if specs.exclusions:
        x = specs.exclusions_table()
        j = b.inner_join(x, b._sid == x._xsid)
        j = j.inner_join(ev, [j._xrk == ev._rk, j.patient_id == ev._pid])
        d = days_between(j._ts.truncate("D"), j.anchor_ts.truncate("D"))
        out = j.filter((d >= j._xfrom) & (d <= j._xto)).select(_xc="cycle_id", _xs="_sid").distinct()
        b = b.anti_join(out, [b.cycle_id == out._xc, b._sid == out._xs])
    comps = specs.components_table()
    bc = b.inner_join(comps, b._sid == comps._csid)
    coded = bc.filter(~bc._cdeath)
    cj = coded.inner_join(ev, [coded._crk == ev._rk, coded.patient_id == ev._pid])
    cj = cj.filter((cj._ts > cj.anchor_ts) & (cj._ts <= cj.anchor_ts + _days(cj._cwin)))
    died = bc.filter(bc._cdeath & bc.death_ts.notnull())
    dj = died.filter((died.death_ts.truncate("D") >= died.anchor_ts.truncate("D"))
                     & (died.death_ts <= died.anchor_ts + _days(died._cwin)))
    keep = ("cycle_id", "condition", "measure", "time_point", "_sid")
    hits = ibis.union(
        cj.select(*keep, _tbl=cj._tbl.cast("string"), _id=cj._id.cast("string"), _ts=cj._ts.cast("timestamp")),
        dj.select(*keep, _tbl=ibis.literal("patients"), _id=dj.patient_id.cast("string"),
                  _ts=dj.death_ts.cast("timestamp")))
    hits = scratch.write("composite_hits", hits)
    t = _first(b.mutate(_start=b.anchor_ts), hits)
    return _binary_from_first(t), _evidence(hits, hits._tbl, hits._id)


def cycles_scratch(src: Counted, templates: Sequence[ConditionTemplate], scratch: Scratch) -> ir.Table:
    """:func:`all_cycles` written once as a scratch table (what outcomes and case-mix share)."""
    return scratch.write("base", all_cycles(src, templates, data_end(src)))


def write_outcomes(con: BaseBackend, src: Counted, templates: Sequence[ConditionTemplate],
                   value_sets: Mapping[str, ValueSet] | None, base: ir.Table, scratch: Scratch
                   ) -> tuple[ir.Table | None, ir.Table | None]:
    """Write ``outcome_values`` and ``outcome_evidence`` (distinct) of every template's measures
    over ``base`` (:func:`cycles_scratch`) and return them (None, None when no template has a
    measure to compute); intermediates go to ``scratch``."""
    specs = build_specs(templates, value_sets)
    have = set(src.list_tables())
    m = matched_records(src, specs)
    matched = scratch.write("matched", m) if m is not None else None
    ev = scratch.write("events", key_events(src, specs, matched))
    steps: list[tuple[tuple[str, ...], Callable[[], Family]]] = [
        (DEATH, lambda: death(base, specs)),
        (EVENTS, lambda: events(base, specs, ev, scratch)),
        (("length-of-stay",), lambda: length_of_stay(src, base, specs)),
        (("readmission",), lambda: readmission(src, base, specs, ev, scratch)),
        (("time-from-diagnosis",), lambda: time_from_diagnosis(base, specs, ev)),
        (("composite-event",), lambda: composite(base, specs, ev, scratch)),
    ]
    if "prom_scores" in have:
        steps.append((("prom-score",), lambda: prom_score(src, base, specs)))
    if matched is not None:
        steps.append((("latest-value",), lambda: latest_value(base, specs, matched)))
    vals, evs = [], []
    for calcs, fam in steps:
        if specs.has(*calcs):
            v, e = fam()
            vals.append(v)
            if e is not None:
                evs.append(e)
    if not vals:
        return None, None
    rows = scratch.write("values", ibis.union(*vals) if len(vals) > 1 else vals[0])
    v = write_table(con, "outcome_values", rows.select(*VALUE_COLUMNS))
    one = rows.filter(rows._ev1)
    evs.insert(0, _evidence(one, one._ev_table, one._ev_id))
    e = write_table(con, "outcome_evidence", (ibis.union(*evs) if len(evs) > 1 else evs[0]).distinct())
    return v, e
