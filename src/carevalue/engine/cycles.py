"""Care-cycle builder (F6): per patient and condition template, the cycles and every event in them.

Everything is plain Ibis over the core tables, so it runs on DuckDB and PySpark alike. The rules:

* **Acute cycles** start ``days_before`` the index event and end ``days_after`` it. An index event
  within ``days_after`` of the previous one extends that cycle (a re-excision, a second joint soon
  after the first). Cycles of one condition never overlap: a cycle starts no earlier than the end
  of the previous one. The cycle's index event is the earliest event of the first-listed trigger
  kind present (so surgery outranks the diagnosis that preceded it).
* **Chronic cycles** are rolling ``period_months`` periods from the first diagnosis to the end of
  the data (or death); ``period_label`` is the year the period starts. With observation periods
  (engine/observation.py) they lie inside them: the periods restart at the start of each
  observation period after the diagnosis and are cut at its end, so no cycle-year covers time the
  data cannot see.
* **Only records that count** are read (engine/record_filter.py: a refuted diagnosis, a cancelled
  encounter or a procedure not done opens no cycle and joins none).
* **Events** in a cycle's window belong to it when a phase rule of the template matches (first by
  ``priority``, then listing order, names the phase). An encounter at which a matched event was
  recorded belongs too ("linked"), and every other record of an included encounter (observations,
  claims, activities, ...) follows its encounter into the cycle and its phase.
* **No double counting**: an event in cycles of several conditions is ``cost_bearing`` in exactly
  one: acute before chronic cycles, then a direct code match before a rule or encounter match,
  then the cycle whose index event is nearest in time, then the condition id. Records following an encounter inherit
  the encounter's strength, so an encounter and its activities are cost-bearing in the same cycle.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.base import CODE_SYSTEM_ALIASES, CodeGroup
from carevalue.definitions.condition import ConditionTemplate, EventRule
from carevalue.definitions.record_rule import RecordRules
from carevalue.engine.codesets import _DOTLESS, matches
from carevalue.engine.observation import periods_or_none
from carevalue.engine.record_filter import counting, joins_as_written
from carevalue.engine.table_list import listed_once

# Core tables that carry clinical events, and how each maps onto the common event shape.
_EVENT_COLUMNS = ("event_table", "event_id", "patient_id", "event_ts", "code_system", "code",
                  "reason_system", "reason_code", "class_code", "category", "encounter_id",
                  "organization_id", "practitioner_id")
CLINICAL_TABLES = ("encounters", "procedures", "conditions", "observations", "medications", "immunizations",
                   "questionnaire_responses")
FOLLOWER_TABLES = ("claims", "activities")
MATCH_STRENGTH = {"code": 0, "rule": 1, "encounter": 2}

CYCLE_COLUMNS = ("cycle_id", "patient_id", "condition", "cycle_type", "start_ts", "end_ts",
                 "trigger_table", "trigger_id", "organization_id", "ipu_id", "period_label", "index_ts")
CYCLE_EVENT_COLUMNS = ("cycle_id", "patient_id", "condition", "event_table", "event_id", "event_ts",
                       "phase", "encounter_id", "organization_id", "practitioner_id", "cost_bearing")

_S = "string"


def _null(type_: str = _S) -> ir.Value:
    return ibis.null().cast(type_)


def events(con: BaseBackend, rules: RecordRules, tables: Sequence[str] | None = None) -> ir.Table:
    """Every clinical event and billable record that counts, in one shape (see ``_EVENT_COLUMNS``);
    with ``tables`` only the records of those tables (e.g. ``CLINICAL_TABLES``)."""
    have = set(con.list_tables()) if tables is None else set(con.list_tables()) & set(tables)
    parts: list[ir.Table] = []

    def add(name: str, **cols: ir.Value) -> None:
        if name not in have:
            return
        t = counting(con, name, rules)
        row = {"event_table": ibis.literal(name), "patient_id": t.patient_id}
        defaults: dict[str, ir.Value] = {c: _null() for c in _EVENT_COLUMNS}
        defaults["event_ts"] = _null("timestamp")
        for k, v in {**row, **{k: f(t) for k, f in cols.items()}}.items():  # type: ignore[operator]
            defaults[k] = v
        parts.append(t.select(**{c: defaults[c].cast("timestamp" if c == "event_ts" else _S).name(c)
                                 for c in _EVENT_COLUMNS}))

    def col(name: str):  # type: ignore[no-untyped-def]
        return lambda t: t[name]

    add("encounters", event_id=col("encounter_id"), event_ts=col("start_ts"), code_system=col("code_system"),
        code=col("code"), reason_system=col("reason_system"), reason_code=col("reason_code"),
        class_code=col("class_code"), encounter_id=col("encounter_id"),
        organization_id=col("organization_id"), practitioner_id=col("practitioner_id"))
    add("procedures", event_id=col("procedure_id"), event_ts=col("start_ts"), code_system=col("code_system"),
        code=col("code"), encounter_id=col("encounter_id"), practitioner_id=col("practitioner_id"))
    # A diagnosis counts when it was recorded (at its encounter), not at its historical onset;
    # the encounter's time is filled in below.
    add("conditions", event_id=col("condition_id"),
        event_ts=lambda t: t.recorded_ts.coalesce(t.onset_ts), code_system=col("code_system"),
        code=col("code"), category=col("category"), encounter_id=col("encounter_id"))
    add("observations", event_id=col("observation_id"), event_ts=col("effective_ts"),
        code_system=col("code_system"), code=col("code"), category=col("category"),
        encounter_id=col("encounter_id"))
    add("medications", event_id=col("medication_id"), event_ts=col("authored_ts"),
        code_system=col("code_system"), code=col("code"), encounter_id=col("encounter_id"),
        practitioner_id=col("practitioner_id"))
    add("immunizations", event_id=col("immunization_id"), event_ts=col("occurrence_ts"),
        code_system=col("code_system"), code=col("code"), encounter_id=col("encounter_id"))
    add("questionnaire_responses", event_id=col("response_id"), event_ts=col("authored_ts"),
        code=col("questionnaire"), encounter_id=col("encounter_id"))
    add("claims", event_id=col("claim_id"), event_ts=col("service_start"), encounter_id=col("encounter_id"),
        organization_id=col("organization_id"), practitioner_id=col("practitioner_id"))
    add("activities", event_id=col("activity_id"), event_ts=col("start_ts"), encounter_id=col("encounter_id"),
        practitioner_id=col("practitioner_id"))
    if not parts:
        raise ValueError(f"none of the event tables {sorted(tables or [])} is in the store")
    ev = ibis.union(*parts) if len(parts) > 1 else parts[0]
    # Facility and clinician fall back to the encounter's when the record has none.
    if "encounters" in con.list_tables():
        enc = counting(con, "encounters", rules).select(
            _eid=lambda t: t.encounter_id, _eorg=lambda t: t.organization_id,
            _eprac=lambda t: t.practitioner_id, _ets=lambda t: t.start_ts)
        ev = ev.left_join(enc, ev.encounter_id == enc._eid)
        ev = ev.select(
            *[c for c in _EVENT_COLUMNS if c not in ("organization_id", "practitioner_id", "event_ts")],
            organization_id=ev.organization_id.coalesce(ev._eorg),
            practitioner_id=ev.practitioner_id.coalesce(ev._eprac),
            event_ts=ibis.cases((ev.event_table == "conditions", ev._ets.coalesce(ev.event_ts)),
                                else_=ev.event_ts.coalesce(ev._ets)),
        )
    ev = ev.filter(ev.event_ts.notnull())
    return ev.select(*_EVENT_COLUMNS)


def _code_match(ev: ir.Table, tpl: ConditionTemplate, names: Iterable[str]) -> ir.BooleanValue:
    groups = [g for n in names for g in tpl.code_sets[n]]
    hit = matches(ev.code_system, ev.code, groups)
    # Encounters also match on their reason (Encounter.reasonCode).
    return hit | ((ev.event_table == "encounters") & matches(ev.reason_system, ev.reason_code, groups))


def _triggers(ev: ir.Table, tpl: ConditionTemplate, hits: ir.Table | None = None) -> ir.Table:
    """The template's trigger events with the rank of their trigger kind. ``hits`` is
    :func:`trigger_hits` (the trigger events of every template, found by one join); without it
    each trigger kind is matched against the events here."""
    need = tpl.cycle.require_code_set
    if hits is not None:
        mine = hits.filter(hits._tc == tpl.id)
        trig = mine.filter(mine.rank >= 0).drop("_tc")
        dx = mine.filter(mine.rank == REQUIRED_RANK).select(_p=lambda t: t.patient_id, _ts=lambda t: t.event_ts)
    else:
        parts = []
        for rank, tr in enumerate(tpl.cycle.triggers):
            t = ev.filter((ev.event_table == tr.table) & _code_match(ev, tpl, [tr.code_set]))
            parts.append(t.select(*_TRIGGER_COLUMNS[:-1], rank=ibis.literal(rank)))
        trig = ibis.union(*parts) if len(parts) > 1 else parts[0]
        dx = ev.filter((ev.event_table == "conditions") & _code_match(ev, tpl, [need])).select(
            _p=lambda t: t.patient_id, _ts=lambda t: t.event_ts) if need else None
    if need and tpl.cycle.kind == "acute":
        assert dx is not None
        ok = trig.inner_join(dx, [trig.patient_id == dx._p,
                                  dx._ts <= trig.event_ts + ibis.interval(days=tpl.cycle.require_within_days)])
        trig = trig.semi_join(ok.select("patient_id", "event_id").distinct(),
                              ["patient_id", "event_id"])
    return trig


_TRIGGER_COLUMNS = ("patient_id", "event_id", "event_ts", "event_table", "organization_id", "rank")
REQUIRED_RANK = -1  # the rank of a row of trigger_hits that is a required diagnosis, not a trigger


def trigger_masks(codes: ir.Table, templates: Sequence[ConditionTemplate]) -> ir.Table:
    """(template, trigger rank, code key) of every distinct code of the events (``codes``, the
    distinct ``_CODE_KEY`` rows) that is a trigger of a template, matched once in Python as in
    :func:`code_set_masks`; a template's required diagnosis code set (acute cycles) has rank
    ``REQUIRED_RANK``."""
    rows = codes.select(*_CODE_KEY).distinct().to_pyarrow().to_pylist()
    out: dict[str, list[object]] = {"_tc": [], "rank": [], **{f"_t{i}": [] for i in range(len(_CODE_KEY))}}
    for tpl in templates:
        wanted = [(rank, tr.table, tr.code_set) for rank, tr in enumerate(tpl.cycle.triggers)]
        if tpl.cycle.require_code_set:
            wanted.append((REQUIRED_RANK, "conditions", tpl.cycle.require_code_set))
        for row in rows:
            for rank, table, name in wanted:
                if row["event_table"] == table and _code_match_py(row, tpl, name):
                    out["_tc"].append(tpl.id)
                    out["rank"].append(rank)
                    for i, k in enumerate(_CODE_KEY):
                        out[f"_t{i}"].append(_NO_CODE if row[k] is None else row[k])
    return ibis.memtable(out, schema={"_tc": "string", "rank": "int64",
                                      **{f"_t{i}": "string" for i in range(len(_CODE_KEY))}})


def trigger_hits(ev: ir.Table, masks: ir.Table) -> ir.Table:
    """Trigger (and required-diagnosis) events of every template: one join of the events with
    :func:`trigger_masks` on the code key, instead of one scan of the events per trigger kind."""
    j = ev.inner_join(masks, [ev[k].coalesce(_NO_CODE) == masks[f"_t{i}"] for i, k in enumerate(_CODE_KEY)])
    return j.select(*_TRIGGER_COLUMNS, "_tc")


def _cycle_id(tpl: ConditionTemplate, patient: ir.StringValue, label: ir.StringValue) -> ir.StringValue:
    return ibis.literal(f"{tpl.id}:") + patient + ":" + label


def acute_cycles(ev: ir.Table, tpl: ConditionTemplate, hits: ir.Table | None = None) -> ir.Table:
    c = tpl.cycle
    trig = _triggers(ev, tpl, hits)
    after = ibis.interval(days=c.days_after)
    before = ibis.interval(days=c.days_before)
    w = ibis.window(group_by="patient_id", order_by=["event_ts", "rank", "event_id"])
    trig = trig.mutate(_prev=trig.event_ts.lag().over(w))
    trig = trig.mutate(_new=(trig._prev.isnull() | (trig.event_ts > trig._prev + after)).cast("int64"))
    trig = trig.mutate(island=trig._new.sum().over(ibis.window(group_by="patient_id", order_by=["event_ts", "rank", "event_id"], rows=(None, 0))))
    # The island's index event: earliest event of the highest-ranked trigger kind.
    wi = ibis.window(group_by=["patient_id", "island"], order_by=["rank", "event_ts", "event_id"])
    trig = trig.mutate(_pick=ibis.row_number().over(wi),
                       first_ts=trig.event_ts.min().over(ibis.window(group_by=["patient_id", "island"])),
                       last_ts=trig.event_ts.max().over(ibis.window(group_by=["patient_id", "island"])))
    cyc = trig.filter(trig._pick == 0).select(
        "patient_id", "island", "first_ts", "last_ts", "organization_id",
        trigger_table="event_table", trigger_id="event_id", index_ts="event_ts")
    cyc = cyc.mutate(start_ts=ibis.least(cyc.index_ts - before, cyc.first_ts), end_ts=cyc.last_ts + after)
    cyc = cyc.mutate(_prev_end=cyc.end_ts.lag().over(ibis.window(group_by="patient_id", order_by="island")))
    cyc = cyc.mutate(start_ts=ibis.greatest(cyc.start_ts, cyc._prev_end.coalesce(cyc.start_ts)))
    label = cyc.index_ts.date().cast(_S)
    return cyc.select(
        cycle_id=_cycle_id(tpl, cyc.patient_id, label), patient_id=cyc.patient_id,
        condition=ibis.literal(tpl.id), cycle_type=ibis.literal("acute"),
        start_ts=cyc.start_ts, end_ts=cyc.end_ts, trigger_table=cyc.trigger_table,
        trigger_id=cyc.trigger_id, trigger_org=cyc.organization_id,
        period_label=_null(), index_ts=cyc.index_ts,
    )


def _anchored(first: ir.Table, periods: ir.Table | None) -> ir.Table:
    """Each first diagnosis with the day its cycles start from (``_anchor``) and must stop by
    (``_stop``): restarted at every observation period that ends after it, cut at that period's end."""
    if periods is None:
        return first.mutate(_anchor=first.index_ts, _stop=_null("timestamp"))
    op = periods.select(_op="patient_id", _ps=periods.period_start.cast("timestamp"),
                        _pe=(periods.period_end + ibis.interval(days=1)).cast("timestamp"))
    first = first.inner_join(op, [first.patient_id == op._op, op._pe > first.index_ts])
    return first.mutate(_anchor=ibis.greatest(first.index_ts, first._ps), _stop=first._pe).drop(
        "_op", "_ps", "_pe")


