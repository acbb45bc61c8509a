"""The network stage: volume, minimum-volume standards, volume and value, default scenarios,
affiliations and the IPU assessment, written as the tables declared in ``model/network.py``.

Default scenarios, per condition with a standing IPU (CareTeam of category ipu): consolidate every
unit below a standard in the latest year into the IPU (together, and each alone); shift the IPU's
routine phases to the lowest-cost facility that has every role they use. The lead's Stage protocol
is :data:`STAGE`; structural facts come from the library's ``network-facts`` content (``--content
DIR``), or a file given to ``run_network(con, library, facts)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.ipu_facts import IpuFacts, load_facts, merged
from carevalue.definitions.loader import Library
from carevalue.engine.network import affiliations, ipu, ipu_evidence, scenarios, standards
from carevalue.engine.network import volume as vol
from carevalue.engine.network.distance import Geography
from carevalue.engine.network.frames import NetworkFrames, index_table, load_frames
from carevalue.engine.network.volume_value import volume_value
from carevalue.model.network import BY_NAME
from carevalue.pipeline.stage import StageContext, StageResult

Writer = Callable[[str, ir.Table], ir.Table]

NAME = "network"
READS = ("care_cycles", "procedures", "conditions", "encounters", "patients", "locations", "cycle_cost_totals",
         "outcome_comparison", "activity_costs", "activities", "capacity_use", "capacity_cost_rates",
         "care_teams", "care_team_members", "practitioners", "practitioner_roles")
WRITES = tuple(BY_NAME)
ROUTINE_PHASES = ("recovering-rehabbing", "monitoring-managing")
_IBIS = {"VARCHAR": "string", "BIGINT": "int64", "DOUBLE": "float64", "BOOLEAN": "boolean"}


def _write_frame(write: Writer, name: str, df: pd.DataFrame) -> int:
    """Write a small frame as the declared table (declared columns only, declared types)."""
    decl = BY_NAME[name]
    missing = set(decl.column_names) - set(df.columns)
    extra = set(df.columns) - set(decl.column_names)
    if missing or extra:
        raise ValueError(f"{name}: columns differ from the declaration: missing {sorted(missing)}, undeclared {sorted(extra)}")
    schema = {c.name: _IBIS[c.type] for c in decl.columns}
    write(name, _memtable(df[decl.column_names], schema))
    return len(df)


_PANDAS = {"string": "object", "int64": "Int64", "float64": "float64", "boolean": "boolean"}


def _memtable(df: pd.DataFrame, schema: dict[str, str]) -> ir.Table:
    """The frame as a memtable of the declared types, converted column-wise through Arrow (not a
    Python dict per row); a frame whose values do not convert so goes through Python objects."""
    try:
        typed = df.astype({c: _PANDAS[t] for c, t in schema.items()})
        return ibis.memtable(pa.Table.from_pandas(typed, schema=ibis.schema(schema).to_pyarrow(), preserve_index=False))
    except (TypeError, ValueError, pa.ArrowException):
        out = df.astype(object).where(df.notna(), None)
        return ibis.memtable(out.to_dict("records"), schema=schema) if len(out) else \
            ibis.memtable(pd.DataFrame({k: pd.Series(dtype="object") for k in schema}), schema=schema)


def _directions(lib: Library) -> dict[str, str]:
    return {o.id: o.direction for t in lib.kind("conditions").values() for o in t.outcomes}


def site_weights(volume: ir.Table | pd.DataFrame) -> dict[str, float]:
    """Index events per location (facility level of the volume), to pick an organization's main site."""
    if isinstance(volume, pd.DataFrame):
        f = volume[volume.level == "facility"]
        g = f.groupby("unit_id", as_index=False)["cycles"].sum()
    else:
        t = volume.filter(volume.level == "facility")
        g = t.group_by("unit_id").aggregate(cycles=t.cycles.sum()).execute()
    return {str(r.unit_id): float(r.cycles) for r in g.itertuples()}


