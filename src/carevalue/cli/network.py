"""`carevalue network`: volume by condition, minimum-volume standards, volume and value, scenarios,
affiliations and the IPU assessment. Every table also prints as one JSON document with --json."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from carevalue.cli import app
from carevalue.cli.common import asked
from carevalue.cli.output import console, emit

network_app = typer.Typer(help="Integrating care across facilities: volume, standards, scenarios, IPU assessment.",
                          no_args_is_help=True)
app.add_typer(network_app, name="network")

STORE = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest/run.")
CONTENT = typer.Option([], "--content", help="Extra content folder (e.g. with network-facts/); repeatable.")
JSON = typer.Option(False, "--json", help="Print the rows as one JSON document.")
CONDITION = typer.Option(None, "--condition", help="Condition template id.")


@contextmanager
def _workspace(store: Path, content: list[Path] | None = None) -> Iterator[Any]:
    from carevalue.workspace import Workspace, WorkspaceError

    try:
        with Workspace.open(store, content=content or []) as ws:
            yield ws
    except WorkspaceError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None


def _ask(store: Path, fn: Callable[..., list[dict[str, Any]]], title: str, as_json: bool, **kw: Any) -> None:
    from carevalue.queries.catalog import require_condition

    condition = kw.get("condition")
    with _workspace(store) as ws:
        def check() -> None:
            if condition:
                require_condition(ws.library, condition)

        rows = asked(lambda: ws.ask(fn, **kw), check)
        if not rows:
            check()  # a typo names what exists instead of printing "no rows"
    emit(rows, title, as_json)


@network_app.command("run")
def run_cmd(store: Path = STORE, content: list[Path] = CONTENT, as_json: bool = JSON) -> None:
    """Run the network stage (volume, standards, volume-value, scenarios, affiliations, IPUs) as a
    new run; the other stages' tables carry over. Facts come from network-facts content."""
    with _workspace(store, content) as ws:
        res = ws.run(only=["network"])
    rows = [{"table": k, "rows": v} for st in res.stages for k, v in st.rows.items()]
    emit(rows, f"network tables written (run {res.run_id})", as_json)


@network_app.command("volume")
def volume_cmd(store: Path = STORE, condition: str = CONDITION,
               level: str = typer.Option("organization", "--level", help="organization, facility or clinician."),
               profile: bool = typer.Option(False, "--profile", help="Providers and average volume per year instead."),
               as_json: bool = JSON) -> None:
    """Care cycles per provider, site or clinician per year (or the national profile)."""
    from carevalue.queries import network as q

    if profile:
        _ask(store, q.volume_profile, "Volume profile (providers, share, per year, per week)", as_json, condition=condition)
    else:
        _ask(store, q.volume, f"Care cycles per {level} and year", as_json, condition=condition, level=level)


@network_app.command("standards")
def standards_cmd(store: Path = STORE, condition: str = CONDITION,
                  below: bool = typer.Option(False, "--below", help="Only units below the minimum."),
                  as_json: bool = JSON) -> None:
    """Units against each minimum-volume standard, with the G-BA prognosis for next year."""
    from carevalue.queries import network as q

    _ask(store, q.standard_checks, "Minimum-volume standards", as_json, condition=condition, below_only=below)


@network_app.command("value")
def value_cmd(store: Path = STORE, condition: str = CONDITION, as_json: bool = JSON) -> None:
    """Does volume go with better outcomes and lower cost? Slope per doubling with 95% CI."""
    from carevalue.queries import network as q

    _ask(store, q.volume_value, "Volume and value (random-effects meta-regression)", as_json, condition=condition)


@network_app.command("scenarios")
def scenarios_cmd(store: Path = STORE, condition: str = CONDITION,
                  outcomes: str = typer.Option(None, "--outcomes", help="Show one scenario's projected outcomes."),
                  as_json: bool = JSON) -> None:
    """The default consolidation and phase-shift scenarios computed by `network run`."""
    from carevalue.queries import network as q

    if outcomes:
        _ask(store, q.scenario_outcomes, f"Projected outcomes: {outcomes}", as_json, scenario=outcomes)
    else:
        _ask(store, q.scenarios, "Scenarios", as_json, condition=condition)


