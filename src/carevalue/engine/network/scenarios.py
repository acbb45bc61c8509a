"""Scenarios: consolidate a condition's cycles from low-volume providers into a chosen IPU, or
shift routine phases (rehabilitation, follow-up, monitoring) from a tertiary hospital to a
lower-cost facility. Each projects outcomes and TDABC cost, checks the receiver's practical
capacity and refuses when it would be exceeded; total cycles (or minutes) are conserved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from carevalue.engine.network.capacity_check import (
    check_capacity,
    receiver_minutes_per_cycle,
    refusal,
)
from carevalue.engine.network.distance import Geography
from carevalue.engine.network.frames import NetworkFrames
from carevalue.engine.network.projection import OUTCOME_COLUMNS, project_cost, project_outcomes

SUMMARY_COLUMNS = ("scenario", "kind", "condition", "year", "from_units", "to_unit", "phases", "moved_cycles",
                   "moved_minutes", "cycles_before", "cycles_after", "current_cost", "projected_cost",
                   "projected_cost_low", "projected_cost_high", "cost_change", "outcomes_better",
                   "outcomes_worse", "current_travel_km", "projected_travel_km", "status", "message")


@dataclass
class ScenarioResult:
    summary: dict[str, Any]
    volumes: pd.DataFrame = field(default_factory=pd.DataFrame)   # organization_id, cycles_before, cycles_after
    capacity: pd.DataFrame = field(default_factory=pd.DataFrame)
    outcomes: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(OUTCOME_COLUMNS)))


def _status(checks: pd.DataFrame, fallback: str) -> tuple[str, str]:
    why = refusal(checks)
    return ("refused", why) if why else ("feasible", fallback)


def consolidate(fr: NetworkFrames, name: str, condition: str, year: int, from_units: Sequence[str],
                to_unit: str, directions: Mapping[str, str], geo: Geography | None = None) -> ScenarioResult:
    """Move every ``year`` cycle of ``condition`` at ``from_units`` to ``to_unit``; travel is the mean
    km per moved cycle from the patients' home areas, now and after (None without coordinates)."""
    c = fr.cycles[(fr.cycles.condition == condition) & (fr.cycles.year == year)]
    before = {str(r["organization_id"]): int(r["cycles"]) for r in c.to_dict("records")}
    senders = [f for f in from_units if f != to_unit]
    moved = {f: before.get(f, 0) for f in senders}
    total = sum(moved.values())
    after = dict(before)
    for f, m in moved.items():
        after[f] = after.get(f, 0) - m
    after[to_unit] = after.get(to_unit, 0) + total
    vols = pd.DataFrame([{"organization_id": k, "cycles_before": before.get(k, 0), "cycles_after": after[k]}
                         for k in sorted(after)])
    current_cost = float(c[c.organization_id.isin(senders)]["total_cost"].sum())
    rec_n = fr.costs[(fr.costs.condition == condition) & (fr.costs.organization_id == to_unit)]["n"]
    per = receiver_minutes_per_cycle(fr.process, condition, to_unit, int(rec_n.iloc[0]) if len(rec_n) else 0)
    per["needed_minutes"] = per["minutes_per_cycle"] * total
    checks = check_capacity(per[["organization_id", "role", "needed_minutes"]], fr.capacity, year)
    cost = project_cost(fr.costs, condition, to_unit, total)
    outs = project_outcomes(fr.outcomes, condition, moved, to_unit, directions)
    status, msg = _status(checks, "the moved cycles fit the receiver's unused practical capacity")
    if total > 0 and rec_n.empty:
        status, msg = "not estimable", f"{to_unit} has no costed {condition} cycles to project its process from"
    pc = cost["projected_cost"]
    ok = outs[outs.status == "ok"]
    h = fr.homes[(fr.homes.condition == condition) & (fr.homes.year == year) & fr.homes.organization_id.isin(senders)]
    cur_km = geo.mean_km(h, {f: f for f in senders}) if geo and geo.available and total else None
    new_km = geo.mean_km(h, to_unit) if geo and geo.available and total else None
    summary = {"scenario": name, "kind": "consolidation", "condition": condition, "year": year,
               "from_units": ",".join(senders), "to_unit": to_unit, "phases": None, "moved_cycles": total,
               "moved_minutes": float(checks["needed_minutes"].sum()) if total else 0.0,
               "cycles_before": int(sum(before.values())), "cycles_after": int(sum(after.values())),
               "current_cost": current_cost, "projected_cost": pc,
               "projected_cost_low": cost["projected_cost_low"], "projected_cost_high": cost["projected_cost_high"],
               "cost_change": None if pc is None else float(pc) - current_cost,
               "outcomes_better": int((ok["better"] == True).sum()),  # noqa: E712
               "outcomes_worse": int((ok["better"] == False).sum()),  # noqa: E712
               "current_travel_km": cur_km, "projected_travel_km": new_km,
               "status": status, "message": msg}
    return ScenarioResult(summary, vols, checks, outs)


