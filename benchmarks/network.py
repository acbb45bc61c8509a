"""Network stage time: the stage as `carevalue run --only network` runs it (on a scratch copy of the
store's current run) beside ONE hand-written DuckDB query doing its core set-based work on the same
store, with the totals checked equal and the ratio printed (issue 12: within 3×).

    PYTHONPATH=src python benchmarks/network.py --store demo-output/carevalue.duckdb

The core is the volume every other network table starts from: each care cycle's index event
(its trigger record, the trigger's encounter filling a missing location or clinician), counted per
condition, level (organization, facility, clinician), unit and year, with distinct patients. The
stage does more (observation windows, standards, volume and value, scenarios, affiliations, the
IPU assessment), so the ratio bounds its overhead from above. The store must have been through
`carevalue run`."""

from __future__ import annotations

import argparse

import pandas as pd
from payment import ratio_rows, scratch_run, timed_sql, timer

CORE_SQL = """
WITH trig AS (
  SELECT procedure_id AS tid, 'procedures' AS ttab, encounter_id AS enc, location_id AS loc,
         practitioner_id AS prac FROM procedures
  UNION ALL SELECT condition_id, 'conditions', encounter_id, NULL, NULL FROM conditions
  UNION ALL SELECT encounter_id, 'encounters', encounter_id, location_id, practitioner_id FROM encounters),
idx AS (
  SELECT c.cycle_id, c.patient_id, c.condition,
         year(CASE WHEN c.cycle_type = 'acute' THEN COALESCE(c.index_ts, c.start_ts) ELSE c.start_ts END) AS year,
         COALESCE(c.organization_id, e.organization_id) AS organization,
         COALESCE(t.loc, e.location_id) AS facility, COALESCE(t.prac, e.practitioner_id) AS clinician
  FROM care_cycles c
  LEFT JOIN trig t ON t.ttab = c.trigger_table AND t.tid = c.trigger_id
  LEFT JOIN encounters e ON e.encounter_id = t.enc),
long AS (
  SELECT cycle_id, patient_id, condition, year, 'organization' AS level, organization AS unit_id FROM idx
  UNION ALL SELECT cycle_id, patient_id, condition, year, 'facility', facility FROM idx
  UNION ALL SELECT cycle_id, patient_id, condition, year, 'clinician', clinician FROM idx),
vol AS (
  SELECT level, condition, unit_id, year, COUNT(*) AS cycles, COUNT(DISTINCT patient_id) AS patients
  FROM long WHERE unit_id IS NOT NULL AND year IS NOT NULL GROUP BY ALL)
SELECT level, COUNT(*) AS units, SUM(cycles) AS cycles, SUM(patients) AS patients FROM vol GROUP BY level
ORDER BY level
"""


def stage_vs_sql(store: str) -> list[tuple[str, str, str]]:
    from carevalue.definitions.loader import load_library
    from carevalue.pipeline.network_stage import run_network
    from carevalue.pipeline.stage import StageContext

    lib = load_library()
    with scratch_run(store) as con:
        with timer() as t_stage:
            rows = run_network(con, lib, write=StageContext(con, lib, "benchmark").write)
        t_sql, got = timed_sql(con, CORE_SQL)
        v = con.table("network_volume")
        want = v.group_by("level").aggregate(units=v.count(), cycles=v.cycles.sum(),
                                             patients=v.patients.sum()).order_by("level").execute()
    cols = ["level", "units", "cycles", "patients"]
    def rows_of(df: pd.DataFrame) -> list[tuple[str, int, int, int]]:
        return [(str(r[0]), int(r[1]), int(r[2]), int(r[3])) for r in df[cols].itertuples(index=False)]

    if rows_of(got) != rows_of(want):
        raise SystemExit(f"network: the one-query core disagrees with the stage:\n{got}\n{want}")
    return ratio_rows(f"network stage ({sum(rows.values()):,} rows in {len(rows)} tables)", t_stage,
                      "network core (volume), one hand-written DuckDB query", t_sql,
                      f"units, cycles and patients per level equal ({int(want.cycles.sum()):,} unit-cycles)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--store", required=True)
    args = ap.parse_args()
    print("| run | wall / CPU seconds (ratio) | note |\n|---|---|---|")
    for name, sec, note in stage_vs_sql(args.store):
        print(f"| {name} | {sec} | {note} |")


if __name__ == "__main__":
    main()
