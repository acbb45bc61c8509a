"""Benchmark: engine stages as run vs ONE hand-written DuckDB SQL query doing the same work on the
same store, side by side in one run (issue 12: every stage within 3x of the hand-written query).

The store is copied to a temporary folder (never written). Per stage, a run is opened on the copy
as ``carevalue run --only STAGE`` opens it (core attached, earlier tables carried over), the stage
runs as the pipeline runs it (input/output checks, every table it writes), then the hand-written
query writes its result into the same run file. The two results are checked equal (row count and
sum) before the ratio is printed, so the comparison is honest:

* costing: cost per care cycle (labour minutes x capacity cost rate + consumables) of every costed
  cycle, attributed through cost-bearing encounters or the patient's segment year. Checked:
  costed cycles and total cost against ``cycle_cost_totals``. The query does less than the stage
  (no cost lines, capacity use or opportunities; standard times without pathway-flag extras, which
  the check would catch), so the ratio is an upper bound.
* cycles: the care-cycle windows (acute index islands, chronic periods inside observation
  periods) of every template, triggers joined in as data (``bench_triggers``: each distinct code
  of the store matched once against the templates' trigger code sets, as the stage does). Checked:
  cycles and total cycle days against ``care_cycles``. The query does not assign events to
  phases (the stage's ``cycle_events``), so this ratio is an upper bound too.
* segments: every patient's segment intervals (the rules' change dates, each leaf test evaluated
  by one grouped join per kind of leaf with every value set at once, the first matching segment,
  collapsed into intervals cut to the observation periods), value sets joined in as data
  (``bench_value_sets``: each distinct code of the store matched once). Checked: intervals and
  their total days against ``segments``. The query writes no ``segment_transitions``.

Wall and CPU seconds are both printed (CPU: every DuckDB thread of this process; the fairer
number on a shared machine). A second table gives each stage's write floor: copying the tables it
wrote once each, the least any query producing them costs (the hand-written queries write one
small table, the stages write every declared table, e.g. one row per activity), with the part of the
CPU ratio the floor alone accounts for (floor / SQL), the ratio of the rest ((stage - floor) / SQL)
and the stage against the hand-written query plus the floor (stage / (SQL + floor)).

    PYTHONPATH=src .venv/bin/python benchmarks/stage_baselines.py --store /path/carevalue.duckdb
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from carevalue.definitions.loader import Library, load
from carevalue.definitions.process_map import CostingPolicy
from carevalue.definitions.record_rule import RecordRules
from carevalue.pipeline.orchestrate import definitions_hash, execute
from carevalue.pipeline.runs import RunStore
from carevalue.pipeline.stages import chosen

warnings.filterwarnings("ignore")


def _lit(values: list[str] | set[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) or "NULL"


def counts_sql(rules: RecordRules, table: str, alias: str) -> str:
    """The record rules' status test of ``table`` as SQL (as engine.record_filter applies it)."""
    parts = []
    for r in rules.for_table(table):
        col = f"{alias}.{r.column}"
        keep = f"{col} IN ({_lit(r.counts)})"
        if r.other_counts:
            keep = f"({keep} OR {col} NOT IN ({_lit(r.codes())}))"
        parts.append(f"(CASE WHEN {col} IS NULL THEN {str(r.missing_counts).upper()} ELSE {keep} END)")
    return " AND ".join(parts) or "TRUE"


def counted(rules: RecordRules, table: str, key: str, has_patient: bool = True) -> str:
    """SELECT of the rows of core ``table`` that count (status rules, excluded encounters and
    plausibility exclusions), the SQL twin of record_filter.counting without closing rules."""
    where = [counts_sql(rules, table, "t"),
             f"{key} NOT IN (SELECT record_id FROM plausibility_flags WHERE action = 'exclude' "
             f"AND record_table = '{table}')"]
    if has_patient and table != "patients":
        where.append("patient_id NOT IN (SELECT record_id FROM plausibility_flags WHERE action = 'exclude' "
                     "AND record_table = 'patients')")
    if rules.follow_encounter and table not in ("encounters", "patients"):
        where.append(f"coalesce(encounter_id, '') NOT IN (SELECT encounter_id FROM encounters e WHERE NOT "
                     f"({counts_sql(rules, 'encounters', 'e')}))")
    return f"SELECT * FROM {table} t WHERE " + " AND ".join(where)