def chronic_cycles(ev: ir.Table, tpl: ConditionTemplate, data_end: ir.Table, max_periods: int = 120,
                   periods: ir.Table | None = None, hits: ir.Table | None = None) -> ir.Table:
    """Rolling periods from the first diagnosis while the period starts before the data end/death;
    with ``periods`` (observation_periods) only inside them: restarted at each observation period
    that ends after the diagnosis, cut at its end."""
    trig = _triggers(ev, tpl, hits)
    w = ibis.window(group_by="patient_id", order_by=["event_ts", "rank", "event_id"])
    first = trig.mutate(_n=ibis.row_number().over(w))
    first = first.filter(first._n == 0).select(
        "patient_id", "organization_id", trigger_table="event_table", trigger_id="event_id", index_ts="event_ts")
    months = tpl.cycle.period_months
    first = _anchored(first, periods)
    ks = ibis.memtable({"k": list(range(max_periods))})
    per = first.cross_join(ks).inner_join(data_end, "patient_id")
    per = per.mutate(start_ts=per._anchor + (per.k * months).as_interval("M"))
    per = per.filter((per.start_ts <= per.until_ts) & (per._stop.isnull() | (per.start_ts < per._stop)))
    full = per.start_ts + ibis.interval(months=months)
    per = per.mutate(end_ts=ibis.cases((per._stop.notnull() & (per._stop < full), per._stop), else_=full))
    label = per.start_ts.year().cast(_S)
    # Two observation periods can start cycles in one calendar year: the later gets a suffix.
    n = ibis.row_number().over(ibis.window(group_by=[per.patient_id, label], order_by=per.start_ts))
    ident = _cycle_id(tpl, per.patient_id, label) + ibis.cases((n > 0, ":" + (n + 1).cast(_S)), else_="")
    return per.select(
        cycle_id=ident, patient_id=per.patient_id,
        condition=ibis.literal(tpl.id), cycle_type=ibis.literal("chronic"),
        start_ts=per.start_ts.cast(per.index_ts.type()), end_ts=per.end_ts.cast(per.index_ts.type()),
        trigger_table=per.trigger_table,
        trigger_id=per.trigger_id, trigger_org=per.organization_id,
        period_label=label, index_ts=per.index_ts,
    )


