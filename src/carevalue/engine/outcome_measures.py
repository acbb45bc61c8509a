"""Outcome values per care cycle, derived from a condition template's outcome set (F9).

Each measure's ``calculation`` (definitions/outcome.py) becomes one Ibis expression over the store:
survival and mortality from ``patients.death_date``, PROM scores from ``prom_scores``, clinical
values from ``observations``, complications / revisions / recurrences from coded records, length
of stay and readmissions from inpatient encounters. Every value row has evidence rows naming the
records it came from. Time points count days from the cycle's anchor: the index event of an acute
cycle, the start of a chronic cycle's period. Nothing here names a condition.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import ibis
import ibis.expr.types as ir

from carevalue.definitions.base import CodeGroup
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.outcome import (
    OutcomeComponent,
    OutcomeExclusion,
    OutcomeMeasure,
    TimePoint,
)
from carevalue.definitions.valueset import ValueSet
from carevalue.engine.codesets import matches
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


def _meta(m: OutcomeMeasure, tp: TimePoint, scale: ir.StringValue | None, value_type: str) -> dict[str, ir.Value]:
    return {"measure": ibis.literal(m.id), "tier": ibis.literal(m.tier, "int64"),
            "level": ibis.literal(m.level, "int64"), "time_point": ibis.literal(tp.label),
            "time_point_day": ibis.literal(tp.day, "int64"),
            "scale": scale if scale is not None else ibis.null().cast("string"),
            "value_type": ibis.literal(value_type)}


def _values(t: ir.Table, meta: dict[str, ir.Value], value: ir.Value, event: ir.Value,
            time_days: ir.Value, censored: ir.Value) -> ir.Table:
    cols = {"cycle_id": t.cycle_id, "patient_id": t.patient_id, "condition": t.condition, **meta,
            "value": value.cast("float64"), "event": event.cast("int64"),
            "time_days": time_days.cast("float64"), "censored": censored.cast("boolean"),
            "organization_id": t.organization_id, "anchor_ts": t.anchor_ts}
    return t.select(**{c: cols[c] for c in VALUE_COLUMNS})


def _evidence(t: ir.Table, m: OutcomeMeasure, tp: TimePoint, table: ir.StringValue | str,
              record: ir.StringValue) -> ir.Table:
    tbl = ibis.literal(table) if isinstance(table, str) else table
    return t.select(cycle_id=t.cycle_id, condition=t.condition, measure=ibis.literal(m.id),
                    time_point=ibis.literal(tp.label), evidence_table=tbl.cast("string"),
                    evidence_id=record.cast("string"))


def _groups(tpl: ConditionTemplate, m: OutcomeMeasure, default_set: str | None = None) -> list[CodeGroup]:
    name = m.code_set or default_set
    return list(m.codes) + (list(tpl.code_sets[name]) if name else [])


def coded_records(con: Counted, groups: Sequence[CodeGroup], *, diagnosis_time: str = "onset",
                  encounter_classes: Sequence[str] = ()) -> ir.Table:
    """Records whose code is in ``groups``: (_pid, _tbl, _id, _ts) from conditions, procedures,
    observations and encounters (code or reason). Conditions are timed at onset, or when recorded
    with ``diagnosis_time='recorded'``. With ``encounter_classes`` only such encounters count."""
    have = set(con.list_tables())
    parts: list[ir.Table] = []

    def part(name: str, idcol: str, ts: ir.TimestampValue, hit: ir.BooleanValue, t: ir.Table) -> None:
        parts.append(t.filter(hit & ts.notnull()).select(
            _pid=t.patient_id, _tbl=ibis.literal(name), _id=t[idcol].cast("string"), _ts=ts))

    if encounter_classes:
        if "encounters" in have:
            e = con.table("encounters")
            hit = e.class_code.isin(list(encounter_classes))
            if groups:
                hit = hit & (matches(e.code_system, e.code, groups, con.crosswalk) | matches(e.reason_system, e.reason_code, groups, con.crosswalk))
            part("encounters", "encounter_id", e.start_ts, hit, e)
    else:
        if "conditions" in have:
            t = con.table("conditions")
            ts = (t.recorded_ts.coalesce(t.onset_ts) if diagnosis_time == "recorded"
                  else t.onset_ts.coalesce(t.recorded_ts))
            part("conditions", "condition_id", ts, matches(t.code_system, t.code, groups, con.crosswalk), t)
        if diagnosis_time != "recorded":
            if "procedures" in have:
                t = con.table("procedures")
                part("procedures", "procedure_id", t.start_ts, matches(t.code_system, t.code, groups, con.crosswalk), t)
            if "observations" in have:
                t = con.table("observations")
                part("observations", "observation_id", t.effective_ts,
                     matches(t.code_system, t.code, groups, con.crosswalk), t)
            if "encounters" in have:
                t = con.table("encounters")
                part("encounters", "encounter_id", t.start_ts,
                     matches(t.code_system, t.code, groups, con.crosswalk) | matches(t.reason_system, t.reason_code, groups, con.crosswalk), t)
    if not parts:
        return ibis.memtable({"_pid": [], "_tbl": [], "_id": [], "_ts": []},
                             schema={"_pid": "string", "_tbl": "string", "_id": "string", "_ts": "timestamp"})
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def _first_event(base: ir.Table, rec: ir.Table, start: ir.TimestampValue | None, day: int,
                 inclusive_start: bool) -> tuple[ir.Table, ir.Table]:
    """(cycles with _first = first record in (start, start + day], records in that window)."""
    b = base.mutate(_start=base.anchor_ts if start is None else start)
    j = b.inner_join(rec, b.patient_id == rec._pid)
    after = (j._ts >= j._start) if inclusive_start else (j._ts > j._start)
    hits = j.filter(after & (j._ts <= j._start + ibis.interval(days=day)))
    first = hits.group_by(_fc="cycle_id").aggregate(_first=hits._ts.min())
    out = b.left_join(first, b.cycle_id == first._fc)
    return out, hits


def _binary_from_first(t: ir.Table, m: OutcomeMeasure, tp: TimePoint, good_event: bool) -> ir.Table:
    """Binary value, event, time and censoring from ``_first`` (event time) relative to ``_start``."""
    d = float(tp.day)
    event = t._first.notnull()
    died_day = days_between(t.death_ts, t._start)
    end_day = days_between(t.data_end_ts, t._start)
    died_before = t.death_ts.notnull() & (died_day <= d)
    censored = ~event & ~died_before & (end_day < d)
    stop = ibis.least(ibis.literal(d), end_day, died_day.coalesce(ibis.literal(d)))
    time_days = ibis.cases((event, days_between(t._first, t._start)), else_=stop)
    flag = event.cast("int64")
    value = ibis.cases((censored, ibis.null().cast("float64")),
                       else_=(1 - flag if good_event else flag).cast("float64"))
    return _values(t, _meta(m, tp, None, BINARY), value, flag, time_days, censored)


def _death(base: ir.Table, m: OutcomeMeasure, tp: TimePoint, survival: bool) -> tuple[ir.Table, ir.Table]:
    d = float(tp.day)
    anchor_day = base.anchor_ts.truncate("D")
    died_day = days_between(base.death_ts, anchor_day)
    event = base.death_ts.notnull() & (died_day <= d)
    end_day = days_between(base.data_end_ts, base.anchor_ts)
    censored = ~event & (end_day < d)
    time_days = ibis.cases((event, died_day), else_=ibis.least(ibis.literal(d), end_day))
    flag = event.cast("int64")
    value = ibis.cases((censored, ibis.null().cast("float64")),
                       else_=(1 - flag if survival else flag).cast("float64"))
    vals = _values(base, _meta(m, tp, None, BINARY), value, flag, time_days, censored)
    ev = _evidence(base, m, tp, "patients", base.patient_id)
    return vals, ev


def _nearest(j: ir.Table, keys: Sequence[str], target: float, ts: str) -> ir.Table:
    j = j.mutate(_dist=(j._d - target).abs())
    w = ibis.window(group_by=list(keys), order_by=["_dist", ts])
    j = j.mutate(_rank=ibis.row_number().over(w))
    return j.filter(j._rank == 0)


def _prom(con: Counted, base: ir.Table, m: OutcomeMeasure, tp: TimePoint) -> tuple[ir.Table, ir.Table]:
    ps = con.table("prom_scores")
    ps = ps.filter((ps.status == "scored") & ps.score.notnull() & (ps.instrument == m.instrument))
    if m.scales:
        ps = ps.filter(ps.scale.isin(list(m.scales)))
    ps = ps.select(_pid="patient_id", _rid="response_id", _scale="scale", _score="score", _ts="authored_ts")
    j = base.inner_join(ps, base.patient_id == ps._pid)
    j = j.mutate(_d=days_between(j._ts, j.anchor_ts))
    j = j.filter((j._d >= tp.day - tp.window_days) & (j._d <= tp.day + tp.window_days))
    j = _nearest(j, ["cycle_id", "_scale"], tp.day, "_ts")
    vals = _values(j, _meta(m, tp, j._scale, CONTINUOUS), j._score, ibis.null().cast("int64"), j._d,
                   ibis.literal(False))
    return vals, _evidence(j, m, tp, "questionnaire_responses", j._rid)


def _latest_value(con: Counted, tpl: ConditionTemplate, base: ir.Table, m: OutcomeMeasure,
                  tp: TimePoint) -> tuple[ir.Table, ir.Table]:
    o = con.table("observations")
    o = o.filter(matches(o.code_system, o.code, _groups(tpl, m), con.crosswalk) & o.value_num.notnull())
    o = o.select(_pid="patient_id", _oid="observation_id", _v="value_num", _ts="effective_ts")
    j = base.inner_join(o, base.patient_id == o._pid)
    j = j.mutate(_d=days_between(j._ts, j.anchor_ts))
    j = j.filter((j._d >= tp.day - tp.window_days) & (j._d <= tp.day + tp.window_days))
    j = _nearest(j, ["cycle_id"], tp.day, "_ts")
    vals = _values(j, _meta(m, tp, None, CONTINUOUS), j._v, ibis.null().cast("int64"), j._d, ibis.literal(False))
    return vals, _evidence(j, m, tp, "observations", j._oid)


def index_stays(con: Counted, base: ir.Table, classes: Sequence[str], search_days: int) -> ir.Table:
    """Acute cycles with their index inpatient stay (_stay_id, _adm, _dis), null for a day case:
    the stay of the given classes that contains the index event or starts nearest to it."""
    e = con.table("encounters")
    e = e.filter(e.class_code.isin(list(classes))).select(
        _pid="patient_id", _stay_id="encounter_id", _adm="start_ts", _dis="end_ts")
    acute = base.filter(base.cycle_type == "acute")
    j = acute.inner_join(e, acute.patient_id == e._pid)
    j = j.mutate(_d=days_between(j._adm, j.anchor_ts))
    contains = (j._adm <= j.anchor_ts) & (j._dis.coalesce(j._adm) >= j.anchor_ts)
    j = j.filter(contains | (j._d.abs() <= search_days))
    j = j.mutate(_d=ibis.cases((contains, 0.0), else_=j._d))
    j = _nearest(j, ["cycle_id"], 0.0, "_adm").select(_sc="cycle_id", _stay_id="_stay_id", _adm="_adm", _dis="_dis")
    return acute.left_join(j, acute.cycle_id == j._sc).drop("_sc")


def _length_of_stay(con: Counted, base: ir.Table, m: OutcomeMeasure, tp: TimePoint) -> tuple[ir.Table, ir.Table]:
    s = index_stays(con, base, m.encounter_classes or ["IMP"], max(tp.window_days, 0))
    # Midnights between admission and discharge; no inpatient stay = a day case (0 days).
    los = ibis.cases((s._stay_id.notnull(),
                      days_between(s._dis.coalesce(s._adm).truncate("D"), s._adm.truncate("D"))),
                     else_=ibis.literal(0.0))
    vals = _values(s, _meta(m, tp, None, CONTINUOUS), los, ibis.null().cast("int64"),
                   ibis.literal(float(tp.day)), ibis.literal(False))
    ev = _evidence(s, m, tp, ibis.cases((s._stay_id.notnull(), "encounters"), else_=s.trigger_table),
                   s._stay_id.coalesce(s.trigger_id))
    return vals, ev


def _readmission(con: Counted, base: ir.Table, m: OutcomeMeasure, tp: TimePoint) -> tuple[ir.Table, ir.Table]:
    classes = m.encounter_classes or ["IMP"]
    s = index_stays(con, base, ["IMP"], STAY_SEARCH_DAYS)
    s = s.mutate(_discharge=s._dis.coalesce(s._adm).coalesce(s.anchor_ts))
    e = con.table("encounters")
    rec = e.filter(e.class_code.isin(list(classes))).select(
        _pid="patient_id", _tbl=ibis.literal("encounters"), _id="encounter_id", _ts="start_ts")
    # The index stay starts before its discharge, so it is never its own readmission.
    t, hits = _first_event(s, rec, s._discharge, tp.day, inclusive_start=False)
    vals = _binary_from_first(t, m, tp, good_event=False)
    return vals, _evidence(hits, m, tp, hits._tbl, hits._id)


def _event(con: Counted, tpl: ConditionTemplate, base: ir.Table, m: OutcomeMeasure, tp: TimePoint,
           classes: Sequence[str]) -> tuple[ir.Table, ir.Table]:
    rec = coded_records(con, _groups(tpl, m), encounter_classes=classes)
    t, hits = _first_event(base, rec, None, tp.day, inclusive_start=False)
    good = m.direction == "higher-better"
    return _binary_from_first(t, m, tp, good_event=good), _evidence(hits, m, tp, hits._tbl, hits._id)


def _time_from_diagnosis(con: Counted, tpl: ConditionTemplate, base: ir.Table, m: OutcomeMeasure,
                         tp: TimePoint) -> tuple[ir.Table, ir.Table]:
    rec = coded_records(con, _groups(tpl, m, "diagnosis"), diagnosis_time="recorded")
    j = base.inner_join(rec, base.patient_id == rec._pid)
    j = j.filter(j._ts <= j.anchor_ts + ibis.interval(days=1))
    w = ibis.window(group_by="cycle_id", order_by=["_ts", "_id"])
    j = j.mutate(_rank=ibis.row_number().over(w))
    j = j.filter(j._rank == 0)
    days = ibis.greatest(days_between(j.anchor_ts.truncate("D"), j._ts.truncate("D")), 0.0)
    vals = _values(j, _meta(m, tp, None, CONTINUOUS), days, ibis.null().cast("int64"), days, ibis.literal(False))
    return vals, _evidence(j, m, tp, j._tbl, j._id)


class MissingValueSet(LookupError):
    """A measure names a value set the library does not have."""


def component_groups(part: OutcomeComponent | OutcomeExclusion, value_sets: Mapping[str, ValueSet]
                     ) -> list[CodeGroup]:
    """The code groups of a component or exclusion: inline codes plus its value set's."""
    groups = list(part.codes)
    if part.value_set:
        if part.value_set not in value_sets:
            raise MissingValueSet(f"{part.id}: value set '{part.value_set}' is not in the library")
        groups += list(value_sets[part.value_set].codes)
    return groups


