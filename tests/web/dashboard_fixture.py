"""A small measure store built in memory for the dashboard's tests: four hip providers (one with
5 patients, a small cell), length of stay that depends on age exactly as written below, deaths,
costs by phase, each cycle's events by phase (EVENTS), and segments; the comparison rows come from
the real outcomes engine."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import ibis
import numpy as np
import pandas as pd

from carevalue.definitions.loader import load_library
from carevalue.engine.outcomes import COMPARISON_FLOATS, compare_measure
from carevalue.model import declared

CONDITION = "hip-osteoarthritis"
# provider -> (cycles, extra days of stay over the case-mix expectation, deaths)
PROVIDERS = {"org-a": (60, 0.0, 2), "org-b": (60, 1.5, 3), "org-c": (60, -1.0, 2), "org-tiny": (5, 0.0, 0)}
# readmission within 30 days: log-odds −4 + 0.04 × age + the provider's effect (drawn, seed 4)
READMISSION_EFFECT = {"org-a": 0.0, "org-b": 1.0, "org-c": -0.5, "org-tiny": 0.0}
PHASES = {"diagnosing": 300.0, "intervening": 6000.0, "recovering-rehabbing": 1200.0}
# every cycle's events: (days after the cycle start, phase, table, id suffix)
EVENTS = [(0, "diagnosing", "encounters", "visit"), (7, "diagnosing", "observations", "xray"),
          (30, "intervening", "procedures", "thr"), (33, "recovering-rehabbing", "encounters", "rehab"),
          (75, "recovering-rehabbing", "observations", "prom")]
IPUS = {"org-a": "ipu-hip-a", "org-b": "ipu-hip-b", "org-c": "ipu-hip-c", "org-tiny": "ipu-tiny"}


def stay(age: float, asa: float, effect: float) -> float:
    """Length of stay: 1 + 0.05 × age + 0.5 × ASA class + the provider's effect (no noise)."""
    return 1.0 + 0.05 * age + 0.5 * asa + effect


