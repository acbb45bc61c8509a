"""Care-cycle builder on small hand-made stores: windows, phases, attribution, cost-bearing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import cycles
from carevalue.ingest.store import Store

LIB = load()
RULES = load().get("record-rules", "default")
TPL = LIB.kind("conditions")
SNOMED = "http://snomed.info/sct"


def put(store: Store, table: str, **cols: Any) -> None:
    cols.setdefault("source", "fixture")
    names = ", ".join(f'"{k}"' for k in cols)
    marks = ", ".join("?" for _ in cols)
    store.con.execute(f'INSERT INTO "{table}" ({names}) VALUES ({marks})', list(cols.values()))


def hip_patient(store: Store, pid: str = "p1", surgery: str = "2024-03-01") -> None:
    """A hip OA patient: diagnosis, X-ray, pre-op, surgery admission, rehab, an unrelated flu visit."""
    put(store, "patients", patient_id=pid, birth_date="1950-01-01", sex="female")
    put(store, "encounters", encounter_id=f"{pid}-e1", patient_id=pid, class_code="AMB", code_system=SNOMED,
        code="185347001", reason_system=SNOMED, reason_code="239872002", start_ts="2023-12-01 09:00",
        organization_id="clinic", practitioner_id="dr-a")
    put(store, "conditions", condition_id=f"{pid}-c1", patient_id=pid, encounter_id=f"{pid}-e1",
        code_system=SNOMED, code="239872002", onset_ts="2023-12-01 09:00")
    put(store, "procedures", procedure_id=f"{pid}-x1", patient_id=pid, encounter_id=f"{pid}-e1",
        code_system=SNOMED, code="5880005", start_ts="2023-12-01 09:30")
    put(store, "encounters", encounter_id=f"{pid}-e2", patient_id=pid, class_code="AMB", code_system=SNOMED,
        code="225886003", start_ts="2024-02-15 09:00", organization_id="hospital-a", practitioner_id="dr-b")
    put(store, "observations", observation_id=f"{pid}-o1", patient_id=pid, encounter_id=f"{pid}-e2",
        code_system="http://loinc.org", code="2160-0", effective_ts="2024-02-15 09:10", value_num=0.9)
    put(store, "encounters", encounter_id=f"{pid}-e3", patient_id=pid, class_code="IMP", code_system=SNOMED,
        code="32485007", start_ts=f"{surgery} 07:00", organization_id="hospital-a", practitioner_id="dr-b")
    put(store, "procedures", procedure_id=f"{pid}-s1", patient_id=pid, encounter_id=f"{pid}-e3",
        code_system=SNOMED, code="52734007", start_ts=f"{surgery} 08:00", practitioner_id="dr-b")
    put(store, "activities", activity_id=f"{pid}-a1", patient_id=pid, encounter_id=f"{pid}-e3",
        resource_id="or-1", start_ts=f"{surgery} 08:00", minutes=90.0)
    put(store, "encounters", encounter_id=f"{pid}-e4", patient_id=pid, class_code="AMB", code_system=SNOMED,
        code="183495009", start_ts="2024-03-20 10:00", organization_id="rehab-x")
    put(store, "encounters", encounter_id=f"{pid}-flu", patient_id=pid, class_code="AMB", code_system=SNOMED,
        code="185347001", reason_system=SNOMED, reason_code="6142004", start_ts="2024-04-01 10:00",
        organization_id="clinic")


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "store.duckdb"


def build(path: Path, ids: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    con = connect(path)
    cycles.run(con, [TPL[i] for i in ids], RULES)
    cyc = con.table("care_cycles").order_by("cycle_id").execute().to_dict("records")
    ev = con.table("cycle_events").order_by(["event_table", "event_id"]).execute().to_dict("records")
    con.disconnect()
    return cyc, ev


def test_hip_cycle_window_phases_and_attribution(store_path: Path) -> None:
    with Store(store_path) as s:
        hip_patient(s)
    cyc, ev = build(store_path, ["hip-osteoarthritis"])
    assert len(cyc) == 1
    c = cyc[0]
    assert c["trigger_id"] == "p1-s1" and c["trigger_table"] == "procedures"
    assert str(c["start_ts"]) == "2023-07-05 08:00:00"  # days_before 240 before 2024-03-01 08:00
    assert str(c["end_ts"]) == "2025-03-01 08:00:00"  # 365 days after
    assert c["organization_id"] == "hospital-a"  # where the index operation happened
    phases = {(e["event_table"], e["event_id"]): e["phase"] for e in ev}
    assert phases[("procedures", "p1-s1")] == "intervening"
    assert phases[("encounters", "p1-e3")] == "intervening"  # IMP within 14 days
    assert phases[("activities", "p1-a1")] == "intervening"  # follows its encounter
    assert phases[("encounters", "p1-e2")] == "preparing"
    assert phases[("observations", "p1-o1")] == "preparing"
    assert phases[("encounters", "p1-e4")] == "recovering-rehabbing"
    assert ("encounters", "p1-flu") not in phases  # unrelated visit stays out
    # The diagnosis counts when recorded (its encounter), and links that visit and its X-ray.
    assert phases[("conditions", "p1-c1")] == "diagnosing"
    assert phases[("encounters", "p1-e1")] == "diagnosing"
    assert phases[("procedures", "p1-x1")] == "diagnosing"
    assert all(e["cost_bearing"] for e in ev)


def test_no_trigger_without_diagnosis(store_path: Path) -> None:
    """require_code_set: a hip replacement without hip OA (e.g. for a fracture) starts no OA cycle."""
    with Store(store_path) as s:
        put(s, "patients", patient_id="p2", birth_date="1950-01-01")
        put(s, "procedures", procedure_id="s", patient_id="p2", code_system=SNOMED, code="52734007",
            start_ts="2024-01-01 08:00")
    cyc, _ = build(store_path, ["hip-osteoarthritis"])
    assert cyc == []


def test_second_operation_within_a_year_extends_the_cycle(store_path: Path) -> None:
    with Store(store_path) as s:
        hip_patient(s)
        put(s, "procedures", procedure_id="p1-s2", patient_id="p1", code_system=SNOMED, code="52734007",
            start_ts="2024-09-01 08:00")
        put(s, "procedures", procedure_id="p1-s3", patient_id="p1", code_system=SNOMED, code="52734007",
            start_ts="2026-06-01 08:00")
    cyc, ev = build(store_path, ["hip-osteoarthritis"])
    assert [c["trigger_id"] for c in cyc] == ["p1-s1", "p1-s3"]
    assert str(cyc[0]["end_ts"]) == "2025-09-01 08:00:00"
    assert cyc[1]["start_ts"] >= cyc[0]["end_ts"]  # never overlapping


def test_chronic_periods_and_shared_event_cost_once(store_path: Path) -> None:
    """A diabetic's HbA1c at the hip pre-op visit is in both cycles, cost-bearing in the acute one."""
    with Store(store_path) as s:
        hip_patient(s)
        put(s, "conditions", condition_id="p1-dm", patient_id="p1", code_system=SNOMED, code="44054006",
            onset_ts="2022-06-01 00:00")
        put(s, "observations", observation_id="p1-a1c", patient_id="p1", encounter_id="p1-e2",
            code_system="http://loinc.org", code="4548-4", effective_ts="2024-02-15 09:10", value_num=7.1)
    cyc, ev = build(store_path, ["hip-osteoarthritis", "type-2-diabetes"])
    dm = [c for c in cyc if c["condition"] == "type-2-diabetes"]
    # Periods from 2022-06-01 while they start before the last event (2024-04-01): 2022, 2023.
    assert [c["period_label"] for c in dm] == ["2022", "2023"]
    assert all(c["cycle_type"] == "chronic" for c in dm)
    shared = [e for e in ev if e["event_id"] == "p1-e2"]
    assert {e["condition"] for e in shared} == {"hip-osteoarthritis", "type-2-diabetes"}
    assert [e["condition"] for e in shared if e["cost_bearing"]] == ["hip-osteoarthritis"]


def test_pipeline_and_cli_read_outs(store_path: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from carevalue.cli import app
    from carevalue.workspace import Workspace

    with Store(store_path) as s:
        hip_patient(s)
    lines = Workspace.open(store_path).run(only=["observation", "cycles", "segments"]).lines
    assert "cycles: hip-osteoarthritis: 1" in lines
    assert any(line.startswith("segments: ") for line in lines)
    runner = CliRunner()
    res = runner.invoke(app, ["cycles", "--patient", "p1", "--store", str(store_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output[res.output.index("["):])
    assert [c["condition"] for c in out] == ["hip-osteoarthritis"]
    assert {e["phase"] for e in out[0]["events"]} >= {"diagnosing", "preparing", "intervening"}
    text = runner.invoke(app, ["cycles", "--patient", "p1", "--store", str(store_path)])
    assert "intervening" in text.output and "+1 activities" in text.output
    seg = runner.invoke(app, ["segments", "--store", str(store_path), "--on", "2024-06-01", "--json"])
    rows = json.loads(seg.output[seg.output.index("["):])
    # Born 1950 with hip OA recorded 2023-12-01: chronic on 2024-06-01 (one patient: shown as <11).
    assert {r["segment"]: r["patients"] for r in rows}["chronic"] == "<11"