def data_end(con: BaseBackend, ev: ir.Table, rules: RecordRules) -> ir.Table:
    """Per patient: the last date cycles run to — death, else the last event anywhere in the store."""
    last = ev.aggregate(_end=ev.event_ts.max())
    pts = counting(con, "patients", rules).select("patient_id", "death_date")
    j = pts.cross_join(last)
    return j.select("patient_id", until_ts=j.death_date.cast("timestamp").coalesce(j._end))


def _rule_condition(ev: ir.Table, rule: EventRule, flags: dict[str, ir.BooleanValue]) -> ir.BooleanValue:
    """A rule over the in-window events; code-set tests read ``flags`` (one test per code set)."""
    cond = ev.event_table == rule.table
    if rule.code_sets:
        hit: ir.BooleanValue = ibis.literal(False)
        for n in rule.code_sets:
            hit = hit | flags[n]
        cond = cond & hit
    if rule.class_codes:
        cond = cond & ev.class_code.isin(rule.class_codes)
    if rule.categories:
        cond = cond & ev.category.isin(rule.categories)
    if rule.at_index_facility:
        cond = cond & (ev.organization_id == ev._torg)
    if rule.days is not None:
        if rule.days.from_day is not None:
            cond = cond & (ev._eday >= ev._iday + ibis.interval(days=rule.days.from_day))
        if rule.days.to_day is not None:
            cond = cond & (ev._eday < ev._iday + ibis.interval(days=rule.days.to_day))
    return cond


