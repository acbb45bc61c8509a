"""Primary-care segmentation (F7): every patient, at every date, in exactly one segment, with history.

Segment rules are content (``content/segments``): evaluated in priority order, first match wins.
A patient's segment can only change on a date when some input of a rule changes — a birthday
crossing an age threshold, a condition's onset or abatement, an encounter or procedure entering or
leaving its look-back window, a new observation — so the rules are evaluated on exactly those
dates (plus birth) and the results collapsed into intervals: ``segments`` (valid_from inclusive,
valid_to exclusive, null = open; no gaps, no overlaps from birth on) and ``segment_transitions``.

Only records that count are read (engine/record_filter.py: a refuted diagnosis moves nobody into a
chronic segment). With observation periods (engine/observation.py) the intervals are cut to them:
a patient has a segment only while the data can see them; an interval stays open (null valid_to)
only when its period reaches the data's last date.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.record_rule import RecordRules
from carevalue.definitions.segment import Rule, Segment
from carevalue.definitions.valueset import ValueSet
from carevalue.engine.codesets import matches
from carevalue.engine.cycles import row_counts, scratch
from carevalue.engine.observation import periods_or_none
from carevalue.engine.record_filter import counting
from carevalue.engine.table_list import listed_once

SEGMENT_COLUMNS = ("patient_id", "segment", "valid_from", "valid_to")
TRANSITION_COLUMNS = ("patient_id", "from_segment", "to_segment", "transition_date")


class _Leaves:
    """Collects the leaf tests of all rules, each becoming one boolean column per (patient, date)."""

    def __init__(self) -> None:
        self.leaves: dict[str, tuple[str, Rule]] = {}

    def column(self, rule: Rule) -> str:
        key = rule.model_dump_json(exclude_none=True)
        if key not in self.leaves:
            self.leaves[key] = (f"_leaf{len(self.leaves)}", rule)
        return self.leaves[key][0]


def _expr(rule: Rule, t: ir.Table, leaves: _Leaves) -> ir.BooleanValue:
    if rule.any is not None:
        out: ir.BooleanValue = ibis.literal(False)
        for r in rule.any:
            out = out | _expr(r, t, leaves)
        return out
    if rule.all is not None:
        out = ibis.literal(True)
        for r in rule.all:
            out = out & _expr(r, t, leaves)
        return out
    if rule.not_ is not None:
        return ~_expr(rule.not_, t, leaves)
    if rule.always is not None:
        return ibis.literal(bool(rule.always))
    if rule.age_at_least is not None:
        return t.birth_date.notnull() & (t.d >= t.birth_date + ibis.interval(years=rule.age_at_least))
    return t[leaves.column(rule)]


# The core tables the rules read, and the columns of each that :class:`Inputs` uses.
READ_COLUMNS = {
    "patients": ("patient_id", "birth_date", "death_date"),
    "encounters": ("patient_id", "class_code", "start_ts"),
    "conditions": ("patient_id", "code_system", "code", "onset_ts", "abatement_ts"),
    "procedures": ("patient_id", "code_system", "code", "start_ts"),
    "observations": ("patient_id", "observation_id", "code_system", "code", "value_num", "value_code",
                     "effective_ts"),
}
READS = tuple(READ_COLUMNS)


class Inputs:
    """The store's tables (only records that count) and the value sets the rules name.
    ``counted`` holds tables already filtered by the record rules (scratch tables the stage wrote
    once), read instead of applying the rules again at every use."""

    def __init__(self, con: BaseBackend, value_sets: dict[str, ValueSet], rules: RecordRules,
                 counted: dict[str, ir.Table] | None = None) -> None:
        self.con = con
        self.vs = value_sets
        self.rules = rules
        self.counted = counted or {}

    def table(self, name: str) -> ir.Table:
        if name in self.counted:
            return self.counted[name]
        return counting(self.con, name, self.rules)

    def in_set(self, t: ir.Table, name: str) -> ir.BooleanValue:
        return matches(t.code_system, t.code, self.vs[name].codes)

    def conditions(self, name: str) -> ir.Table:
        c = self.table("conditions")
        c = c.filter(self.in_set(c, name) & c.onset_ts.notnull())
        return c.select("patient_id", "code", on=c.onset_ts.date(), off=c.abatement_ts.date())

    def encounters(self, classes: list[str]) -> ir.Table:
        e = self.table("encounters")
        e = e.filter(e.class_code.isin(classes))
        return e.select("patient_id", at=e.start_ts.date())

    def procedures(self, name: str) -> ir.Table:
        p = self.table("procedures")
        p = p.filter(self.in_set(p, name) & p.start_ts.notnull())
        return p.select("patient_id", at=p.start_ts.date())

    def observations(self, name: str) -> ir.Table:
        o = self.table("observations")
        o = o.filter(self.in_set(o, name) & o.effective_ts.notnull())
        return o.select("patient_id", "observation_id", "value_num", "value_code", "effective_ts",
                        at=o.effective_ts.date())


def _leaf_rules(rules: Sequence[Rule]) -> list[Rule]:
    out: list[Rule] = []
    for r in rules:
        for sub in (r.any or []) + (r.all or []) + ([r.not_] if r.not_ else []):
            out += _leaf_rules([sub])
        if any(x is not None for x in (r.active, r.encounters, r.procedures, r.observation)):
            out.append(r)
    return out


def _ages(rules: Sequence[Rule]) -> list[int]:
    out: list[int] = []
    for r in rules:
        out += _ages((r.any or []) + (r.all or []) + ([r.not_] if r.not_ else []))
        if r.age_at_least is not None:
            out.append(r.age_at_least)
    return sorted(set(out))


def change_dates(inp: Inputs, rules: Sequence[Rule], until: date | None = None) -> ir.Table:
    """(patient_id, d, birth_date): every date on which some rule's input may change.

    Dates after ``until`` (default: today) and after death are not evaluated: the history does not
    project future birthdays; the last interval stays open.
    """
    pts = inp.table("patients")
    parts: list[ir.Table] = []
    sources = {_source(r): r for r in _leaf_rules(rules)}  # leaves with one source share their dates
    for r in sources.values():
        if r.active:
            c = inp.conditions(r.active.value_set)
            parts += [c.select("patient_id", d=c.on), c.filter(c.off.notnull()).select("patient_id", d=c.off)]
        elif r.encounters:
            e = inp.encounters(r.encounters.class_codes)
            parts += [e.select("patient_id", d=e.at),
                      e.select("patient_id", d=e.at + ibis.interval(days=r.encounters.within_days))]
        elif r.procedures:
            p = inp.procedures(r.procedures.value_set)
            parts += [p.select("patient_id", d=p.at),
                      p.select("patient_id", d=p.at + ibis.interval(days=r.procedures.within_days))]
        elif r.observation:
            o = inp.observations(r.observation.value_set)
            parts.append(o.select("patient_id", d=o.at))
    for age in _ages(rules):
        b = pts.filter(pts.birth_date.notnull())
        parts.append(b.select("patient_id", d=b.birth_date + ibis.interval(years=age)))
    # The history starts at birth, or at the first record when the birth date is unknown.
    enc = inp.table("encounters")
    first = enc.group_by("patient_id").aggregate(_first=enc.start_ts.min().date())
    start = pts.left_join(first, "patient_id")
    start = start.select("patient_id", d=start.birth_date.coalesce(start._first))
    parts.append(start.filter(start.d.notnull()))
    dates = ibis.union(*[p.cast({"d": "date"}) for p in parts], distinct=True)
    base = start.filter(start.d.notnull()).rename(_start="d")
    dates = dates.inner_join(base, "patient_id")
    dates = dates.filter(dates.d >= dates._start).select("patient_id", "d")
    dates = dates.inner_join(pts.select("patient_id", "birth_date", "death_date"), "patient_id")
    last = ibis.literal(until or date.today())
    dates = dates.filter((dates.d == dates.birth_date) | (dates.d <= last)
                         & (dates.death_date.isnull() | (dates.d <= dates.death_date)))
    return dates.select("patient_id", "d", "birth_date")


def _source(rule: Rule) -> tuple[str, ...]:
    """The records a leaf test reads, aggregated per (patient, date): leaves of one source (the
    same value set at several thresholds, two tests of the latest observation) share one join."""
    if rule.active:
        return ("active", rule.active.value_set)
    if rule.encounters:
        return ("encounters", str(rule.encounters.within_days), *rule.encounters.class_codes)
    if rule.procedures:
        return ("procedures", str(rule.procedures.within_days), rule.procedures.value_set)
    assert rule.observation is not None
    return ("observation", rule.observation.value_set)


_SOURCE_ROW = {"_p": "string", "_d": "date", "_src": "int64", "_n": "int64", "_vc": "string", "_vn": "float64"}


def _source_table(inp: Inputs, dd: ir.Table, rule: Rule, src: int) -> ir.Table:
    """(_p, _d, _src, _n, _vc, _vn) per patient and date of one source: the number of distinct
    active codes (``active``) or of records in the look-back window (encounters, procedures), or
    the value of the latest observation."""
    null = {k: ibis.null().cast(v) for k, v in _SOURCE_ROW.items()}
    if rule.active:
        c = inp.conditions(rule.active.value_set)
        j = dd.inner_join(c, [dd._p == c.patient_id, c.on <= dd._d, c.off.isnull() | (c.off > dd._d)])
        agg = j.group_by(["_p", "_d"]).aggregate(_n=j.code.nunique())
        row = {**null, "_p": agg._p, "_d": agg._d, "_n": agg._n}
    elif rule.encounters or rule.procedures:
        spec = rule.encounters or rule.procedures
        assert spec is not None
        ev = inp.encounters(rule.encounters.class_codes) if rule.encounters else inp.procedures(
            rule.procedures.value_set)  # type: ignore[union-attr]
        j = dd.inner_join(ev, [dd._p == ev.patient_id, ev.at <= dd._d,
                               ev.at > dd._d - ibis.interval(days=spec.within_days)])
        agg = j.group_by(["_p", "_d"]).aggregate(_n=j.count())
        row = {**null, "_p": agg._p, "_d": agg._d, "_n": agg._n}
    else:
        assert rule.observation is not None
        o = inp.observations(rule.observation.value_set)
        j = dd.inner_join(o, [dd._p == o.patient_id, o.at <= dd._d])
        w = ibis.window(group_by=["_p", "_d"], order_by=[ibis.desc("effective_ts"), ibis.desc("observation_id")])
        j = j.mutate(_r=ibis.row_number().over(w))
        agg = j.filter(j._r == 0)
        row = {**null, "_p": agg._p, "_d": agg._d, "_vc": agg.value_code, "_vn": agg.value_num}
    row["_src"] = ibis.literal(src, "int64")
    return agg.select(**{k: (row[k] if k in ("_p", "_d") else row[k].cast(v)).name(k) for k, v in _SOURCE_ROW.items()})


def _leaf_test(t: ir.Table, rule: Rule, src: int) -> ir.BooleanValue:
    """A leaf's test on its source's rows of :func:`_source_table` (False on other sources' rows)."""
    mine = t._src == src
    if rule.active:
        return mine & (t._n >= rule.active.at_least)
    if rule.encounters or rule.procedures:
        spec = rule.encounters or rule.procedures
        assert spec is not None
        return mine & (t._n >= spec.at_least)
    spec_o = rule.observation
    assert spec_o is not None
    test = t._vc.isin(spec_o.value_codes) if spec_o.value_codes else t._vn >= spec_o.value_at_least
    return mine & test.fill_null(False)


def leaf_values(inp: Inputs, dates: ir.Table, leaves: _Leaves) -> ir.Table:
    """(_p, _d, one boolean column per leaf) on the change dates where some leaf source has rows:
    each source joined once with the dates, all of them stacked and turned into leaf columns by one
    aggregation (instead of one join back onto the dates per leaf)."""
    dd = dates.select(_p="patient_id", _d="d")
    keys = list(dict.fromkeys(_source(rule) for _col, rule in leaves.leaves.values()))
    stacked = [_source_table(inp, dd, next(r for _c, r in leaves.leaves.values() if _source(r) == k), i)
               for i, k in enumerate(keys)]
    long = ibis.union(*stacked) if len(stacked) > 1 else stacked[0]
    return long.group_by(["_p", "_d"]).aggregate(**{
        col: _leaf_test(long, rule, keys.index(_source(rule))).any() for col, rule in leaves.leaves.values()})


def segment_at_dates(inp: Inputs, segments: Sequence[Segment], until: date | None = None) -> ir.Table:
    """(patient_id, d, segment) on every change date."""
    ordered = sorted(segments, key=lambda s: (s.priority, s.id))
    rules = [s.rule for s in ordered]
    dates = change_dates(inp, rules, until)
    leaves = _Leaves()
    for r in _leaf_rules(rules):
        leaves.column(r)
    t = dates
    if leaves.leaves:
        lv = leaf_values(inp, dates, leaves)
        t = t.left_join(lv, [t.patient_id == lv._p, t.d == lv._d]).drop("_p", "_d")
        t = t.mutate(**{col: t[col].fill_null(False) for col, _r in leaves.leaves.values()})
    seg = ibis.cases(*[(_expr(s.rule, t, leaves), s.id) for s in ordered], else_=ibis.null().cast("string"))
    return t.select("patient_id", "d", segment=seg)


def histories(at_dates: ir.Table) -> tuple[ir.Table, ir.Table]:
    """Collapse per-date segments into intervals and transitions."""
    w = ibis.window(group_by="patient_id", order_by="d")
    t = at_dates.mutate(_prev=at_dates.segment.lag().over(w))
    ch = t.filter(t._prev.isnull() | (t._prev != t.segment))
    ch = ch.mutate(valid_to=ch.d.lead().over(ibis.window(group_by="patient_id", order_by="d")))
    segs = ch.select("patient_id", "segment", valid_from=ch.d, valid_to=ch.valid_to)
    trans = ch.filter(ch._prev.notnull()).select(
        "patient_id", from_segment=ch._prev, to_segment=ch.segment, transition_date=ch.d)
    return segs, trans


def within_periods(segs: ir.Table, periods: ir.Table) -> ir.Table:
    """Segment intervals cut to observation periods (one piece per overlapping period)."""
    p = periods.select(_pp="patient_id", _ps="period_start", _pe=periods.period_end + ibis.interval(days=1),
                       _open="at_data_end")
    j = segs.inner_join(p, [segs.patient_id == p._pp, segs.valid_from < p._pe,
                            segs.valid_to.isnull() | (segs.valid_to > p._ps)])
    to = ibis.cases((j.valid_to.isnull() & j._open, ibis.null().cast("date")),
                    else_=ibis.least(j.valid_to.coalesce(j._pe), j._pe))
    return j.select("patient_id", "segment", valid_from=ibis.greatest(j.valid_from, j._ps), valid_to=to)


def run(con: BaseBackend, segments: Sequence[Segment], value_sets: dict[str, ValueSet],
        until: date | None = None, *, rules: RecordRules,
        periods: ir.Table | None = None) -> dict[str, int]:
    """Build and write ``segments`` and ``segment_transitions``; returns row counts.

    ``periods`` defaults to the store's ``observation_periods`` table when it has one."""
    # The rules read each core table several times (change dates, one join per leaf source): the
    # records that count are filtered once, and only the columns the rules read are kept. The per-date segments are read twice (intervals,
    # transitions). Both are temporary tables (in memory on DuckDB).
    core = listed_once(con)  # the core tables' list, read once for every counting view
    have = set(core.list_tables())
    counted = {n: scratch(con, f"_segment_{n}", counting(core, n, rules).select(*READ_COLUMNS[n]))
               for n in READS if n in have}
    at = scratch(con, "_segment_dates", segment_at_dates(Inputs(con, value_sets, rules, counted), segments, until))
    segs, trans = histories(at)
    periods = periods_or_none(con) if periods is None else periods
    if periods is not None:
        segs = within_periods(segs, periods)
        # A transition counts only when the data could see the patient on that day.
        pr = periods.select(_tp="patient_id", _ts="period_start", _te="period_end")
        trans = trans.semi_join(pr, [trans.patient_id == pr._tp, trans.transition_date >= pr._ts,
                                     trans.transition_date <= pr._te])
    write_table(con, "segments", segs)
    write_table(con, "segment_transitions", trans)
    for name in ("_segment_dates", *(f"_segment_{n}" for n in counted)):
        con.raw_sql(f"DROP TABLE IF EXISTS {name}")
    return row_counts(con, ("segments", "segment_transitions"))


def segment_on(con: BaseBackend, as_of: str, alive: bool = True) -> ir.Table:
    """Each patient's segment on one date, read from the written history (living patients only
    unless ``alive`` is False: the panel a practice serves on that date)."""
    s = con.table("segments")
    d = ibis.literal(as_of).cast("date")
    s = s.filter((s.valid_from <= d) & (s.valid_to.isnull() | (s.valid_to > d)))
    if alive:
        p = con.table("patients").select(_pid="patient_id", _death="death_date")
        s = s.left_join(p, s.patient_id == p._pid)
        s = s.filter(s._death.isnull() | (s._death > d))
    return s.select("patient_id", "segment")