# ----------------------------------------------------------------------------------- costing
def costing_sql(rules: RecordRules, policy: CostingPolicy) -> str:
    share = " ".join(f"WHEN role = '{k}' THEN {float(v)}" for k, v in policy.share_by_role.items())
    share = f"CASE {share} ELSE {policy.practical_share} END" if share else str(policy.practical_share)
    paid = " OR ".join([f"resource_type IN ({_lit(policy.paid_time_resource_types)})"] * bool(
        policy.paid_time_resource_types) + [f"role IN ({_lit(policy.paid_time_roles)})"] * bool(
        policy.paid_time_roles)) or "FALSE"
    return f"""
CREATE OR REPLACE TABLE bench_costing AS
WITH rates AS (
  SELECT resource_id, role, CASE WHEN cap > 0 THEN annual_cost / cap END AS rate FROM (
    SELECT *, CASE WHEN {paid} THEN practical_capacity_minutes * {share}
                   ELSE practical_capacity_minutes END::DOUBLE AS cap FROM resources)),
enc AS (
  SELECT e.encounter_id, e.cycle_id, c.condition FROM (
    SELECT coalesce(encounter_id, event_id) AS encounter_id, min(cycle_id) AS cycle_id FROM cycle_events
    WHERE event_table = 'encounters' AND cost_bearing GROUP BY 1) e JOIN care_cycles c USING (cycle_id)),
used AS (
  SELECT 'a' AS kind, patient_id, encounter_id, start_ts AS ts, resource_id, step_code, minutes,
         NULL::DOUBLE AS cost FROM ({counted(rules, "activities", "activity_id")})
  UNION ALL
  SELECT 'c', patient_id, encounter_id, used_ts, NULL, NULL, NULL, quantity * unit_cost
  FROM ({counted(rules, "consumables", "consumable_id")})),
attributed AS (
  SELECT u.*, coalesce(e.cycle_id, 'segment:' || s.segment || ':' || u.patient_id || ':'
                       || year(u.ts)::VARCHAR) AS cycle_id, coalesce(e.condition, s.segment) AS condition
  FROM used u LEFT JOIN enc e ON u.encounter_id = e.encounter_id
  -- only equalities and ranges in the join (an IS NULL there would compare every row with every
  -- interval): a row already in a cycle gets a null key, which matches nothing
  LEFT JOIN segments s ON s.patient_id = CASE WHEN e.cycle_id IS NULL THEN u.patient_id END
       AND s.valid_from <= u.ts::DATE AND u.ts::DATE < coalesce(s.valid_to, DATE '9999-12-31')),
costed AS (
  SELECT a.kind, a.cycle_id, a.cost, r.rate,
         coalesce(a.minutes, st.base_minutes, 0) AS minutes
  FROM attributed a LEFT JOIN rates r ON r.resource_id = a.resource_id
  LEFT JOIN bench_steps st ON st.applies_to = a.condition AND st.step_code = a.step_code AND st.role = r.role
  WHERE a.cycle_id IS NOT NULL)
SELECT cycle_id, coalesce(sum(minutes * coalesce(rate, 0)) FILTER (WHERE kind = 'a'), 0)
                 + coalesce(sum(cost) FILTER (WHERE kind = 'c'), 0) AS total_cost
FROM costed GROUP BY cycle_id
HAVING coalesce(sum(minutes) FILTER (WHERE kind = 'a' AND rate IS NOT NULL), 0) > 0
    OR count(*) FILTER (WHERE kind = 'c') > 0
"""


def costing_setup(con, lib: Library) -> str:  # type: ignore[no-untyped-def]
    from carevalue.backends import write_table
    from carevalue.engine.costing import map_tables

    write_table(con, "bench_steps", map_tables(lib.process_maps()).steps)
    return costing_sql(lib.get("record-rules", "default"), lib.costing_policy())


