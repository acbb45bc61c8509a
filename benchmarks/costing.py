"""Benchmark: TDABC cost per cycle over >= 20M activities, the Ibis pipeline vs one hand-written
DuckDB SQL query computing the same totals (the limit on this machine), side by side in one run.

Both write per-cycle totals (labour cost, minutes) into a table; the two tables are then checked
equal. Activities are generated in DuckDB: 10 per encounter, 4 encounters per cycle, 10% recorded
without minutes (filled from the process map's standard times by both).

    .venv/bin/python benchmarks/costing.py [--activities 20000000] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path

import ibis

from carevalue.backends import write_table
from carevalue.definitions.loader import load
from carevalue.definitions.process_map import load_costing_policy, load_process_maps
from carevalue.engine.costing import build, map_tables
from carevalue.model import TABLES

warnings.filterwarnings("ignore")

ENGINE_DDL = [
    """CREATE TABLE care_cycles (cycle_id VARCHAR, patient_id VARCHAR, condition VARCHAR, cycle_type VARCHAR,
       start_ts TIMESTAMP, end_ts TIMESTAMP, trigger_table VARCHAR, trigger_id VARCHAR, organization_id VARCHAR,
       ipu_id VARCHAR, period_label VARCHAR)""",
    """CREATE TABLE cycle_events (cycle_id VARCHAR, patient_id VARCHAR, condition VARCHAR, event_table VARCHAR,
       event_id VARCHAR, event_ts TIMESTAMP, phase VARCHAR, encounter_id VARCHAR, organization_id VARCHAR,
       practitioner_id VARCHAR, cost_bearing BOOLEAN)""",
]

HAND_SQL = """
CREATE OR REPLACE TABLE sql_totals AS
WITH rates AS (
  SELECT resource_id, role, annual_cost / practical_capacity_minutes AS rate FROM resources),
enc AS (
  SELECT coalesce(encounter_id, event_id) AS encounter_id, min(cycle_id) AS cycle_id
  FROM cycle_events WHERE event_table = 'encounters' AND cost_bearing GROUP BY 1),
a AS (
  SELECT e.cycle_id, c.condition, a.step_code, r.role, r.rate, a.minutes
  FROM activities a JOIN enc e ON a.encounter_id = e.encounter_id
  JOIN care_cycles c ON c.cycle_id = e.cycle_id
  LEFT JOIN rates r ON r.resource_id = a.resource_id)
SELECT a.cycle_id,
       sum(coalesce(a.minutes, s.base_minutes, 0) * coalesce(a.rate, 0)) AS labour_cost,
       sum(coalesce(a.minutes, s.base_minutes, 0)) AS minutes
FROM a LEFT JOIN bench_steps s
  ON s.applies_to = a.condition AND s.step_code = a.step_code AND s.role = a.role