def organization_volume(volume: pd.DataFrame) -> pd.DataFrame:
    """Per condition and organization: all cycles, the years with any, and the mean per year."""
    org = volume[volume.level == "organization"]
    org = org.groupby(["condition", "unit_id"], as_index=False, dropna=False).agg(
        cycles=("cycles", "sum"), years=("year", "nunique"))
    return org.rename(columns={"unit_id": "organization_id"}).assign(mean_per_year=lambda d: d.cycles / d.years)


def hubs_by_condition(con: BaseBackend) -> dict[str, list[str]]:
    ct = con.table("care_teams")
    t = ct.filter((ct.category_code == "ipu") & ct.condition_template.notnull()).select(
        "condition_template", "organization_id").distinct().execute()
    out: dict[str, list[str]] = {}
    for r in t.itertuples():
        out.setdefault(str(r.condition_template), []).append(str(r.organization_id))
    return out


def _cheapest_receiver(fr: NetworkFrames, condition: str, year: int, hub: str,
                       phases: Sequence[str]) -> scenarios.ScenarioResult | None:
    """The phase shift from ``hub`` to the receiver that prices it lowest (a feasible one if any):
    every receiver is priced in one frame, the scenario built for the chosen one only."""
    cand = scenarios.shift_candidates(fr, condition, year, hub, sorted(set(fr.rates.organization_id) - {hub}), phases)
    priced = cand[~cand.missing_role & (cand.moved_minutes != 0)]
    feasible = priced[~priced.exceeds]
    pool = feasible if len(feasible) else priced
    if pool.empty:
        return None
    org = str(pool["projected_cost"].idxmin())
    best = scenarios.shift_phases(fr, f"shift-{condition}-{hub}-to-{org}", condition, year, hub, org, phases)
    current = float(best.summary["current_cost"] or 0.0)
    if best.summary["status"] == "feasible" and float(best.summary["cost_change"] or 0.0) > -0.01 * current:
        best.summary["status"] = "no saving"
        best.summary["message"] = (f"no facility with every role needed prices these phases more than 1% below "
                                   f"{hub}'s capacity cost rates; cheapest is {best.summary['to_unit']}")
    return best


def default_scenarios(fr: NetworkFrames, checks: pd.DataFrame, hubs: dict[str, list[str]],
                      directions: dict[str, str], geo: Geography,
                      consolidations: scenarios.Consolidations | None = None) -> list[scenarios.ScenarioResult]:
    out: list[scenarios.ScenarioResult] = []
    move = consolidations or scenarios.Consolidations(fr, directions, geo)
    for condition, hub_orgs in sorted(hubs.items()):
        years = fr.cycles[fr.cycles.condition == condition]["year"].dropna()
        if years.empty:
            continue
        year = int(years.max())
        hub = hub_orgs[0]
        c = checks[(checks.condition == condition) & (checks.year == year) & (checks.meets == False)  # noqa: E712 (null: part year)
                   & checks.level.isin(["organization", "facility"])]
        below = sorted(set(c.organization_id.dropna()) - {hub})
        if len(below) > 1:
            out.append(move(f"consolidate-{condition}-below-standard", condition, year, below, hub))
            out += [move(f"consolidate-{condition}-{u}", condition, year, [u], hub) for u in below]
        shift = _cheapest_receiver(fr, condition, year, hub, ROUTINE_PHASES)
        if shift is not None:
            out.append(shift)
    return out