COSTING_CHECK = ("SELECT count(*), sum(total_cost) FROM cycle_cost_totals WHERE total_cost IS NOT NULL",
                 "SELECT count(*), sum(total_cost) FROM bench_costing")


# ----------------------------------------------------------------------------------- cycles
def cycles_setup(con, lib: Library) -> str:  # type: ignore[no-untyped-def]
    """Write ``bench_triggers`` (the store's distinct trigger codes per template, matched once as
    the stage matches them) and ``bench_templates`` (each template's cycle parameters); return the
    hand-written query."""
    import ibis

    from carevalue.backends import write_table
    from carevalue.engine.cycles import _code_match_py

    rules = lib.get("record-rules", "default")
    tpls = lib.conditions()
    codes = con.raw_sql(f"""
        SELECT DISTINCT 'procedures' AS event_table, code_system, code FROM ({counted(rules, 'procedures', 'procedure_id')})
        UNION SELECT DISTINCT 'conditions', code_system, code FROM ({counted(rules, 'conditions', 'condition_id')})
        """).fetchall()
    rows = []
    for t in tpls:
        wanted = [(rank, tr.table, tr.code_set) for rank, tr in enumerate(t.cycle.triggers)]
        if t.cycle.require_code_set:
            wanted.append((-1, "conditions", t.cycle.require_code_set))
        for table, system, code in codes:
            row = {"event_table": table, "code_system": system, "code": code, "reason_system": None,
                   "reason_code": None}
            rows += [{"condition": t.id, "rank": rank, "event_table": table, "code_system": system or "~",
                      "code": code} for rank, tab, name in wanted if tab == table and _code_match_py(row, t, name)]
    write_table(con, "bench_triggers", ibis.memtable(rows, schema={
        "condition": "string", "rank": "int64", "event_table": "string", "code_system": "string", "code": "string"}))
    write_table(con, "bench_templates", ibis.memtable([{
        "condition": t.id, "kind": t.cycle.kind, "before_days": t.cycle.days_before or 0,
        "after_days": t.cycle.days_after or 0, "months": t.cycle.period_months or 12,
        "need": t.cycle.require_code_set is not None and t.cycle.kind == "acute",
        "within_days": t.cycle.require_within_days or 0} for t in tpls]))
    enc_ok = counted(rules, "encounters", "encounter_id")
    return f"""
CREATE OR REPLACE TABLE bench_cycles AS
WITH enc AS (SELECT encounter_id, start_ts FROM ({enc_ok})),
ev AS (
  SELECT 'procedures' AS event_table, p.procedure_id AS event_id, p.patient_id, p.code_system, p.code,
         coalesce(p.start_ts, e.start_ts) AS event_ts
  FROM ({counted(rules, 'procedures', 'procedure_id')}) p LEFT JOIN enc e USING (encounter_id)
  UNION ALL
  SELECT 'conditions', c.condition_id, c.patient_id, c.code_system, c.code,
         coalesce(e.start_ts, coalesce(c.recorded_ts, c.onset_ts)) FROM ({counted(rules, 'conditions', 'condition_id')}) c
  LEFT JOIN enc e USING (encounter_id)),
hits AS (
  SELECT ev.*, b.condition, b.rank FROM ev JOIN bench_triggers b
  ON b.event_table = ev.event_table AND b.code_system = coalesce(ev.code_system, '~') AND b.code = ev.code
  WHERE ev.event_ts IS NOT NULL),
trig AS (
  SELECT h.* FROM hits h JOIN bench_templates t USING (condition)
  WHERE h.rank >= 0 AND (NOT t.need OR EXISTS (
    SELECT 1 FROM hits d WHERE d.rank = -1 AND d.condition = h.condition AND d.patient_id = h.patient_id
      AND d.event_ts <= h.event_ts + to_days(t.within_days::INTEGER)))),
-- acute: islands of index events closer than days_after; the window runs from days_before the
-- island's index event (earliest of its best-ranked kind) to days_after its last event
isl AS (
  SELECT *, sum(new) OVER (PARTITION BY condition, patient_id ORDER BY event_ts, rank, event_id
                           ROWS UNBOUNDED PRECEDING) AS island FROM (
    SELECT tr.*, t.before_days, t.after_days,
      CASE WHEN lag(event_ts) OVER w IS NULL OR event_ts > lag(event_ts) OVER w + to_days(t.after_days::INTEGER)
           THEN 1 ELSE 0 END AS new
    FROM trig tr JOIN bench_templates t USING (condition) WHERE t.kind = 'acute'
    WINDOW w AS (PARTITION BY condition, patient_id ORDER BY event_ts, rank, event_id))),
acute AS (
  SELECT condition, patient_id, greatest(start_ts, coalesce(lag(end_ts) OVER (PARTITION BY condition, patient_id
         ORDER BY island), start_ts)) AS start_ts, end_ts FROM (
    SELECT condition, patient_id, island,
           least(first(event_ts ORDER BY rank, event_ts, event_id) - to_days(any_value(before_days)::INTEGER),
                 min(event_ts)) AS start_ts,
           max(event_ts) + to_days(any_value(after_days)::INTEGER) AS end_ts
    FROM isl GROUP BY ALL)),
-- chronic: rolling periods from the first diagnosis, restarted in each observation period that
-- ends after it and cut at its end, while a period starts by the data end (death, else last event)
first_dx AS (
  SELECT tr.condition, tr.patient_id, min(tr.event_ts) AS index_ts, any_value(t.months) AS months
  FROM trig tr JOIN bench_templates t USING (condition) WHERE t.kind = 'chronic' GROUP BY ALL),
last_event AS (
  SELECT max(ts) AS ts FROM (
    SELECT max(start_ts) AS ts FROM enc
    UNION ALL SELECT max(event_ts) FROM ev
    UNION ALL SELECT max(effective_ts) FROM ({counted(rules, 'observations', 'observation_id')})
    UNION ALL SELECT max(coalesce(authored_ts, e.start_ts)) FROM ({counted(rules, 'medications', 'medication_id')}) m LEFT JOIN enc e USING (encounter_id)
    UNION ALL SELECT max(coalesce(occurrence_ts, e.start_ts)) FROM ({counted(rules, 'immunizations', 'immunization_id')}) i LEFT JOIN enc e USING (encounter_id)
    UNION ALL SELECT max(coalesce(authored_ts, e.start_ts)) FROM ({counted(rules, 'questionnaire_responses', 'response_id')}) q LEFT JOIN enc e USING (encounter_id)
    UNION ALL SELECT max(coalesce(service_start, e.start_ts)) FROM ({counted(rules, 'claims', 'claim_id')}) c LEFT JOIN enc e USING (encounter_id)
    UNION ALL SELECT max(coalesce(a.start_ts, e.start_ts)) FROM ({counted(rules, 'activities', 'activity_id')}) a LEFT JOIN enc e USING (encounter_id))),
anchors AS (
  SELECT f.condition, f.patient_id, f.months, greatest(f.index_ts, o.period_start::TIMESTAMP) AS anchor,
         (o.period_end + 1)::TIMESTAMP AS stop, coalesce(p.death_date::TIMESTAMP, l.ts) AS until_ts
  FROM first_dx f JOIN observation_periods o ON o.patient_id = f.patient_id
       AND (o.period_end + 1)::TIMESTAMP > f.index_ts
  JOIN ({counted(rules, 'patients', 'patient_id', has_patient=False)}) p ON p.patient_id = f.patient_id
  CROSS JOIN last_event l),
chronic AS (
  SELECT condition, patient_id, start_ts, least(start_ts + to_months(months::INTEGER), stop) AS end_ts FROM (
    SELECT a.*, a.anchor + to_months((k * a.months)::INTEGER) AS start_ts FROM anchors a, range(120) r(k))
  WHERE start_ts <= until_ts AND start_ts < stop)
SELECT condition, patient_id, start_ts, end_ts FROM acute
UNION ALL SELECT condition, patient_id, start_ts, end_ts FROM chronic
"""


