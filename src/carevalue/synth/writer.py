"""Generate the population and write ``source/`` (FHIR NDJSON + costing CSVs) and ``truth/``."""

from __future__ import annotations

import csv
import multiprocessing as mp
import os
import shutil
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import orjson
import pandas as pd

from carevalue.synth import codes, fhir, pathways, system
from carevalue.synth.population import AS_OF_DATE, DAY, END, Population, draw_population
from carevalue.synth.pricing import Pricing
from carevalue.synth.tables import CONS_KEYS, ORG_IDS, ORG_INDEX, Tables
from carevalue.synth.truth import SEGMENTS, segments_at

LINES_PER_FILE = 1_000_000
ROWS_PER_CSV = 5_000_000


def _write_ndjson(folder: Path, rtype: str, resources: Iterable[dict[str, Any]]) -> int:
    n, part = 0, 0
    buf: list[bytes] = []
    fh = None

    def flush() -> None:
        nonlocal fh, part
        if fh is None:
            fh = (folder / f"{rtype}.{part:03d}.ndjson").open("wb")
        fh.write(b"\n".join(buf) + b"\n")
        buf.clear()

    for r in resources:
        buf.append(orjson.dumps(r))
        n += 1
        if len(buf) >= 50_000:
            flush()
        if n % LINES_PER_FILE == 0:
            if buf:
                flush()
            assert fh is not None
            fh.close()
            fh, part = None, part + 1
    if buf:
        flush()
    if fh is not None:
        fh.close()
    return n


_JOBS: dict[str, Callable[[], Iterable[dict[str, Any]]]] = {}
_FOLDER: list[Path] = []


def _job(rtype: str) -> tuple[str, int]:
    return rtype, _write_ndjson(_FOLDER[0], rtype, _JOBS[rtype]())


def _run_jobs(folder: Path, jobs: dict[str, Callable[[], Iterable[dict[str, Any]]]],
              workers: int | None) -> dict[str, int]:
    """Write every resource type; in forked worker processes when there is enough to do."""
    _JOBS.clear()
    _JOBS.update(jobs)
    _FOLDER[:] = [folder]
    n = workers if workers is not None else min(2, os.cpu_count() or 1)
    if n <= 1 or "fork" not in mp.get_all_start_methods():
        return dict(_job(k) for k in jobs)
    with mp.get_context("fork").Pool(n) as pool:
        return dict(pool.imap_unordered(_job, list(jobs)))


