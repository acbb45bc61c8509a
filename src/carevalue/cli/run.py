"""`carevalue run | runs | cycles | segments`: build the engine tables as one published run, list
the runs, read one patient's care cycles as a timeline by phase, or the segment counts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from carevalue.cli import app
from carevalue.cli.common import CONTENT, JSON, STORE, workspace
from carevalue.cli.output import console, emit, note, print_json, stage_progress

OUT = typer.Option(None, "--out", help="Also write the run summary to OUT/run-summary.txt.")
ONLY = typer.Option(None, "--only", help="Run only this stage (repeatable); `carevalue run --help` "
                    "lists them: cycles, segments, costing, risk-scores, proms, outcomes, value.")
PATIENT = typer.Option(..., "--patient", help="patient_id (`carevalue list patients` shows some).")
BACKEND = typer.Option(None, "--backend", help="duckdb (default: --store is the DuckDB file) or spark "
                       "(--store is a Parquet store from `carevalue ingest --parquet`; the run's tables "
                       "are written as Parquet). Default: $CAREVALUE_BACKEND, else duckdb.")
ON = typer.Option(None, "--on", help="Date YYYY-MM-DD (default: the data's last encounter date).")


@app.command("run")
def run_cmd(store: Path = STORE, content: list[Path] | None = CONTENT, only: list[str] | None = ONLY,
            out: Path | None = OUT, backend: str | None = BACKEND, as_json: bool = JSON) -> None:
    """Run the engine stages on the store and publish them as one run (readers keep seeing the last one)."""
    ws = workspace(store, content, backend=backend)
    ws.require("patients", "encounters")  # an empty or foreign store: say so before any stage starts
    _ = ws.library  # invalid definitions fail here, before the run is recorded
    with stage_progress("run", quiet=as_json) as on_stage:
        result = ws.run(only=list(only) if only else None, on_stage=on_stage)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "run-summary.txt").write_text("\n".join(result.lines) + "\n", encoding="utf-8")
    if as_json:
        print_json(result.as_dict())
        return
    for line in result.lines:
        note(line)
    for s in result.stages:
        for w in s.warnings:
            console.print(f"[yellow]warning[/yellow] {s.name}: {w}", highlight=False)
    note(f"run {result.run_id} {result.status}" +
         (f"; carried over from the previous run: {', '.join(result.carried_over)}" if result.carried_over else ""))


@app.command("runs")
def runs_cmd(store: Path = STORE, as_json: bool = JSON) -> None:
    """Every run recorded on the store (the run registry), oldest first, with its status."""
    rows = workspace(store).runs()
    if as_json:
        print_json(rows)
        return
    shown = [{**r, "started": (r["started"] or "")[:19].replace("T", " "),
              "finished": (r["finished"] or "")[:19].replace("T", " ")} for r in rows]
    emit(shown, f"Runs of {store} (times UTC)", False, columns=["run_id", "status", "started", "finished", "stages"])
    for r in rows:
        if r.get("message"):
            note(f"{r['run_id']}: {r['message']}")
    if not rows and not as_json:
        note("no runs yet: `carevalue run --store ...` builds the engine tables")


def _timeline(cycles: list[dict[str, Any]]) -> None:
    """One block per cycle, events grouped by phase; activities and claims summarised on their encounter."""
    from carevalue.definitions.condition import PHASES

    followers = ("activities", "claims")
    for c in cycles:
        note(f"[bold]{c['condition_name']}[/bold] ({c['condition']}, {c['cycle_type']}) "
             f"{(c['start_ts'] or '')[:10]} → {(c['end_ts'] or '')[:10]}")
        note(f"  index {c['trigger_table']}/{c['trigger_id']} {(c['index_ts'] or '')[:10]} · "
             f"provider {c['facility'] or c['organization_id'] or '-'} · IPU {c['ipu_id'] or '-'}")
        extra: dict[str, dict[str, int]] = {}
        for e in c["events"]:
            if e["event_table"] in followers:
                kinds = extra.setdefault(e["encounter_id"] or "", {})
                kinds[e["event_table"]] = kinds.get(e["event_table"], 0) + 1
        phases = [*PHASES, *sorted({e["phase"] or "(none)" for e in c["events"]} - set(PHASES))]
        for phase in phases:
            mine = [e for e in c["events"] if (e["phase"] or "(none)") == phase]
            if not mine:
                continue
            note(f"  [cyan]{phase}[/cyan] ({len(mine)} records)")
            for e in mine:
                if e["event_table"] in followers:
                    continue
                more = ""
                if e["event_table"] == "encounters":
                    n = extra.get(e["event_id"], {})
                    more = ("  +" + ", ".join(f"{v} {k}" for k, v in sorted(n.items()))) if n else ""
                mark = "" if e["cost_bearing"] else "  (cost counted in another cycle)"
                where = e["facility"] or e["organization_id"] or ""
                note(f"    {(e['event_ts'] or '')[:16]}  {e['event_table']}/{e['event_id']}  {where}{more}{mark}")


@app.command("cycles")
def cycles_cmd(patient: str = PATIENT, store: Path = STORE, content: list[Path] | None = CONTENT,
               as_json: bool = JSON) -> None:
    """One patient's care cycles as a timeline by phase (to check the grouping by eye)."""
    rows = workspace(store, content).cycles(patient)
    if as_json:
        print_json(rows)
    elif not rows:
        note(f"patient {patient}: no care cycles (the patient is in the store, but no condition template matched)")
    else:
        _timeline(rows)


@app.command("segments")
def segments_cmd(store: Path = STORE, on: str | None = ON, content: list[Path] | None = CONTENT,
                 as_json: bool = JSON) -> None:
    """Living patients per primary-care segment on a date (default: the data's last date)."""
    rows = workspace(store, content).segments(on)
    day = rows[0]["as_of"] if rows else on
    emit(rows, f"Segments on {day} (cells under 11 patients shown as <11)", as_json,
         columns=["segment", "name", "patients", "patients_moved_in"])