DAYS = "sum(date_diff('second', start_ts, end_ts)) / 86400.0"
CYCLES_CHECK = (f"SELECT count(*), {DAYS} FROM care_cycles", f"SELECT count(*), {DAYS} FROM bench_cycles")

# ----------------------------------------------------------------------------------- segments
def _leaves(rule, out: list) -> list:  # type: ignore[no-untyped-def]
    for sub in (rule.any or []) + (rule.all or []) + ([rule.not_] if rule.not_ else []):
        _leaves(sub, out)
    if any(x is not None for x in (rule.active, rule.encounters, rule.procedures, rule.observation)) \
            and rule not in out:
        out.append(rule)
    return out


def _ages(rule, out: set) -> set:  # type: ignore[no-untyped-def]
    for sub in (rule.any or []) + (rule.all or []) + ([rule.not_] if rule.not_ else []):
        _ages(sub, out)
    if rule.age_at_least is not None:
        out.add(rule.age_at_least)
    return out


def _rule_sql(rule, leaves: list) -> str:  # type: ignore[no-untyped-def]
    """A segment rule as a SQL test over the per-date table ``t`` (leaf columns l0, l1, ...)."""
    if rule.any is not None:
        return "(" + " OR ".join([_rule_sql(r, leaves) for r in rule.any] or ["FALSE"]) + ")"
    if rule.all is not None:
        return "(" + " AND ".join([_rule_sql(r, leaves) for r in rule.all] or ["TRUE"]) + ")"
    if rule.not_ is not None:
        return f"(NOT {_rule_sql(rule.not_, leaves)})"
    if rule.always is not None:
        return str(bool(rule.always)).upper()
    if rule.age_at_least is not None:
        return f"(t.birth_date IS NOT NULL AND t.d >= t.birth_date + INTERVAL {int(rule.age_at_least)} YEAR)"
    return f"coalesce(t.l{leaves.index(rule)}, FALSE)"