GROUP BY a.cycle_id
"""


def generate(raw, n: int) -> None:  # type: ignore[no-untyped-def]
    """Resources, encounters, cycles and ``n`` activities for the hip/knee maps' steps and roles."""
    maps = {m.applies_to: m for m in load_process_maps()}
    pairs = [(m, s.step_code, r.role) for m in ("hip-osteoarthritis", "knee-osteoarthritis")
             for s in maps[m].steps for r in s.resources]
    roles = sorted({p[2] for p in pairs})
    raw.execute("CREATE TABLE bench_pairs (k INTEGER, condition VARCHAR, step_code VARCHAR, role VARCHAR)")
    raw.executemany("INSERT INTO bench_pairs VALUES (?, ?, ?, ?)", [[i, *p] for i, p in enumerate(pairs)])
    n_orgs, per_role = 20, 5
    raw.execute(f"""INSERT INTO resources (resource_id, name, resource_type, role, organization_id, annual_cost,
        practical_capacity_minutes, source)
        SELECT 'R-' || o || '-' || r.role || '-' || j, r.role, 'person', r.role, 'ORG' || o,
               50000 + 10000 * ((o * 7 + j * 3 + length(r.role)) % 30), 96000, 'bench'
        FROM range({n_orgs}) t(o), (SELECT unnest({roles!r}) AS role) r, range({per_role}) u(j)""")
    n_enc = n // 10
    n_cyc = n_enc // 4
    raw.execute(f"""INSERT INTO care_cycles SELECT 'C' || c, 'P' || c,
        CASE WHEN c % 2 = 0 THEN 'hip-osteoarthritis' ELSE 'knee-osteoarthritis' END, 'acute',
        TIMESTAMP '2024-01-01', TIMESTAMP '2024-12-31', 'procedures', 'X' || c, 'ORG' || (c % {n_orgs}), NULL, NULL
        FROM range({n_cyc}) t(c)""")
    raw.execute(f"""INSERT INTO cycle_events SELECT 'C' || (e // 4), 'P' || (e // 4), NULL, 'encounters', 'E' || e,
        TIMESTAMP '2024-01-01' + INTERVAL (e % 300) DAY, 'intervening', 'E' || e, 'ORG' || ((e // 4) % {n_orgs}),
        NULL, true FROM range({n_enc}) t(e)""")
    raw.execute(f"""INSERT INTO activities (activity_id, patient_id, encounter_id, resource_id, step_code,
        start_ts, minutes, source)
        SELECT 'A' || i, 'P' || (i // 40), 'E' || (i // 10),
               'R-' || ((i // 40) % {n_orgs}) || '-' || p.role || '-' || (hash(i) % {per_role}),
               p.step_code, TIMESTAMP '2024-01-01' + INTERVAL ((i // 10) % 300) DAY,
               CASE WHEN hash(i * 31) % 10 = 0 THEN NULL ELSE 5 + (hash(i * 17) % 120) END, 'bench'
        FROM range({n}) t(i)
        JOIN bench_pairs p ON p.k = (hash(i * 13) % {len(pairs)})
        -- keep the condition of the pair consistent with the cycle's condition half the time is
        -- unnecessary: a step absent from the cycle's map simply has no standard time
    """)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--activities", type=int, default=20_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--db", type=Path, default=None, help="DuckDB file (default: a temp file)")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(prefix="carevalue-bench-")
    path = args.db or Path(tmp.name) / "bench.duckdb"
    con = ibis.duckdb.connect(str(path), threads=args.threads)
    raw = con.con
    for t in TABLES:
        raw.execute(t.ddl())
    for ddl in ENGINE_DDL:
        raw.execute(ddl)
    t0 = time.perf_counter()
    generate(raw, args.activities)
    n = raw.execute("SELECT count(*) FROM activities").fetchone()[0]  # type: ignore[index]
    print(f"generated {n:,} activities in {time.perf_counter() - t0:.1f}s")
    maps = load_process_maps()
    policy = load_costing_policy()
    write_table(con, "bench_steps", map_tables(maps).steps)

    runs: dict[str, float] = {}
    t0 = time.perf_counter()
    raw.execute(HAND_SQL)
    runs["hand-written DuckDB SQL"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    totals = build(con, maps, policy, load().get("record-rules", "default"))["cycle_cost_totals"]
    write_table(con, "ibis_totals", totals.select("cycle_id", "labour_cost", "minutes"))
    runs["carevalue Ibis pipeline"] = time.perf_counter() - t0

    check = raw.execute("""SELECT count(*) AS cycles,
        count(*) FILTER (WHERE i.cycle_id IS NULL OR s.cycle_id IS NULL
            OR abs(i.labour_cost - s.labour_cost) > 1e-6 * greatest(1, abs(s.labour_cost))
            OR abs(i.minutes - s.minutes) > 1e-6 * greatest(1, abs(s.minutes))) AS mismatches,
        sum(s.labour_cost), sum(i.labour_cost)
        FROM ibis_totals i FULL JOIN sql_totals s ON i.cycle_id = s.cycle_id""").fetchone()
    assert check is not None
    cycles, mismatches, sql_sum, ibis_sum = check
    base = runs["hand-written DuckDB SQL"]
    print(f"\n{'pipeline':<28}{'seconds':>10}{'activities/s':>16}{'ratio to SQL':>14}")
    for name, secs in runs.items():
        print(f"{name:<28}{secs:>10.2f}{n / secs:>16,.0f}{secs / base:>14.2f}")
    print(f"\ncycles {cycles:,}; mismatching cycles {mismatches}; total labour cost SQL {sql_sum:,.2f} "
          f"Ibis {ibis_sum:,.2f}; threads {args.threads}")
    if mismatches:
        raise SystemExit("results differ")


if __name__ == "__main__":
    main()