class Consolidations:
    """:func:`consolidate` remembered by the move it computes (condition, year, senders, receiver):
    the stage asks for the same move under several names (a default scenario, an affiliation
    option), and each is computed once; the result is returned under the name asked for."""

    def __init__(self, fr: NetworkFrames, directions: Mapping[str, str], geo: Geography | None = None) -> None:
        self.fr, self.directions, self.geo = fr, directions, geo
        self._done: dict[tuple[str, int, tuple[str, ...], str], ScenarioResult] = {}

    def __call__(self, name: str, condition: str, year: int, from_units: Sequence[str], to_unit: str) -> ScenarioResult:
        key = (condition, year, tuple(from_units), to_unit)
        if key not in self._done:
            self._done[key] = consolidate(self.fr, name, condition, year, from_units, to_unit, self.directions, self.geo)
        r = self._done[key]
        return ScenarioResult({**r.summary, "scenario": name}, r.volumes, r.capacity, r.outcomes)


def shift_phases(fr: NetworkFrames, name: str, condition: str, year: int, from_unit: str, to_unit: str,
                 phases: Sequence[str]) -> ScenarioResult:
    """Move ``phases`` of ``condition`` performed at ``from_unit`` in ``year`` to ``to_unit``: same
    roles and minutes, priced at the receiver's capacity cost rates. Outcomes are assumed unchanged."""
    p = fr.process
    sel = p[(p.condition == condition) & (p.year == year) & (p.facility_id == from_unit) & p.phase.isin(list(phases))]
    by_role = sel.groupby("role", as_index=False)[["minutes", "labour_cost"]].sum()
    needed = by_role.assign(organization_id=to_unit).rename(columns={"minutes": "needed_minutes"})
    checks = check_capacity(needed[["organization_id", "role", "needed_minutes"]], fr.capacity, year)
    rates = fr.rates[fr.rates.organization_id == to_unit].set_index("role")["rate_per_minute"]
    missing = sorted(set(by_role.role) - set(rates.dropna().index))
    rate = {str(k): float(v) for k, v in rates.dropna().items()}
    projected = sum(float(r["minutes"]) * rate[str(r["role"])] for r in by_role.to_dict("records")
                    if r["role"] not in missing)
    current = float(by_role["labour_cost"].sum())
    moved_min = float(by_role["minutes"].sum())
    status, msg = _status(checks, f"{moved_min:,.0f} minutes fit {to_unit}'s unused practical capacity; outcomes assumed unchanged")
    if missing:
        status, msg = "refused", f"refused: {to_unit} has no capacity for roles {', '.join(missing)}"
    before = p[(p.condition == condition) & (p.year == year)].groupby("facility_id")["minutes"].sum()
    after = before.copy()
    after.loc[from_unit] = after.get(from_unit, 0.0) - moved_min
    after.loc[to_unit] = after.get(to_unit, 0.0) + moved_min
    vols = pd.DataFrame({"organization_id": after.index, "minutes_before": [float(before.get(k, 0.0)) for k in after.index],
                         "minutes_after": after.values.astype(float)})
    summary = {"scenario": name, "kind": "phase-shift", "condition": condition, "year": year,
               "from_units": from_unit, "to_unit": to_unit, "phases": ",".join(phases), "moved_cycles": 0,
               "moved_minutes": moved_min, "cycles_before": None, "cycles_after": None,
               "current_cost": current, "projected_cost": None if missing else projected,
               "projected_cost_low": None, "projected_cost_high": None,
               "cost_change": None if missing else projected - current,
               "outcomes_better": 0, "outcomes_worse": 0, "current_travel_km": None, "projected_travel_km": None,
               "status": status, "message": msg}
    return ScenarioResult(summary, vols, checks)


def shift_candidates(fr: NetworkFrames, condition: str, year: int, from_unit: str, receivers: Sequence[str],
                     phases: Sequence[str]) -> pd.DataFrame:
    """Every receiver of a phase shift at once (one frame of receivers × roles, not a scenario each):
    per receiver, ``moved_minutes``, ``projected_cost`` at its capacity cost rates, ``missing_role``
    (it has no rate for a role the phases use: :func:`shift_phases` refuses) and ``exceeds`` (a role
    needs more than its unused practical capacity that year). Indexed by receiver, in their order."""
    p = fr.process
    sel = p[(p.condition == condition) & (p.year == year) & (p.facility_id == from_unit) & p.phase.isin(list(phases))]
    by_role = sel.groupby("role", as_index=False)["minutes"].sum()
    grid = pd.DataFrame({"organization_id": list(receivers)}).merge(by_role, how="cross")
    rates = fr.rates.dropna(subset=["rate_per_minute"])[["organization_id", "role", "rate_per_minute"]]
    cap = fr.capacity[fr.capacity.year == year][["organization_id", "role", "unused_minutes"]]
    grid = grid.merge(rates, on=["organization_id", "role"], how="left").merge(
        cap, on=["organization_id", "role"], how="left")
    grid = grid.assign(cost=grid["minutes"] * grid["rate_per_minute"], missing_role=grid["rate_per_minute"].isna(),
                       exceeds=grid["minutes"] > grid["unused_minutes"].fillna(0.0) + 1e-9)
    out = grid.groupby("organization_id", sort=False).agg(
        projected_cost=("cost", "sum"), missing_role=("missing_role", "any"), exceeds=("exceeds", "any"))
    return out.assign(moved_minutes=float(by_role["minutes"].sum()))