def segments_setup(con, lib: Library) -> str:  # type: ignore[no-untyped-def]
    """Write ``bench_value_sets`` (the store's distinct codes in each value set the segment rules
    name, matched once as the stage's cycles helper matches codes) and return the hand-written
    query: change dates, one grouped join per kind of leaf (every value set at once), the first
    matching segment per date, collapsed into intervals cut to the observation periods."""
    import ibis

    from carevalue.backends import write_table
    from carevalue.engine.cycles import in_groups

    rules = lib.get("record-rules", "default")
    segs = sorted(lib.segments(), key=lambda x: (x.priority, x.id))
    vsets = lib.kind("value-sets")
    leaves: list = []
    ages: set = set()
    for sg in segs:
        _leaves(sg.rule, leaves)
        _ages(sg.rule, ages)
    names = sorted({n for sg in segs for n in sg.rule.value_sets()})
    codes = con.raw_sql("SELECT DISTINCT code_system, code FROM conditions UNION SELECT DISTINCT code_system, code "
                        "FROM procedures UNION SELECT DISTINCT code_system, code FROM observations").fetchall()
    rows = [{"value_set": n, "code_system": system or "~", "code": code} for n in names for system, code in codes
            if in_groups(system, code, vsets[n].codes)]
    write_table(con, "bench_value_sets", ibis.memtable(rows, schema={
        "value_set": "string", "code_system": "string", "code": "string"}))
    closing = [c for c in rules.closing if c.table == "conditions" and c.end_column == "abatement_ts"]
    abate = "c.abatement_ts"
    for c in closing:
        abate = (f"CASE WHEN c.{c.column} IN ({_lit(c.values)}) AND c.abatement_ts IS NULL "
                 f"THEN coalesce({', '.join('c.' + f for f in c.fill_from)})::TIMESTAMP ELSE {abate} END")

    def coded(table: str, key: str, cols: str, kinds: str) -> str:
        return (f"SELECT {cols}, v.value_set FROM ({counted(rules, table, key)}) c JOIN bench_value_sets v "
                f"ON v.code_system = coalesce(c.code_system, '~') AND v.code = c.code "
                f"AND v.value_set IN ({_lit({getattr(r, kinds).value_set for r in leaves if getattr(r, kinds)})})")

    date_parts = ["SELECT patient_id, s AS d FROM starts WHERE s IS NOT NULL"]
    date_parts += [f"SELECT patient_id, birth_date + INTERVAL {a} YEAR FROM pts WHERE birth_date IS NOT NULL"
                   for a in sorted(ages)]
    cond_cols, obs_cols, joins, cols = [], [], [], []
    for i, r in enumerate(leaves):
        if r.active:
            date_parts += [f"SELECT patient_id, on_ FROM cond WHERE value_set = '{r.active.value_set}'",
                           f"SELECT patient_id, off FROM cond WHERE value_set = '{r.active.value_set}' "
                           "AND off IS NOT NULL"]
            cond_cols.append(f"count(DISTINCT c.code) FILTER (WHERE c.value_set = '{r.active.value_set}') "
                             f">= {r.active.at_least} AS l{i}")
        elif r.encounters or r.procedures:
            spec = r.encounters or r.procedures
            src = (f"enc WHERE class_code IN ({_lit(r.encounters.class_codes)})" if r.encounters
                   else f"proc WHERE value_set = '{r.procedures.value_set}'")
            date_parts += [f"SELECT patient_id, rday FROM {src}",
                           f"SELECT patient_id, rday + INTERVAL {spec.within_days} DAY FROM {src}"]
            joins.append(f"LEFT JOIN (SELECT d.patient_id, d.d, count(*) >= {spec.at_least} AS l{i} FROM dates d "
                         f"JOIN (SELECT * FROM {src}) e ON e.patient_id = d.patient_id AND e.rday <= d.d "
                         f"AND e.rday > d.d - INTERVAL {spec.within_days} DAY GROUP BY ALL) j{i} USING (patient_id, d)")
        else:
            o = r.observation
            date_parts.append(f"SELECT patient_id, rday FROM obs WHERE value_set = '{o.value_set}'")
            val = (f"arg_max_null(o.value_code, (o.effective_ts, o.observation_id)) FILTER (WHERE o.value_set = "
                   f"'{o.value_set}') IN ({_lit(o.value_codes)})" if o.value_codes else
                   f"arg_max_null(o.value_num, (o.effective_ts, o.observation_id)) FILTER (WHERE o.value_set = "
                   f"'{o.value_set}') >= {float(o.value_at_least)}")
            obs_cols.append(f"{val} AS l{i}")
        cols.append(f"l{i}")
    if cond_cols:
        joins.append(f"LEFT JOIN (SELECT d.patient_id, d.d, {', '.join(cond_cols)} FROM dates d JOIN cond c "
                     "ON c.patient_id = d.patient_id AND c.on_ <= d.d AND (c.off IS NULL OR c.off > d.d) "
                     "GROUP BY ALL) jc USING (patient_id, d)")
    if obs_cols:
        joins.append(f"LEFT JOIN (SELECT d.patient_id, d.d, {', '.join(obs_cols)} FROM dates d JOIN obs o "
                     "ON o.patient_id = d.patient_id AND o.rday <= d.d GROUP BY ALL) jo USING (patient_id, d)")
    case = " ".join(f"WHEN {_rule_sql(sg.rule, leaves)} THEN '{sg.id}'" for sg in segs)
    union = "\n    UNION ".join(date_parts)
    return f"""
CREATE OR REPLACE TABLE bench_segments AS
WITH pts AS (SELECT patient_id, birth_date, death_date FROM ({counted(rules, 'patients', 'patient_id', False)})),
encs AS ({counted(rules, 'encounters', 'encounter_id')}),
enc AS (SELECT patient_id, class_code, start_ts::DATE AS rday FROM encs),
cond AS ({coded('conditions', 'condition_id', f"c.patient_id, c.code, c.onset_ts::DATE AS on_, ({abate})::DATE AS off",
                'active')} WHERE c.onset_ts IS NOT NULL),
proc AS ({coded('procedures', 'procedure_id', 'c.patient_id, c.start_ts::DATE AS rday', 'procedures')}
         WHERE c.start_ts IS NOT NULL),
obs AS ({coded('observations', 'observation_id', 'c.patient_id, c.observation_id, c.value_num, c.value_code, '
               'c.effective_ts, c.effective_ts::DATE AS rday', 'observation')} WHERE c.effective_ts IS NOT NULL),
starts AS (SELECT p.patient_id, coalesce(p.birth_date, f.first) AS s FROM pts p
           LEFT JOIN (SELECT patient_id, min(start_ts)::DATE AS first FROM encs GROUP BY 1) f USING (patient_id)),
dates AS (
  SELECT DISTINCT x.patient_id, x.d::DATE AS d, p.birth_date FROM (
    {union}) x(patient_id, d)
  JOIN starts s ON s.patient_id = x.patient_id AND x.d::DATE >= s.s
  JOIN pts p ON p.patient_id = x.patient_id
  WHERE x.d::DATE = p.birth_date OR (x.d::DATE <= current_date AND (p.death_date IS NULL OR x.d::DATE <= p.death_date))),
t AS (SELECT * FROM dates {' '.join(joins)}),
at_dates AS (SELECT patient_id, d, CASE {case} END AS segment FROM t),
changes AS (
  SELECT patient_id, segment, d AS valid_from, lead(d) OVER (PARTITION BY patient_id ORDER BY d) AS valid_to FROM (
    SELECT *, lag(segment) OVER (PARTITION BY patient_id ORDER BY d) AS prev FROM at_dates)
  WHERE prev IS NULL OR prev != segment)
SELECT c.patient_id, c.segment, greatest(c.valid_from, o.period_start) AS valid_from,
       CASE WHEN c.valid_to IS NULL AND o.at_data_end THEN NULL
            ELSE least(coalesce(c.valid_to, o.period_end + 1), o.period_end + 1) END AS valid_to
FROM changes c JOIN observation_periods o ON o.patient_id = c.patient_id AND c.valid_from < o.period_end + 1
     AND (c.valid_to IS NULL OR c.valid_to > o.period_start)
"""