def _copy_csv(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> None:
    con.execute(f"COPY ({sql}) TO '{path.as_posix()}' (HEADER, DELIMITER ',')")


def simulate(patients: int, seed: int) -> tuple[Population, Tables, pathways.Truth, np.ndarray]:
    """Draw the population and every care cycle in memory (no files): the deterministic core."""
    rng = np.random.default_rng(seed)
    pop = draw_population(patients, rng)
    tb = Tables(rng, Pricing(ORG_IDS), pop.payer, pop.interpreter, scale=patients / 20_000)
    truth = pathways.Truth()
    asa = pathways.asa_class(pop, rng)
    pathways.primary_care(pop, tb, rng)
    pathways.diabetes(pop, tb, truth, rng)
    pathways.heart_failure(pop, tb, truth, rng)
    pathways.migraine(pop, tb, truth, rng)
    pathways.arthroplasty("hip", pop, tb, truth, rng, asa)
    pathways.arthroplasty("knee", pop, tb, truth, rng, asa)
    pathways.breast_cancer(pop, tb, truth, rng)
    pathways.head_and_neck_cancer(pop, tb, truth, rng)
    pathways.kidney_transplant(pop, tb, truth, rng)
    return pop, tb, truth, asa


def kept(pop: Population, enc: dict[str, np.ndarray], frames: dict[str, dict[str, np.ndarray]]
         ) -> dict[str, np.ndarray]:
    """Which generated records are written: inside the window, on or after the day of birth and not
    after death; a record made at an encounter follows it. Nothing is dated before birth or after death."""
    birth_day = pop.birth - pop.birth % DAY  # births are at midnight; events on the day of birth are plausible

    def alive(pat: np.ndarray, ts: np.ndarray) -> np.ndarray:
        d = pop.death[pat]
        return np.asarray((ts <= END) & (ts >= birth_day[pat]) & ((d < 0) | (ts <= d)))

    keep_enc = alive(enc["pat"], enc["start"])
    keep: dict[str, np.ndarray] = {"encounters": keep_enc}
    for name, f in frames.items():
        e = f["enc"]
        k = np.where(e >= 0, keep_enc[np.maximum(e, 0)], True)
        ts = f.get("onset", f.get("ts", f.get("start")))
        if ts is not None:
            k &= alive(f["pat"], ts)
        keep[name] = k
    return keep


def write_population(patients: int, seed: int, out: Path, workers: int | None = None) -> dict[str, object]:
    t_start = time.perf_counter()
    pop, tb, truth, asa = simulate(patients, seed)
    t_gen = time.perf_counter() - t_start

    enc = tb.encounters.frame()
    frames = {"conditions": tb.conditions.frame(), "observations": tb.observations.frame(),
              "procedures": tb.procedures.frame(), "medications": tb.medications.frame(),
              "responses": tb.responses.frame(), "activities": tb.activities.frame(),
              "consumables": tb.consumables.frame(), "claim_lines": tb.claim_lines.frame()}
    for t in (tb.encounters, tb.conditions, tb.observations, tb.procedures, tb.medications, tb.responses,
              tb.activities, tb.consumables, tb.claim_lines):
        t.cols.clear()  # the concatenated frames replace the chunks (halves peak memory)
    keep = kept(pop, enc, frames)
    keep_enc = keep["encounters"]

    # practitioners of every IPU role and primary-care team exist even if no encounter picked them
    members: dict[str, list[tuple[int, str]]] = {}
    for team_id, (_t, _n, roles) in system.IPUS.items():
        members[team_id] = []
        for role in roles:
            first, size = tb.prac_pool(ORG_INDEX[system.AC], role)
            members[team_id].extend((first + j, role) for j in range(min(size, 3)))
    for org in system.PRACTICES:
        members[f"pct-{org}"] = []
        for role in ("physician", "nurse-practitioner", "nurse", "medical-assistant", "care-manager", "educator"):
            first, size = tb.prac_pool(ORG_INDEX[org], role)
            members[f"pct-{org}"].extend((first + j, role) for j in range(size))

    src = out / "source"
    tru = out / "truth"
    for d in (src, tru):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    answers = {k: np.concatenate(v) for k, v in tb.answers.items() if v}
    rows = {k: np.concatenate(v) for k, v in tb.response_rows.items() if v}
    jobs: dict[str, Callable[[], Iterable[dict[str, Any]]]] = {
        "Claim": lambda: fhir.claims(enc, frames["claim_lines"], keep_enc),
        "Encounter": lambda: fhir.encounters(enc, keep_enc),
        "Observation": lambda: fhir.observations(frames["observations"], keep["observations"]),
        "Condition": lambda: fhir.conditions(frames["conditions"], keep["conditions"]),
        "QuestionnaireResponse": lambda: fhir.responses(frames["responses"], keep["responses"], answers, rows),
        "MedicationRequest": lambda: fhir.medications(frames["medications"], keep["medications"]),
        "Procedure": lambda: fhir.procedures(frames["procedures"], keep["procedures"]),
        "Patient": lambda: fhir.patients(pop.n, pop.birth, pop.female, pop.deprivation, pop.death, pop.pcp),
        "Coverage": lambda: fhir.coverages(pop.n, pop.payer),
        "Organization": fhir.organizations,
        "Location": fhir.locations,
        "Practitioner": lambda: fhir.practitioners(tb.practitioners),
        "PractitionerRole": lambda: fhir.practitioner_roles(tb.practitioners, {}),
        "CareTeam": lambda: fhir.care_teams(members),
        "Questionnaire": fhir.questionnaires,
    }
    counts = _run_jobs(src, jobs, workers)
    t_fhir = time.perf_counter() - t_start - t_gen

    counts.update(_write_costing(src, tb, frames, keep))
    _write_truth(tru, pop, asa, truth, enc, frames, keep, seed)
    total = time.perf_counter() - t_start
    return {"patients": patients, "seed": seed, "out": str(out), "resources": counts,
            "fhir_resources": sum(v for k, v in counts.items() if k[0].isupper()),
            "seconds": {"generate": round(t_gen, 2), "fhir": round(t_fhir, 2), "total": round(total, 2)}}


def _write_costing(src: Path, tb: Tables, frames: dict[str, dict[str, np.ndarray]],
                   keep: dict[str, np.ndarray]) -> dict[str, int]:
    a = frames["activities"]
    ka = keep["activities"]
    act = pd.DataFrame({"i": np.flatnonzero(ka), "pat": a["pat"][ka], "enc": a["enc"][ka], "res": a["res"][ka],
                        "step": pd.array(a["step"][ka], dtype="string"), "ts": a["ts"][ka],
                        "minutes": a["minutes"][ka], "prac": a["prac"][ka]})
    res_ids = [f"res-{org}-{role}" for org, role in tb.resources]
    used = np.bincount(act["res"].to_numpy(), weights=act["minutes"].to_numpy(), minlength=len(res_ids))
    # capacity supplied: whole units (FTEs, rooms, beds) so that utilisation lands at 65-95%
    rng = np.random.default_rng(len(res_ids))
    rows = []
    for i, (org, role) in enumerate(tb.resources):
        person = role in system.PEOPLE_ROLES or role not in system.SPACE_ROLES
        unit_minutes = (system.PAID_MINUTES_PERSON * system.PRACTICAL_SHARE_PERSON if person else
                        system.SPACE_MINUTES.get(role, system.DEFAULT_SPACE_MINUTES) * system.PRACTICAL_SHARE_SPACE)
        target = rng.uniform(0.65, 0.95)
        units = max(0.01, np.ceil(used[i] / (unit_minutes * target) * 100) / 100)  # FTEs / units
        rows.append({"resource_id": res_ids[i],
                     "name": f"{codes.TEAM_ROLES.get(role, role)} - {system.FACILITY_BY_ID[org].name}",
                     "resource_type": "person" if person else ("equipment" if role.startswith(("imaging", "linac",
                                                                                              "endoscope",
                                                                                              "retinal"))
                                                               else "space"),
                     "role": role, "organization_id": org,
                     "annual_cost": round(units * system.ANNUAL_COST[role], 2),
                     "practical_capacity_minutes": round(units * unit_minutes, 1)})
    with (src / "resources.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET memory_limit = '1GB'")
    con.execute("SET threads = 2")
    con.register("res", pd.DataFrame({"res": np.arange(len(res_ids)), "resource_id": res_ids}))
    n = len(act)
    parts = max(1, -(-n // ROWS_PER_CSV))
    for p in range(parts):
        con.register("act", act.iloc[p * ROWS_PER_CSV:(p + 1) * ROWS_PER_CSV])
        _copy_csv(con, """
            SELECT 'act-' || a.i AS activity_id, printf('pt%08d', a.pat) AS patient_id,
                   'enc-' || a.enc AS encounter_id, r.resource_id, a.step AS step_code,
                   strftime(to_timestamp(a.ts), '%Y-%m-%dT%H:%M:%SZ') AS start_ts, a.minutes,
                   CASE WHEN a.prac >= 0 THEN 'pr-' || a.prac ELSE '' END AS practitioner_id
            FROM act a JOIN res r USING (res) ORDER BY a.i""", src / f"activities.{p:03d}.csv")
        con.unregister("act")
    del act
    c = frames["consumables"]
    kc = keep["consumables"]
    item = np.array([codes.CONSUMABLES[k][0] for k in CONS_KEYS], dtype=object)
    desc = np.array([codes.CONSUMABLES[k][1] for k in CONS_KEYS], dtype=object)
    cost = np.array([codes.CONSUMABLES[k][2] for k in CONS_KEYS])
    ci = np.flatnonzero(kc)
    cons = pd.DataFrame({"consumable_id": [f"cons-{i}" for i in ci.tolist()],
                         "patient_id": [fhir.pid(p) for p in c["pat"][kc].tolist()],
                         "encounter_id": [f"enc-{e}" for e in c["enc"][kc].tolist()],
                         "item_code": item[c["key"][kc]], "description": desc[c["key"][kc]],
                         "quantity": c["qty"][kc], "unit_cost": cost[c["key"][kc]],
                         "used_ts": fhir.iso(c["ts"][kc])})
    cons.to_csv(src / "consumables.csv", index=False)
    return {"resources.csv": len(rows), "activities.csv": n, "consumables.csv": len(cons)}


def _write_truth(tru: Path, pop: Any, asa: np.ndarray, truth: pathways.Truth, enc: dict[str, np.ndarray],
                 frames: dict[str, dict[str, np.ndarray]], keep: dict[str, np.ndarray], seed: int) -> None:
    seg = segments_at(pop, frames["conditions"], enc, frames["observations"], frames["procedures"], keep)
    alive = seg >= 0
    pd.DataFrame({"patient_id": [fhir.pid(i) for i in np.flatnonzero(alive).tolist()], "as_of": AS_OF_DATE,
                  "segment": np.array(SEGMENTS, dtype=object)[seg[alive]]}).to_csv(tru / "segments.csv", index=False)
    cyc = {k: np.concatenate([c[k] for c in truth.cycles]) for k in truth.cycles[0]}
    # a cycle exists only if its trigger was recorded (the patient was alive and it fell in the window)
    kept = np.array([keep[t][i] for t, i in zip(cyc["trigger_table"].tolist(), cyc["trigger"].tolist(),
                                                 strict=True)], dtype=bool)
    cyc = {k: v[kept] for k, v in cyc.items()}
    prefix = {"procedures": "proc-", "conditions": "cond-"}
    cycles = pd.DataFrame({
        "patient_id": [fhir.pid(p) for p in cyc["pat"].tolist()], "condition": cyc["condition"],
        "cycle_type": cyc["cycle_type"], "start_ts": fhir.iso(cyc["start"]),
        "trigger_table": cyc["trigger_table"],
        "trigger_id": [prefix[t] + str(i) for t, i in zip(cyc["trigger_table"].tolist(), cyc["trigger"].tolist(),
                                                          strict=True)],
        "organization_id": np.array(ORG_IDS, dtype=object)[cyc["org"]], "ipu_id": cyc["ipu"],
        **{k: cyc[k].astype(bool) for k in ("complication", "readmission", "revision", "recurrence", "died")}})
    cycles.to_csv(tru / "care_cycles.csv", index=False)
    bd = np.datetime_as_string(pop.birth.astype("datetime64[s]").astype("datetime64[D]"), unit="D")
    dd = np.where(pop.death >= 0, np.datetime_as_string(np.maximum(pop.death, 0).astype("datetime64[s]")
                                                        .astype("datetime64[D]"), unit="D"), "")
    pts = pd.DataFrame({"patient_id": [fhir.pid(i) for i in range(pop.n)], "birth_date": bd,
                        "age_at_truth_date": pop.age, "sex": np.where(pop.female, "female", "male"),
                        "deprivation_index": pop.deprivation, "bmi": pop.bmi,
                        "smoking": np.array(["never", "former", "current"])[pop.smoking],
                        "interpreter_needed": pop.interpreter, "asa_class": asa,
                        "primary_care_practice": np.array(system.PRACTICES)[pop.pcp],
                        "payer_id": np.array(list(system.PAYERS))[pop.payer], "death_date": dd,
                        "outside_imaging": truth.outcomes.get("outside_imaging", np.zeros(pop.n, dtype=bool)),
                        **{k: v for k, v in pop.comorb.items()}, **{f"has_{k}": v for k, v in pop.has.items()}})
    pts.to_csv(tru / "patients.csv", index=False)
    eff = []
    for org in system.ARTHROPLASTY_PROVIDERS:
        for cond in ("hip-osteoarthritis", "knee-osteoarthritis"):
            ipu = ("ipu-hip" if cond.startswith("hip") else "ipu-knee") if org == system.AC else ""
            note = system.PLANTED_NOTES[org]
            eff += [(org, ipu, cond, "complication-90d", "odds_ratio", system.COMPLICATION_OR[org], note),
                    (org, ipu, cond, "minutes", "multiplier", system.MINUTES_MULT[org], note),
                    (org, ipu, cond, "length-of-stay", "extra_days", system.LOS_EXTRA_DAYS[org], note),
                    (org, ipu, cond, "prom-function-gain", "item_points_shift", system.PROM_GAIN_SHIFT[org], note)]
    for org in system.HF_PROVIDERS:
        eff.append((org, "ipu-hf" if org == system.AC else "", "heart-failure", "readmission-30d", "odds_ratio",
                    system.HF_READMIT_OR[org], "CH3 receives sicker HF patients" if org == system.CH3 else ""))
    for org in system.CANCER_PROVIDERS:
        for cond, ipu in (("breast-cancer", "ipu-breast"), ("head-and-neck-cancer", "ipu-hnc")):
            eff.append((org, ipu if org == system.AC else "", cond, "complication-and-recurrence", "odds_ratio",
                        system.CANCER_COMPLICATION_OR[org], ""))
    for org, v in system.HBA1C_SHIFT.items():
        eff.append((org, "", "type-2-diabetes", "hba1c", "shift_percentage_points", v, ""))
    pd.DataFrame(eff, columns=["organization_id", "ipu_id", "condition", "measure", "effect", "value", "note"]
                 ).to_csv(tru / "provider_effects.csv", index=False)
    (tru / "README.md").write_text(
        f"# Planted truth (seed {seed}, {pop.n} patients)\n\n"
        "The engine never reads this folder. See docs/synthetic-population.md.\n\n"
        "- provider_effects.csv: planted provider/IPU effects (odds ratios, minute multipliers, LOS, HbA1c).\n"
        f"- segments.csv: true primary-care segment at {AS_OF_DATE} by the CONTRACTS.md rules (alive patients).\n"
        "- care_cycles.csv: every planted care cycle with its trigger resource id and true outcomes.\n"
        "- patients.csv: true case-mix (age, sex, deprivation, BMI, smoking, ASA class, comorbidities).\n")