def _ranked_rules(tpl: ConditionTemplate) -> list[tuple[int, str, EventRule]]:
    rules = [(r.priority, i, ph.phase, r) for ph in tpl.phases for i, r in enumerate(ph.rules)]
    order = sorted(range(len(rules)), key=lambda n: (rules[n][0], n))
    return [(rank, rules[n][2], rules[n][3]) for rank, n in enumerate(order)]


_CODE_KEY = ("event_table", "code_system", "code", "reason_system", "reason_code")
_NO_CODE = "~none~"  # stands for a null key part, so that the code join is null-safe


def _set_names(tpl: ConditionTemplate) -> list[str]:
    names = sorted({n for ph in tpl.phases for r in ph.rules for n in r.code_sets})
    if len(names) > 62:
        raise ValueError(f"condition template {tpl.id}: more than 62 code sets in its phase rules")
    return names


def in_groups(system: str | None, code: str | None, groups: Sequence[CodeGroup]) -> bool:
    """:func:`carevalue.engine.codesets.matches` for one code, in Python (no crosswalk): the
    distinct codes of a store are few, so they are matched here once instead of per event."""
    if code is None:
        return False
    for g in groups:
        if system is not None and system not in CODE_SYSTEM_ALIASES[g.system]:
            continue
        dotless = g.system in _DOTLESS
        c = code.replace(".", "") if dotless else code
        if c in {x.replace(".", "") if dotless else x for x in g.exact()} or any(
                c.startswith(p) for p in g.prefixes()):
            return True
    return False


def _code_match_py(row: dict[str, str | None], tpl: ConditionTemplate, name: str) -> bool:
    groups = tpl.code_sets[name]
    return in_groups(row["code_system"], row["code"], groups) or (
        row["event_table"] == "encounters" and in_groups(row["reason_system"], row["reason_code"], groups))


def code_set_masks(codes: ir.Table, templates: Sequence[ConditionTemplate]) -> ir.Table:
    """Per template and distinct code of the events (``codes``: the distinct ``_CODE_KEY`` rows):
    a bit mask of the template's rule code sets the code is in (only rows with some bit set).
    The distinct codes are few (hundreds), so they are read out and matched once, in Python."""
    rows = codes.select(*_CODE_KEY).distinct().to_pyarrow().to_pylist()
    out: dict[str, list[object]] = {"_mc": [], **{f"_k{i}": [] for i in range(len(_CODE_KEY))}, "_mask": []}
    for tpl in templates:
        names = _set_names(tpl)
        for row in rows:
            mask = sum(1 << i for i, n in enumerate(names) if _code_match_py(row, tpl, n))
            if mask:
                out["_mc"].append(tpl.id)
                for i, k in enumerate(_CODE_KEY):
                    out[f"_k{i}"].append(_NO_CODE if row[k] is None else row[k])
                out["_mask"].append(mask)
    return ibis.memtable(out, schema={"_mc": "string", **{f"_k{i}": "string" for i in range(len(_CODE_KEY))},
                                      "_mask": "int64"})