SEGMENT_DAYS = "sum(date_diff('day', valid_from, coalesce(valid_to, DATE '2200-01-01')))"
SEGMENTS_CHECK = (f"SELECT count(*), {SEGMENT_DAYS} FROM segments", f"SELECT count(*), {SEGMENT_DAYS} FROM bench_segments")

Setup = Callable[..., str]
BASELINES: dict[str, tuple[Setup, tuple[str, str]]] = {
    "costing": (costing_setup, COSTING_CHECK),
    "cycles": (cycles_setup, CYCLES_CHECK),
    "segments": (segments_setup, SEGMENTS_CHECK),
}


# ----------------------------------------------------------------------------------- the run
def copy_store(store: Path, into: Path) -> Path:
    """The core file and the current run of ``store``, copied into ``into``."""
    rs = RunStore(store)
    rid = rs.current_id()
    if rid is None:
        raise SystemExit(f"{store} has no published run: run `carevalue run --store {store}` first")
    core = into / store.name
    shutil.copy(store, core)
    folder = Path(str(core) + ".runs")
    folder.mkdir()
    shutil.copy(rs.run_file(rid), folder / f"{rid}.duckdb")
    (folder / "CURRENT").write_text(rid, encoding="utf-8")
    return core


def cpu() -> float:
    """CPU seconds of this process (every DuckDB thread): what a run costs on a shared machine."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(core: Path, lib: Library, stage: str) -> dict[str, object]:
    setup, (check_stage, check_hand) = BASELINES[stage]
    rs = RunStore(core)
    rec, con = rs.begin([stage], definitions_hash(lib))
    try:
        rs.carry_over(con, set(chosen([stage])[0].writes))
        t0, c0 = time.perf_counter(), cpu()
        execute(con, lib, rec.run_id, chosen([stage]))
        as_run, as_run_cpu = time.perf_counter() - t0, cpu() - c0
        sql = setup(con, lib)
        t0, c0 = time.perf_counter(), cpu()
        con.raw_sql(sql)
        hand, hand_cpu = time.perf_counter() - t0, cpu() - c0
        # What writing the stage's tables costs at the least: each copied once into a new table.
        t0, c0 = time.perf_counter(), cpu()
        for name in chosen([stage])[0].writes:
            con.raw_sql(f"CREATE TABLE bench_copy_{name} AS SELECT * FROM {name}")
        floor, floor_cpu = time.perf_counter() - t0, cpu() - c0
        got = con.raw_sql(check_stage).fetchone()
        want = con.raw_sql(check_hand).fetchone()
    finally:
        rs.fail(rec, con, "benchmark run (not published)")
    same = got[0] == want[0] and abs((got[1] or 0) - (want[1] or 0)) <= 1e-6 * max(1.0, abs(want[1] or 0))
    return {"stage": stage, "as_run": as_run, "hand": hand, "as_run_cpu": as_run_cpu, "hand_cpu": hand_cpu,
            "floor": floor, "floor_cpu": floor_cpu, "rows": got[0], "hand_rows": want[0],
            "sum": got[1], "hand_sum": want[1], "same": same}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", type=Path, required=True, help="DuckDB store with a published run (not written)")
    ap.add_argument("--stage", action="append", choices=sorted(BASELINES), help="default: all")
    ap.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: every core)")
    args = ap.parse_args()
    if args.threads:
        os.environ["CAREVALUE_DUCKDB_THREADS"] = str(args.threads)
    lib = load()
    with tempfile.TemporaryDirectory(prefix="carevalue-baselines-") as tmp:
        core = copy_store(args.store.resolve(), Path(tmp))
        rows = [measure(core, lib, s) for s in args.stage or sorted(BASELINES)]
    print(f"\n{'stage':<10}{'as run s':>10}{'hand SQL s':>12}{'ratio':>7}{'as run cpu':>12}{'SQL cpu':>9}"
          f"{'cpu ratio':>11}{'rows':>9}{'sum (stage)':>18}{'sum (SQL)':>18}  equal")
    for r in rows:
        print(f"{r['stage']:<10}{r['as_run']:>10.2f}{r['hand']:>12.2f}{r['as_run'] / r['hand']:>7.2f}"  # type: ignore[operator]
              f"{r['as_run_cpu']:>12.2f}{r['hand_cpu']:>9.2f}{r['as_run_cpu'] / r['hand_cpu']:>11.2f}"  # type: ignore[operator]
              f"{r['rows']:>9,}{r['sum']:>18,.2f}{r['hand_sum']:>18,.2f}  {'yes' if r['same'] else 'NO'}")
    print(f"\n{'stage':<10}{'write floor s':>14}{'cpu':>8}{'floor/SQL':>11}{'(stage-floor)/SQL':>19}"
          f"{'stage/(SQL+floor)':>19}   (CPU ratios)")
    for r in rows:
        fc, hc, sc = r["floor_cpu"], r["hand_cpu"], r["as_run_cpu"]
        print(f"{r['stage']:<10}{r['floor']:>14.2f}{fc:>8.2f}{fc / hc:>11.2f}{(sc - fc) / hc:>19.2f}"  # type: ignore[operator]
              f"{sc / (hc + fc):>19.2f}")  # type: ignore[operator]
    print("write floor: copying the tables the stage writes, once each (the least any query writing them costs);"
          " floor/SQL is the part of the ratio the writes alone account for")
    print(f"\nstore {args.store}; threads {os.environ.get('CAREVALUE_DUCKDB_THREADS') or os.cpu_count()}")
    if not all(r["same"] for r in rows):
        raise SystemExit("the hand-written query and the stage disagree: the comparison is not valid")


if __name__ == "__main__":
    main()
