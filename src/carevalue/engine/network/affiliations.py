"""Hub-and-spoke affiliations (F19): for each community provider of a condition, the excellent IPU
it should affiliate with, chosen by risk-adjusted results (95% funnel flags better minus worse),
then capacity (the consolidation must fit), then travel distance; routine phases stay local."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from carevalue.engine.network.distance import Geography
from carevalue.engine.network.frames import NetworkFrames
from carevalue.engine.network.scenarios import Consolidations

AFFILIATION_COLUMNS = ("condition", "year", "spoke", "hub", "spoke_net_flags", "hub_net_flags", "cycles",
                       "local_phases", "outcomes_better", "outcomes_worse", "current_cost", "projected_cost",
                       "cost_change", "current_travel_km", "projected_travel_km", "status", "message")


def net_flags(outcomes: pd.DataFrame, condition: str) -> dict[str, int]:
    """Per provider: measures flagged better minus worse at 95% (risk-adjusted)."""
    o = outcomes[outcomes.condition == condition]
    score = (o["flag_95"] == "better").astype(int) - (o["flag_95"] == "worse").astype(int)
    return {str(k): int(v) for k, v in score.groupby(o["organization_id"]).sum().items()}


def affiliate(fr: NetworkFrames, condition: str, year: int, hubs: Sequence[str], directions: Mapping[str, str],
              local_phases: Sequence[str], geo: Geography | None = None,
              consolidations: Consolidations | None = None) -> pd.DataFrame:
    """One row per spoke (provider of the condition in ``year`` that is not a hub). ``consolidations``:
    the stage's remembered consolidations (the same moves as its default scenarios)."""
    move = consolidations or Consolidations(fr, directions, geo)
    flags = net_flags(fr.outcomes, condition)
    c = fr.cycles[(fr.cycles.condition == condition) & (fr.cycles.year == year)]
    rows: list[dict[str, object]] = []
    for spoke in sorted(set(c.organization_id) - set(hubs)):
        base = {"condition": condition, "year": year, "spoke": spoke, "spoke_net_flags": flags.get(spoke, 0),
                "cycles": int(c[c.organization_id == spoke]["cycles"].sum()), "local_phases": ",".join(local_phases)}
        better = [h for h in hubs if flags.get(h, 0) > flags.get(spoke, 0)] or [
            h for h in hubs if flags.get(h, 0) >= flags.get(spoke, 0)]
        options = []
        for h in better:
            r = move(f"affiliate-{spoke}-{h}", condition, year, [spoke], h)
            if r.summary["status"] == "feasible":
                km = r.summary["projected_travel_km"]
                options.append((-flags.get(h, 0), km if km is not None else 0.0, h, r))
        if not options:
            rows.append({**base, "hub": None, "hub_net_flags": None, "status": "no hub",
                         "message": "no IPU with at least as good risk-adjusted results and spare capacity"})
            continue
        _, _, hub, r = min(options, key=lambda t: (t[0], t[1], t[2]))
        s = r.summary
        rows.append({**base, "hub": hub, "hub_net_flags": flags.get(hub, 0),
                     **{k: s[k] for k in ("outcomes_better", "outcomes_worse", "current_cost", "projected_cost",
                                          "cost_change", "current_travel_km", "projected_travel_km")},
                     "status": "affiliate",
                     "message": f"{', '.join(local_phases)} stay at {spoke}; the rest moves to {hub} (cost projected at the hub's process)"})
    return pd.DataFrame(rows, columns=list(AFFILIATION_COLUMNS))