def _template_rank(t: ir.Table, tpl: ConditionTemplate) -> ir.IntegerValue:
    """The rank of the first rule of ``tpl`` matching each row (null when none matches)."""
    null_i = ibis.null().cast("int64")
    rules = _ranked_rules(tpl)
    if not rules:
        return null_i
    flags = {n: (t._mask & ibis.literal(1 << i, "int64")) != 0 for i, n in enumerate(_set_names(tpl))}
    return ibis.cases(*[(_rule_condition(t, r, flags), rank) for rank, _, r in rules], else_=null_i)


def _rule_table(templates: Sequence[ConditionTemplate]) -> ir.Table:
    """(condition, rank) -> phase and match kind of every template's ranked rules, as data."""
    rows = [(t.id, rank, ph, "code" if r.code_sets else "rule") for t in templates for rank, ph, r in _ranked_rules(t)]
    return ibis.memtable({"_rc": [r[0] for r in rows], "_rr": [r[1] for r in rows],
                          "_rphase": [r[2] for r in rows], "_rmatch": [r[3] for r in rows]},
                         schema={"_rc": "string", "_rr": "int64", "_rphase": "string", "_rmatch": "string"})


def in_window(ev: ir.Table, cycles: ir.Table, templates: Sequence[ConditionTemplate],
              masks: ir.Table | None = None) -> ir.Table:
    """Events inside the cycle windows of all templates at once, with the phase, rank and match
    kind of the first matching rule of the cycle's template (null when none matches).

    One range join for every cycle; each template's rules apply only to the rows of its own
    cycles (an outer CASE on the condition), and phase and match kind are joined in from the
    rules as data. ``masks`` is :func:`code_set_masks` (computed here when not given)."""
    cyc = cycles.select(_cid="cycle_id", _p="patient_id", _s="start_ts", _e="end_ts", index_ts="index_ts",
                        _torg="trigger_org", condition="condition")
    inwin = ev.inner_join(cyc, [ev.patient_id == cyc._p, ev.event_ts >= cyc._s, ev.event_ts < cyc._e])
    masks = code_set_masks(ev, templates) if masks is None else masks
    inwin = inwin.left_join(masks, [inwin.condition == masks._mc] + [
        inwin[k].coalesce(_NO_CODE) == masks[f"_k{i}"] for i, k in enumerate(_CODE_KEY)])
    inwin = inwin.mutate(_mask=inwin._mask.fill_null(0)).drop("_mc", *[f"_k{i}" for i in range(len(_CODE_KEY))])
    # Phase timing is in whole days: the admission at 07:00 is on the day of the 08:00 operation.
    inwin = inwin.mutate(_eday=inwin.event_ts.truncate("D"), _iday=inwin.index_ts.truncate("D"))
    null_i = ibis.null().cast("int64")
    branches = [(inwin.condition == t.id, _template_rank(inwin, t)) for t in templates if _ranked_rules(t)]
    rank = ibis.cases(*branches, else_=null_i) if branches else null_i
    inwin = inwin.mutate(_rank=rank.cast("int64")).drop("_p", "_s", "_e", "_eday", "_iday", "_mask")
    rt = _rule_table(templates)
    j = inwin.left_join(rt, [inwin.condition == rt._rc, inwin._rank == rt._rr])
    return j.mutate(phase=j._rphase, match=j._rmatch).drop("_rc", "_rr", "_rphase", "_rmatch")


_COLLECTED = ("_cid", "condition", "patient_id", "event_table", "event_id", "event_ts", "phase", "encounter_id",
              "organization_id", "practitioner_id", "match", "_rank")


def collected_rows(inwin: ir.Table) -> ir.Table:
    """The rows and columns of :func:`in_window` that :func:`collect_events` reads: events a rule
    matched, and encounters (which may join by a link). An unmatched clinical record in a window
    joins a cycle only by following its encounter, read from the events, so it is not kept."""
    keep = inwin.filter(inwin._rank.notnull() | (inwin.event_table == "encounters"))
    return keep.select(*_COLLECTED)