@network_app.command("consolidate")
def consolidate_cmd(store: Path = STORE, condition: str = typer.Option(..., "--condition"),
                    year: int = typer.Option(..., "--year"), from_: list[str] = typer.Option(..., "--from"),
                    to: str = typer.Option(..., "--to"), content: list[Path] = CONTENT,
                    as_json: bool = JSON) -> None:
    """Move a year's cycles of a condition from providers to an IPU: outcomes, cost, capacity, travel."""
    from carevalue.engine.network.scenarios import consolidate

    _scenario(store, as_json, content, lambda fr, dirs, geo: consolidate(
        fr, "ad-hoc", condition, year, from_, to, dirs, geo))


@network_app.command("shift")
def shift_cmd(store: Path = STORE, condition: str = typer.Option(..., "--condition"),
              year: int = typer.Option(..., "--year"), from_: str = typer.Option(..., "--from"),
              to: str = typer.Option(..., "--to"),
              phase: list[str] = typer.Option(["recovering-rehabbing", "monitoring-managing"], "--phase"),
              as_json: bool = JSON) -> None:
    """Move routine phases from one facility to another, priced at the receiver's rates."""
    from carevalue.engine.network.scenarios import shift_phases

    _scenario(store, as_json, [], lambda fr, dirs, geo: shift_phases(fr, "ad-hoc", condition, year, from_, to, phase))


def _scenario(store: Path, as_json: bool, content: list[Path], make: Callable[..., Any]) -> None:
    """An ad-hoc scenario, computed in memory from the last run's tables (nothing is written)."""
    import pandas as pd

    from carevalue.definitions.ipu_facts import merged
    from carevalue.engine.network.distance import Geography
    from carevalue.engine.network.frames import load_frames
    from carevalue.pipeline.network_stage import _directions, site_weights
    from carevalue.queries.base import rows_of
    from carevalue.queries.network import safe_rows

    with _workspace(store, content) as ws:
        lib = ws.library
        facts = merged(list(lib.kind("network-facts").values()))
        geo = Geography.from_store(ws.con, facts, site_weights(ws.con.table("network_volume")))
        r = make(load_frames(ws.con), _directions(lib), geo)
    summary = safe_rows("network_scenarios", pd.DataFrame([r.summary]))
    outs = safe_rows("network_scenario_outcomes", r.outcomes)
    caps = rows_of(r.capacity)
    if as_json:
        print(json.dumps({"summary": summary[0], "outcomes": outs, "capacity": caps}, default=str, indent=1))
        return
    emit(summary, "Scenario", False)
    emit(outs, "Projected outcomes of the moved cycles", False)
    emit([c for c in caps if c["exceeds"]] or caps[:10], "Capacity (roles short of capacity, else the first 10)", False)


@network_app.command("affiliations")
def affiliations_cmd(store: Path = STORE, condition: str = CONDITION, as_json: bool = JSON) -> None:
    """For each community provider, the IPU to affiliate with and the projected change."""
    from carevalue.queries import network as q

    _ask(store, q.affiliations, "Hub-and-spoke affiliations", as_json, condition=condition)


@network_app.command("ipu")
def ipu_cmd(store: Path = STORE, condition: str = CONDITION,
            organization: str = typer.Option(None, "--organization", help="Show one organization's evidence."),
            as_json: bool = JSON) -> None:
    """IPU integration: total score per service, or the ten attributes with evidence."""
    from carevalue.queries import network as q

    if organization or condition:
        with _workspace(store) as ws:
            rows = ws.ask(q.ipu_assessment, condition=condition, organization_id=organization)
        if not as_json:
            rows = [{k: r[k] for k in ("condition", "organization_id", "attribute_no", "score", "evidence", "basis")}
                    for r in rows]
        emit(rows, "IPU attributes (0-2) with evidence", as_json)
    else:
        _ask(store, q.ipu_scores, "IPU integration score per service (0-20)", as_json)