def run_network(con: BaseBackend, library: Library, facts: IpuFacts | str | Path | None = None,
                write: Writer | None = None) -> dict[str, int]:
    """Compute and write every network table; returns rows written per table. ``write`` defaults
    to writing straight into the store (the run's ``ctx.write`` inside ``carevalue run``)."""
    write = write or partial(write_table, con)
    if not isinstance(facts, IpuFacts):
        facts = load_facts(facts) if facts else merged(list(library.kind("network-facts").values()))
    dirs = _directions(library)
    stds = list(library.kind("standards").values())
    # each cycle's index event, computed once for the volume and the frames
    idx = index_table(con).cache()
    v = vol.volume(idx, vol.observation_windows(con.table("encounters")))
    volume = write("network_volume", v)
    # the volume is small (units x years): read once, it gives its row count, the site weights and
    # the organizations' volume; the profile has one row per condition, level and year of it
    vdf = volume.execute()
    rows = {"network_volume": len(vdf)}
    geo = Geography.from_store(con, facts, site_weights(vdf))
    rows["network_coordinates"] = _write_frame(write, "network_coordinates", geo.coordinates())
    write("network_volume_profile", vol.profile(volume))
    rows["network_volume_profile"] = int(vdf.groupby(["condition", "level", "year"]).ngroups)
    chk = write("network_standard_checks", standards.check(volume, standards.threshold_table(stds)))
    checks = chk.execute()
    rows["network_standard_checks"] = len(checks)
    fr = load_frames(con, idx)
    idx.release()
    rows["network_volume_value"] = _write_frame(write, "network_volume_value",
                                                volume_value(organization_volume(vdf), fr.outcomes, fr.costs, dirs))
    hubs = hubs_by_condition(con)
    moves = scenarios.Consolidations(fr, dirs, geo)
    res = default_scenarios(fr, checks, hubs, dirs, geo, moves)
    rows["network_scenarios"] = _write_frame(write, "network_scenarios", pd.DataFrame([r.summary for r in res], columns=list(scenarios.SUMMARY_COLUMNS)))
    vols = [r.volumes.assign(scenario=r.summary["scenario"]) for r in res if "cycles_before" in r.volumes]
    rows["network_scenario_volumes"] = _write_frame(write, "network_scenario_volumes", pd.concat(vols) if vols else pd.DataFrame(columns=BY_NAME["network_scenario_volumes"].column_names))
    outs = [r.outcomes.assign(scenario=r.summary["scenario"]) for r in res if len(r.outcomes)]
    rows["network_scenario_outcomes"] = _write_frame(write, "network_scenario_outcomes", pd.concat(outs) if outs else pd.DataFrame(columns=BY_NAME["network_scenario_outcomes"].column_names))
    caps = [r.capacity.assign(scenario=r.summary["scenario"]) for r in res if len(r.capacity)]
    rows["network_capacity_checks"] = _write_frame(write, "network_capacity_checks", pd.concat(caps) if caps else pd.DataFrame(columns=BY_NAME["network_capacity_checks"].column_names))
    aff = [affiliations.affiliate(fr, c, int(fr.cycles[fr.cycles.condition == c]["year"].max()), h, dirs, ROUTINE_PHASES, geo, moves)
           for c, h in sorted(hubs.items()) if (fr.cycles.condition == c).any()]
    rows["network_affiliations"] = _write_frame(write, "network_affiliations", pd.concat(aff) if aff else pd.DataFrame(columns=BY_NAME["network_affiliations"].column_names))
    tpl = library.kind("conditions")
    ev = ipu_evidence.gather(con)
    a = ipu.assess(ev, facts, {k: [p.phase for p in t.phases] for k, t in tpl.items()},
                   {k: [r.role for r in t.ipu_roles if r.captain] for k, t in tpl.items()})
    rows["network_ipu_assessment"] = _write_frame(write, "network_ipu_assessment", a)
    return rows


@dataclass
class NetworkStage:
    """The network stage of ``carevalue run``: every network table, facts from the library."""

    name: str = NAME
    reads: tuple[str, ...] = READS
    writes: tuple[str, ...] = WRITES
    facts: str | None = None

    def run(self, ctx: StageContext) -> StageResult:
        rows = run_network(ctx.con, ctx.library, self.facts, write=ctx.write)
        return StageResult(self.name, rows, [f"network: {n} {k:,}" for n, k in rows.items()])


STAGE = NetworkStage()