def collect_events(ev: ir.Table, inwin: ir.Table) -> ir.Table:
    """Matched events, encounters linked to them, and records following included encounters,
    for the cycles of all templates (``inwin`` from :func:`in_window`)."""
    matched = inwin.filter(inwin._rank.notnull())
    # Encounters at which a matched event was recorded, with the best-ranked such event's phase.
    link = matched.filter(matched.encounter_id.notnull() & (matched.event_table != "encounters"))
    lw = ibis.window(group_by=["_cid", "encounter_id"], order_by=["_rank", "event_id"])
    link = link.mutate(_n=ibis.row_number().over(lw))
    link = link.filter(link._n == 0).select(_lc=link._cid, _le=link.encounter_id, _lphase=link.phase, _lrank=link._rank)
    encs = inwin.filter(inwin.event_table == "encounters")
    encs = encs.left_join(link, [encs._cid == link._lc, encs.event_id == link._le])
    encs = encs.filter(encs._rank.notnull() | encs._lphase.notnull()).mutate(
        phase=lambda t: t.phase.coalesce(t._lphase),
        match=lambda t: t.match.coalesce(ibis.literal("encounter")),
    )
    cols = ["_cid", "condition", "patient_id", "event_table", "event_id", "event_ts", "phase", "encounter_id",
            "organization_id", "practitioner_id", "match"]
    encs = encs.select(*cols)
    clinical = matched.filter(matched.event_table != "encounters").select(*cols)
    # Everything else recorded at an included encounter follows it (not already matched on its own
    # in a cycle of the same template).
    inc = encs.select(_fc=encs._cid, _fcond=encs.condition, _fe=encs.event_id, _fphase=encs.phase,
                      _fmatch=encs.match)
    own = clinical.select(_oc=clinical.condition, _ot=clinical.event_table, _oi=clinical.event_id).distinct()
    fol = ev.filter((ev.event_table != "encounters") & ev.encounter_id.notnull())
    fol = fol.inner_join(inc, fol.encounter_id == inc._fe)
    fol = fol.anti_join(own, [fol._fcond == own._oc, fol.event_table == own._ot, fol.event_id == own._oi])
    fol = fol.select(_cid=fol._fc, condition=fol._fcond, patient_id=fol.patient_id,
                     event_table=fol.event_table, event_id=fol.event_id, event_ts=fol.event_ts,
                     phase=fol._fphase, encounter_id=fol.encounter_id, organization_id=fol.organization_id,
                     practitioner_id=fol.practitioner_id, match=fol._fmatch)
    return ibis.union(encs, clinical, fol).rename(cycle_id="_cid")


def cycle_events_for(ev: ir.Table, cycles: ir.Table, templates: Sequence[ConditionTemplate]) -> ir.Table:
    """Events of the templates' cycles with phase and match strength (before cost-bearing)."""
    return collect_events(ev, in_window(ev, cycles, templates))


def _attribute(cycles: ir.Table, cev: ir.Table, tpls: Sequence[ConditionTemplate], con: BaseBackend,
               rules: RecordRules) -> ir.Table:
    """Facility (by the template's attribution rule) and IPU of each cycle."""
    enc = cev.filter((cev.event_table == "encounters") & cev.organization_id.notnull())
    counts = enc.group_by(["cycle_id", "organization_id"]).aggregate(_n=enc.count())
    w = ibis.window(group_by="cycle_id", order_by=[ibis.desc("_n"), "organization_id"])
    counts = counts.mutate(_r=ibis.row_number().over(w))
    mode = counts.filter(counts._r == 0).select(_mc="cycle_id", _morg="organization_id")
    by_trigger = [t.id for t in tpls if t.cycle.attribution == "trigger"]
    c = cycles.left_join(mode, cycles.cycle_id == mode._mc)
    c = c.mutate(organization_id=ibis.cases(
        (c.condition.isin(by_trigger or ["\x00"]), c.trigger_org.coalesce(c._morg)),
        else_=c._morg.coalesce(c.trigger_org)))
    teams = counting(con, "care_teams", rules) if "care_teams" in con.list_tables() else None
    if teams is not None and "condition_template" in teams.columns:
        ipu = teams.filter(teams.category_code == "ipu").group_by(
            ["condition_template", "organization_id"]).aggregate(_ipu=teams.care_team_id.min())
        ipu = ipu.rename(_it="condition_template", _io="organization_id")
        c = c.left_join(ipu, [c.condition == ipu._it, c.organization_id == ipu._io])
        c = c.mutate(ipu_id=c._ipu)
    else:
        c = c.mutate(ipu_id=_null())
    return c.select(*CYCLE_COLUMNS)


def cost_bearing(cev: ir.Table, cycles: ir.Table) -> ir.Table:
    """Flag the one cycle per event that carries its cost (rule in the module docstring).

    Most events are in one cycle only and carry their cost there; only the events in several
    cycles (a few percent) are ranked, so the ranking window sorts those rows, not every event."""
    n = cev.group_by(_nt=cev.event_table, _ni=cev.event_id).aggregate(_cycles=cev.count())
    n = n.filter(n._cycles > 1)
    on = [cev.event_table == n._nt, cev.event_id == n._ni]
    alone = cev.anti_join(n, on).mutate(cost_bearing=ibis.literal(True))
    # Every event's cycle is one of ``cycles`` (the events were collected from their windows):
    # only the shared events need the cycle's type and index time for the ranking.
    meta = cycles.select(_c="cycle_id", _type="cycle_type", _index="index_ts")
    shared = cev.semi_join(n, on)
    shared = shared.inner_join(meta, shared.cycle_id == meta._c)
    strength = ibis.cases(*[(shared.match == k, v) for k, v in MATCH_STRENGTH.items()], else_=9)
    shared = shared.mutate(_acute=ibis.cases((shared._type == "acute", 0), else_=1), _strength=strength,
                           _dist=(shared.event_ts.epoch_seconds() - shared._index.epoch_seconds()).abs())
    w = ibis.window(group_by=["event_table", "event_id"],
                    order_by=["_acute", "_strength", "_dist", "condition", "cycle_id"])
    shared = shared.mutate(cost_bearing=ibis.row_number().over(w) == 0)
    return ibis.union(alone.select(*CYCLE_EVENT_COLUMNS), shared.select(*CYCLE_EVENT_COLUMNS))


def build(con: BaseBackend, templates: Sequence[ConditionTemplate],
          ev: ir.Table | None = None, *, rules: RecordRules,
          periods: ir.Table | None = None) -> tuple[ir.Table, ir.Table]:
    """(cycles before attribution, cycle events before cost-bearing) expressions for all templates."""
    ev = events(con, rules) if ev is None else ev
    until = data_end(con, ev, rules)
    periods = periods_or_none(con) if periods is None else periods
    cycles = all_cycles(ev, templates, until, periods)
    return cycles, cycle_events_for(ev, cycles, templates)