def excluded_cycles(con: Counted, base: ir.Table, exclusions: Sequence[OutcomeExclusion],
                    value_sets: Mapping[str, ValueSet]) -> ir.Table | None:
    """Cycle ids with an exclusion code recorded from `from_day` to `to_day` of the anchor (whole days)."""
    parts = []
    for ex in exclusions:
        rec = coded_records(con, component_groups(ex, value_sets))
        j = base.inner_join(rec, base.patient_id == rec._pid)
        d = days_between(j._ts.truncate("D"), j.anchor_ts.truncate("D"))
        parts.append(j.filter((d >= ex.from_day) & (d <= ex.to_day)).select(_xc=j.cycle_id))
    if not parts:
        return None
    return (ibis.union(*parts) if len(parts) > 1 else parts[0]).distinct()


def _composite(con: Counted, base: ir.Table, m: OutcomeMeasure, tp: TimePoint,
               value_sets: Mapping[str, ValueSet]) -> tuple[ir.Table, ir.Table]:
    """Any component first recorded after the anchor within its own window (capped at the time
    point); death components use patients.death_date. Excluded cycles get no value."""
    ex = excluded_cycles(con, base, m.exclusions, value_sets)
    if ex is not None:
        base = base.anti_join(ex, base.cycle_id == ex._xc)
    hits_parts = []
    for comp in m.components:
        if comp.death:
            rec = base.filter(base.death_ts.notnull()).select(
                _pid=base.patient_id, _tbl=ibis.literal("patients"), _id=base.patient_id.cast("string"),
                _ts=base.death_ts).distinct()
        else:
            rec = coded_records(con, component_groups(comp, value_sets),
                                encounter_classes=comp.encounter_classes)
        j = base.inner_join(rec, base.patient_id == rec._pid)
        window = min(comp.within_days, tp.day)
        # death is dated by day: a death on the index day counts; coded records count after the index
        after = (j._ts.truncate("D") >= j.anchor_ts.truncate("D")) if comp.death else (j._ts > j.anchor_ts)
        hit = j.filter(after & (j._ts <= j.anchor_ts + ibis.interval(days=window)))
        hits_parts.append(hit.select("cycle_id", "condition", _tbl=hit._tbl.cast("string"),
                                     _id=hit._id.cast("string"), _ts=hit._ts.cast("timestamp")))
    hits = ibis.union(*hits_parts) if len(hits_parts) > 1 else hits_parts[0]
    first = hits.group_by(_fc="cycle_id").aggregate(_first=hits._ts.min())
    b = base.mutate(_start=base.anchor_ts)
    t = b.left_join(first, b.cycle_id == first._fc)
    good = m.direction == "higher-better"
    return _binary_from_first(t, m, tp, good_event=good), _evidence(hits, m, tp, hits._tbl, hits._id)