def build(con: ibis.BaseBackend | None = None) -> ibis.BaseBackend:
    con = con or ibis.duckdb.connect()
    rng = np.random.default_rng(3)
    readmit_rng = np.random.default_rng(4)  # its own stream: the other measures' draws stay as documented
    values, casemix, totals, costs, cycles, events = [], [], [], [], [], []
    k = 0
    for org, (n, effect, deaths) in PROVIDERS.items():
        for i in range(n):
            k += 1
            cid, pid = f"c{k}", f"p{k}"
            age, asa = float(rng.integers(50, 85)), float(rng.integers(1, 4))
            start = datetime(2023 + i % 2, 3, 1) + timedelta(days=i)
            cycles.append({"cycle_id": cid, "patient_id": pid, "condition": CONDITION, "cycle_type": "acute",
                           "start_ts": start, "end_ts": start + timedelta(days=120),
                           "index_ts": start + timedelta(days=30), "trigger_table": "procedures",
                           "trigger_id": f"{cid}-thr", "organization_id": org, "ipu_id": IPUS[org],
                           "period_label": None})
            events += [{"cycle_id": cid, "patient_id": pid, "condition": CONDITION, "event_table": table,
                        "event_id": f"{cid}-{suffix}", "event_ts": start + timedelta(days=day), "phase": phase,
                        "encounter_id": None, "organization_id": org, "practitioner_id": None,
                        "cost_bearing": True} for day, phase, table, suffix in EVENTS]
            common = {"cycle_id": cid, "patient_id": pid, "condition": CONDITION, "organization_id": org,
                      "scale": None, "time_days": 90.0, "censored": False, "anchor_ts": start + timedelta(days=30)}
            values.append({**common, "measure": "length-of-stay", "time_point": "discharge",
                           "value": stay(age, asa, effect) + rng.normal(0, 0.3), "event": None,
                           "tier": 2, "level": 3, "time_point_day": 0, "value_type": "continuous"})
            values.append({**common, "measure": "mortality-90d", "time_point": "90 days",
                           "value": float(i < deaths), "event": int(i < deaths),
                           "tier": 1, "level": 1, "time_point_day": 90, "value_type": "binary"})
            readmitted = int(readmit_rng.random() < 1 / (1 + np.exp(4 - 0.04 * age - READMISSION_EFFECT[org])))
            values.append({**common, "measure": "readmission-30d", "time_point": "30 days", "value": float(readmitted),
                           "event": readmitted, "time_days": 30.0, "tier": 2, "level": 4, "time_point_day": 30,
                           "value_type": "binary"})
            casemix += [{"cycle_id": cid, "condition": CONDITION, "variable": "age", "value_num": age, "value_text": None},
                        {"cycle_id": cid, "condition": CONDITION, "variable": "asa-class", "value_num": asa, "value_text": None},
                        {"cycle_id": cid, "condition": CONDITION, "variable": "sex", "value_num": None,
                         "value_text": "female" if i % 2 else "male"}]
            total = sum(PHASES.values()) * (1.1 if org == "org-b" else 1.0)
            totals.append({"cycle_id": cid, "patient_id": pid, "condition": CONDITION, "cycle_type": "acute",
                           "organization_id": org, "period_label": None, "start_ts": start,
                           "total_cost": None if i == 0 else total, "labour_cost": None if i == 0 else total,
                           "consumables_cost": 0.0, "charges": 9000.0})
            if i:
                costs += [{"cycle_id": cid, "condition": CONDITION, "organization_id": org, "phase": ph,
                           "line": "labour", "total_cost": c * (1.1 if org == "org-b" else 1.0),
                           "minutes": c / 10} for ph, c in PHASES.items()]
    vframe = pd.DataFrame(values).astype({"value": "float64", "event": "Int64", "tier": "Int64", "level": "Int64",
                                          "time_point_day": "Int64"})
    vframe["scale"] = vframe["scale"].astype("string")
    con.create_table("outcome_values", ibis.memtable(vframe), overwrite=True)
    cm = pd.DataFrame(casemix).astype({"value_num": "float64", "value_text": "string"})
    con.create_table("casemix_values", ibis.memtable(cm), overwrite=True)
    tframe = pd.DataFrame(totals)
    tframe["period_label"] = tframe["period_label"].astype("string")
    con.create_table("cycle_cost_totals", ibis.memtable(tframe), overwrite=True)
    con.create_table("cycle_costs", ibis.memtable(pd.DataFrame(costs)), overwrite=True)
    cyc = pd.DataFrame(cycles).astype({"period_label": "string"})
    con.create_table("care_cycles", ibis.memtable(cyc), overwrite=True)
    ev = pd.DataFrame(events).astype({"encounter_id": "string", "practitioner_id": "string"})
    con.create_table("cycle_events", ibis.memtable(ev), overwrite=True)
    tpl = load_library().get("conditions", CONDITION)
    comp = pd.concat([compare_measure(con, [tpl], m) for m in ("length-of-stay", "mortality-90d", "readmission-30d")],
                     ignore_index=True)
    comp = comp.astype({c: "float64" for c in COMPARISON_FLOATS})
    comp["patients"] = comp["n"].astype("Int64")
    kinds = {c.name: c.type for c in declared("outcome_comparison").columns}
    for c in comp.columns:  # the declared column types (as the outcomes stage writes them)
        kind = kinds.get(c)
        if kind in ("BIGINT", "INTEGER"):
            comp[c] = pd.to_numeric(comp[c], errors="coerce").astype("Int64")
        elif kind == "DOUBLE":
            comp[c] = pd.to_numeric(comp[c], errors="coerce").astype("float64")
        elif comp[c].dtype == object or kind == "VARCHAR":
            comp[c] = comp[c].astype("string")
    con.create_table("outcome_comparison", ibis.memtable(comp), overwrite=True)
    seg = [{"patient_id": f"p{i}", "segment": "chronic", "valid_from": date(2023, 1, 1), "valid_to": None}
           for i in range(1, 41)]
    sframe = pd.DataFrame(seg)
    sframe["valid_from"] = pd.to_datetime(sframe["valid_from"]).dt.date
    sframe["valid_to"] = date(2025, 12, 31)
    con.create_table("segments", ibis.memtable(sframe), overwrite=True)
    pts = pd.DataFrame([{"patient_id": f"p{i}", "death_date": date(2024, 6, 1) if i <= 12 else None}
                        for i in range(1, 186)])
    pts["death_date"] = pd.to_datetime(pts["death_date"])
    con.create_table("patients", ibis.memtable(pts), overwrite=True)
    return con


def publish(folder: Path) -> Path:
    """The fixture as a store on disk with one published run (what ``carevalue serve`` opens)."""
    from carevalue.pipeline.runs import RunStore

    store = folder / "carevalue.duckdb"
    ibis.duckdb.connect(str(store)).disconnect()  # an empty core store
    runs = RunStore(store)
    rec, con = runs.begin([], "fixture")
    build(con)
    runs.publish(rec, con)
    return store