def all_cycles(ev: ir.Table, templates: Sequence[ConditionTemplate], until: ir.Table,
               periods: ir.Table | None, hits: ir.Table | None = None) -> ir.Table:
    """The cycles of every template. With ``hits`` (:func:`trigger_hits`) the templates enter as
    data: one query for all acute templates and one for all chronic ones, their parameters joined
    in (:func:`template_table`); without, each template's triggers are matched on its own."""
    if hits is None:
        parts = [acute_cycles(ev, t) if t.cycle.kind == "acute"
                 else chronic_cycles(ev, t, until, periods=periods) for t in templates]
        return ibis.union(*parts) if len(parts) > 1 else parts[0]
    tt = template_table(templates)
    h = hits.inner_join(tt, hits._tc == tt._pc)
    kinds = {t.cycle.kind for t in templates}
    parts = ([acute_cycles_of(h.filter(h._kind == "acute"))] if "acute" in kinds else []) + (
        [chronic_cycles_of(h.filter(h._kind == "chronic"), until, periods)] if "chronic" in kinds else [])
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def template_table(templates: Sequence[ConditionTemplate]) -> ir.Table:
    """The cycle parameters of every template as data (one row per template)."""
    rows = [{"_pc": t.id, "_kind": t.cycle.kind, "_before": t.cycle.days_before, "_after": t.cycle.days_after,
             "_months": t.cycle.period_months, "_within": t.cycle.require_within_days,
             "_need": t.cycle.require_code_set is not None and t.cycle.kind == "acute"} for t in templates]
    return ibis.memtable(rows, schema={"_pc": "string", "_kind": "string", "_before": "int64", "_after": "int64",
                                       "_months": "int64", "_within": "int64", "_need": "boolean"})


def _days(n: ir.IntegerValue) -> ir.IntervalValue:
    return n.as_interval("D")


def acute_cycles_of(h: ir.Table) -> ir.Table:
    """Acute cycles of every template at once from its trigger hits ``h`` (:func:`trigger_hits`
    joined with :func:`template_table`): the rules of :func:`acute_cycles`, per template."""
    trig = h.filter(h.rank >= 0)
    dx = h.filter(h.rank == REQUIRED_RANK).select(_dc=h._tc, _dp=h.patient_id, _dts=h.event_ts)
    need = trig.filter(trig._need)
    ok = need.inner_join(dx, [need._tc == dx._dc, need.patient_id == dx._dp,
                              dx._dts <= need.event_ts + _days(need._within)])
    ok = ok.select(_oc=ok._tc, _op=ok.patient_id, _oe=ok.event_id).distinct()
    trig = trig.filter(~trig._need).union(
        need.semi_join(ok, [need._tc == ok._oc, need.patient_id == ok._op, need.event_id == ok._oe]))
    order = ["event_ts", "rank", "event_id"]
    w = ibis.window(group_by=["_tc", "patient_id"], order_by=order)
    trig = trig.mutate(_prev=trig.event_ts.lag().over(w))
    trig = trig.mutate(_new=(trig._prev.isnull() | (trig.event_ts > trig._prev + _days(trig._after))).cast("int64"))
    trig = trig.mutate(island=trig._new.sum().over(ibis.window(group_by=["_tc", "patient_id"], order_by=order,
                                                               rows=(None, 0))))
    # The island's index event: earliest event of the highest-ranked trigger kind.
    isl = ["_tc", "patient_id", "island"]
    wi = ibis.window(group_by=isl, order_by=["rank", "event_ts", "event_id"])
    trig = trig.mutate(_pick=ibis.row_number().over(wi),
                       first_ts=trig.event_ts.min().over(ibis.window(group_by=isl)),
                       last_ts=trig.event_ts.max().over(ibis.window(group_by=isl)))
    cyc = trig.filter(trig._pick == 0).select(
        "_tc", "patient_id", "island", "first_ts", "last_ts", "organization_id", "_before", "_after",
        trigger_table="event_table", trigger_id="event_id", index_ts="event_ts")
    cyc = cyc.mutate(start_ts=ibis.least(cyc.index_ts - _days(cyc._before), cyc.first_ts),
                     end_ts=cyc.last_ts + _days(cyc._after))
    cyc = cyc.mutate(_prev_end=cyc.end_ts.lag().over(ibis.window(group_by=["_tc", "patient_id"], order_by="island")))
    cyc = cyc.mutate(start_ts=ibis.greatest(cyc.start_ts, cyc._prev_end.coalesce(cyc.start_ts)))
    label = cyc.index_ts.date().cast(_S)
    return cyc.select(
        cycle_id=cyc._tc + ":" + cyc.patient_id + ":" + label, patient_id=cyc.patient_id,
        condition=cyc._tc, cycle_type=ibis.literal("acute"),
        start_ts=cyc.start_ts, end_ts=cyc.end_ts, trigger_table=cyc.trigger_table,
        trigger_id=cyc.trigger_id, trigger_org=cyc.organization_id,
        period_label=_null(), index_ts=cyc.index_ts,
    )