def measure_tables(con: Counted, tpl: ConditionTemplate, m: OutcomeMeasure, base: ir.Table,
                   value_sets: Mapping[str, ValueSet] | None = None
                   ) -> list[tuple[TimePoint, ir.Table, ir.Table]]:
    """(time point, values, evidence) expressions of one measure, one per time point. A
    composite-event measure's value sets come from `value_sets` (the library's)."""
    calc = m.resolved_calculation()
    have = set(con.list_tables())
    out = []
    for tp in m.time_points:
        if calc in ("survival", "mortality"):
            pair = _death(base, m, tp, survival=calc == "survival")
        elif calc == "prom-score":
            if "prom_scores" not in have:
                continue
            pair = _prom(con, base, m, tp)
        elif calc == "latest-value":
            pair = _latest_value(con, tpl, base, m, tp)
        elif calc == "event":
            pair = _event(con, tpl, base, m, tp, ())
        elif calc == "encounters":
            pair = _event(con, tpl, base, m, tp, m.encounter_classes or ["IMP", "EMER"])
        elif calc == "length-of-stay":
            pair = _length_of_stay(con, base, m, tp)
        elif calc == "readmission":
            pair = _readmission(con, base, m, tp)
        elif calc == "time-from-diagnosis":
            pair = _time_from_diagnosis(con, tpl, base, m, tp)
        elif calc == "composite-event":
            pair = _composite(con, base, m, tp, value_sets or {})
        else:  # pragma: no cover - the definition's Literal forbids it
            raise ValueError(f"unknown calculation {calc!r} for measure {m.id}")
        out.append((tp, *pair))
    return out
