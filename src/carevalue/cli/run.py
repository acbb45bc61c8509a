"""`carevalue run | cycles | segments`: build the engine tables; read one patient's care cycles
as a timeline by phase, or the segment counts."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer

from carevalue.cli import app
from carevalue.cli.output import console, emit, stage_progress

STORE = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest.")
JSON = typer.Option(False, "--json", help="Print the rows as JSON.")
OUT = typer.Option(None, "--out", help="Folder for run-summary.txt.")
ONLY = typer.Option(None, "--only", help="Run only these stages (cycles, segments, costing).")
PATIENT = typer.Option(..., "--patient", help="patient_id")
ON = typer.Option(None, "--on", help="Date (YYYY-MM-DD); default today.")


def _con(store: Path):  # type: ignore[no-untyped-def]
    from carevalue.backends import connect

    if not store.exists():
        console.print(f"[red]no store at {store}[/red]")
        raise typer.Exit(2)
    return connect(store)


def _need(con: Any, table: str, stage: str) -> None:
    if table not in con.list_tables():
        con.disconnect()
        console.print(f"[red]the store has no {table} table yet: run `carevalue run --store ...` "
                      f"(stage {stage}) first[/red]")
        raise typer.Exit(2)


@app.command("run")
def run_cmd(
    store: Path = STORE,
    out: Path | None = OUT,
    only: list[str] | None = ONLY,
) -> None:
    """Run the engine stages (care cycles, segments, costing ...) on the store."""
    from carevalue.engine.pipeline import run_all

    if not store.exists():
        console.print(f"[red]no store at {store}[/red]")
        raise typer.Exit(2)
    with stage_progress("run") as on_stage:
        lines = run_all(store, out, only, on_stage=on_stage)
    for line in lines:
        console.print(line, highlight=False)


@app.command("cycles")
def cycles_cmd(
    patient: str = PATIENT,
    store: Path = STORE,
    as_json: bool = JSON,
) -> None:
    """One patient's care cycles as a timeline by phase (to check the grouping by eye)."""
    from carevalue.definitions.condition import PHASES

    con = _con(store)
    _need(con, "cycle_events", "cycles")
    cyc = con.table("care_cycles")
    ev = con.table("cycle_events")
    cycles = cyc.filter(cyc.patient_id == patient).order_by(["start_ts", "condition"]).execute()
    events = ev.filter(ev.patient_id == patient).order_by(["event_ts", "event_table"]).execute()
    con.disconnect()
    rows: list[dict[str, Any]] = []
    for c in cycles.to_dict("records"):
        mine = events[events.cycle_id == c["cycle_id"]]
        for e in mine.to_dict("records"):
            rows.append({"cycle_id": c["cycle_id"], "condition": c["condition"], "phase": e["phase"],
                         "date": str(e["event_ts"])[:16], "event": f"{e['event_table']}/{e['event_id']}",
                         "facility": e["organization_id"], "clinician": e["practitioner_id"],
                         "cost_bearing": bool(e["cost_bearing"])})
    if as_json:
        out = [dict(c, start_ts=str(c["start_ts"]), end_ts=str(c["end_ts"]), index_ts=str(c["index_ts"]),
                    events=[r for r in rows if r["cycle_id"] == c["cycle_id"]])
               for c in cycles.to_dict("records")]
        emit(out, "cycles", True)
        return
    if cycles.empty:
        console.print(f"patient {patient}: no care cycles")
        return
    followers = ("activities", "claims")
    for c in cycles.to_dict("records"):
        ipu = c["ipu_id"] if isinstance(c["ipu_id"], str) and c["ipu_id"] else "-"
        head = (f"[bold]{c['condition']}[/bold] {c['cycle_type']} {str(c['start_ts'])[:10]} → "
                f"{str(c['end_ts'])[:10]}  index {c['trigger_table']}/{c['trigger_id']} {str(c['index_ts'])[:10]}"
                f"  facility {c['organization_id']}  IPU {ipu}")
        console.print(head, highlight=False)
        mine = [r for r in rows if r["cycle_id"] == c["cycle_id"]]
        for phase in PHASES:
            ph = [r for r in mine if r["phase"] == phase]
            if not ph:
                continue
            console.print(f"  [cyan]{phase}[/cyan] ({len(ph)} records)", highlight=False)
            # Activities and claims are summarised on their encounter's line.
            extra: dict[str, dict[str, int]] = {}
            for r in ph:
                if r["event"].split("/")[0] in followers:
                    kind = r["event"].split("/")[0]
                    enc = events.loc[(events.cycle_id == c["cycle_id"])
                                     & (events.event_id == r["event"].split("/", 1)[1]), "encounter_id"]
                    key = str(enc.iloc[0]) if len(enc) else ""
                    extra.setdefault(key, {}).setdefault(kind, 0)
                    extra[key][kind] += 1
            for r in ph:
                if r["event"].split("/")[0] in followers:
                    continue
                more = ""
                if r["event"].startswith("encounters/"):
                    n = extra.get(r["event"].split("/", 1)[1], {})
                    more = "  +" + ", ".join(f"{v} {k}" for k, v in sorted(n.items())) if n else ""
                mark = "" if r["cost_bearing"] else "  (cost counted in another cycle)"
                console.print(f"    {r['date']}  {r['event']:<36} {r['facility'] or '':<10} "
                              f"{r['clinician'] or '':<8}{more}{mark}", highlight=False)


@app.command("segments")
def segments_cmd(
    store: Path = STORE,
    on: str | None = ON,
    as_json: bool = JSON,
) -> None:
    """Patients per primary-care segment on a date (alive on it), and transitions recorded."""
    from carevalue.definitions.loader import load
    from carevalue.engine.segments import segment_on

    con = _con(store)
    _need(con, "segments", "segments")
    day = on or date.today().isoformat()
    s = segment_on(con, day)
    per = s.group_by("segment").aggregate(patients=s.count()).execute()
    tr = con.table("segment_transitions")
    moves = tr.group_by("to_segment").aggregate(n=tr.count()).execute()
    con.disconnect()
    into = {r.to_segment: int(r.n) for r in moves.itertuples()}
    counts = {r.segment: int(r.patients) for r in per.itertuples()}
    order = sorted(load().kind("segments").values(), key=lambda x: x.priority)
    rows = [{"segment": sg.id, "patients": counts.get(sg.id, 0), "transitions_into": into.get(sg.id, 0)}
            for sg in order]
    emit(rows, f"Segments on {day}", as_json)