def chronic_cycles_of(h: ir.Table, data_end: ir.Table, periods: ir.Table | None,
                      max_periods: int = 120) -> ir.Table:
    """Chronic cycles of every template at once from its trigger hits ``h`` (as for
    :func:`acute_cycles_of`): the rules of :func:`chronic_cycles`, per template."""
    trig = h.filter(h.rank >= 0)
    w = ibis.window(group_by=["_tc", "patient_id"], order_by=["event_ts", "rank", "event_id"])
    first = trig.mutate(_n=ibis.row_number().over(w))
    first = first.filter(first._n == 0).select(
        "_tc", "_months", "patient_id", "organization_id", trigger_table="event_table", trigger_id="event_id",
        index_ts="event_ts")
    first = _anchored(first, periods)
    ks = ibis.memtable({"k": list(range(max_periods))})
    per = first.cross_join(ks).inner_join(data_end, "patient_id")
    per = per.mutate(start_ts=per._anchor + (per.k * per._months).as_interval("M"))
    per = per.filter((per.start_ts <= per.until_ts) & (per._stop.isnull() | (per.start_ts < per._stop)))
    full = per.start_ts + per._months.as_interval("M")
    per = per.mutate(end_ts=ibis.cases((per._stop.notnull() & (per._stop < full), per._stop), else_=full))
    label = per.start_ts.year().cast(_S)
    # Two observation periods can start cycles in one calendar year: the later gets a suffix.
    n = ibis.row_number().over(ibis.window(group_by=[per._tc, per.patient_id, label], order_by=per.start_ts))
    ident = per._tc + ":" + per.patient_id + ":" + label + ibis.cases((n > 0, ":" + (n + 1).cast(_S)), else_="")
    return per.select(
        cycle_id=ident, patient_id=per.patient_id,
        condition=per._tc, cycle_type=ibis.literal("chronic"),
        start_ts=per.start_ts.cast(per.index_ts.type()), end_ts=per.end_ts.cast(per.index_ts.type()),
        trigger_table=per.trigger_table,
        trigger_id=per.trigger_id, trigger_org=per.organization_id,
        period_label=label, index_ts=per.index_ts,
    )


def scratch(con: BaseBackend, name: str, expr: ir.Table) -> ir.Table:
    """An intermediate result a stage reads more than once: a temporary (in-memory, uncompressed)
    table on DuckDB, a plain table elsewhere; name it with a leading ``_`` and drop it after use."""
    if con.name == "duckdb":
        con.raw_sql(f"DROP TABLE IF EXISTS {name}")
        return con.create_table(name, expr, temp=True)
    return write_table(con, name, expr)


def run(con: BaseBackend, templates: Sequence[ConditionTemplate], rules: RecordRules,
        periods: ir.Table | None = None) -> dict[str, int]:
    """Build and write ``care_cycles`` and ``cycle_events`` into the store; returns row counts.

    ``rules`` say which records count (the library's record-rules); ``periods`` default to the store's
    ``observation_periods`` table when it has one (write it first with engine.observation.run).
    Intermediate results are materialised once each (events, their distinct codes, trigger events,
    cycles, events in the windows, cycle events before cost-bearing), each one query over all
    templates; templates enter as data (code masks joined in), not as one scan per template.
    """
    core = listed_once(con)  # the core tables' list, read once for every counting view
    # Only the clinical events are read more than once (codes, triggers, windows, followers): they
    # are materialised; the billable records (claims, activities: most of the rows) are read where
    # they are needed, the data end and following their encounter, straight from the store.
    ev = scratch(con, "_cv_events", events(core, rules, CLINICAL_TABLES))
    billable = events(core, rules, FOLLOWER_TABLES) if set(FOLLOWER_TABLES) & set(core.list_tables()) else None
    every = ev if billable is None else ibis.union(ev, billable)
    until = scratch(con, "_cv_until", data_end(core, every, rules))
    periods = periods_or_none(con) if periods is None else periods
    # The distinct codes are matched against the code sets first, on their own (a few thousand
    # rows); the trigger events of all templates are then found in one join.
    codes = scratch(con, "_cv_codes", ev.select(*_CODE_KEY).distinct())
    hits = scratch(con, "_cv_triggers", trigger_hits(ev, trigger_masks(codes, templates)))
    raw = scratch(con, "_cv_cycles", all_cycles(ev, templates, until, periods, hits))
    masks = code_set_masks(codes, templates)
    # Phase rules name clinical tables only (claims and activities join by following their encounter),
    # so only clinical events are matched against the windows.
    clinical = ev.filter(ev.event_table.isin(CLINICAL_TABLES))
    inwin = scratch(con, "_cv_inwin", collected_rows(in_window(clinical, raw, templates, masks)))
    with joins_as_written(con):  # the followers are millions of rows, the matched events far fewer
        cev_raw = scratch(con, "_cv_cycle_events", collect_events(every, inwin))
    write_table(con, "care_cycles", _attribute(raw, cev_raw, templates, core, rules))
    write_table(con, "cycle_events", cost_bearing(cev_raw, raw))
    for name in ("_cv_events", "_cv_until", "_cv_triggers", "_cv_cycles", "_cv_codes", "_cv_inwin",
                 "_cv_cycle_events"):
        con.raw_sql(f"DROP TABLE IF EXISTS {name}")
    return row_counts(con, ("care_cycles", "cycle_events"))


def row_counts(con: BaseBackend, names: Sequence[str]) -> dict[str, int]:
    """Rows of each written table, in one query."""
    expr = ibis.union(*[con.table(n).aggregate(_t=ibis.literal(n), _n=ibis._.count()) for n in names])
    return {str(r["_t"]): int(r["_n"]) for r in expr.to_pyarrow().to_pylist()}
