"""Projected outcomes and costs of moved care cycles (indirect standardisation).

Outcomes: the moved patients keep their case mix and take the receiving provider's risk-adjusted
performance. For an event measure (O/E) the moved cycles from provider f expect E_f/n_f events each
at the national rate; at the receiver they are projected to have (E_f/n_f) x O/E_receiver, with the
receiver's O/E interval. For a mean (O-E) the projection is E_f + (O-E)_receiver. Costs: the
receiver's process for the condition, i.e. its mean TDABC cost per cycle, with a 95% interval of the
mean.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

OUTCOME_COLUMNS = ("measure", "time_point", "scale", "statistic", "direction", "moved_cycles",
                   "current", "projected", "projected_low", "projected_high", "change", "better", "status")
Z95 = 1.959963984540054


def _is_ratio(statistic: str | None) -> bool:
    return bool(statistic) and str(statistic).startswith("O/E")


def project_outcomes(outcomes: pd.DataFrame, condition: str, moved: Mapping[str, int], receiver: str,
                     directions: Mapping[str, str]) -> pd.DataFrame:
    """One row per measure and time point: current vs projected value for the moved cycles.

    Event measures are rates per cycle (events / cycles); means are the measure's mean. ``status``
    says 'not estimable' when a sending provider or the receiver has no comparison for the measure.
    """
    o = outcomes[outcomes.condition == condition]
    rows = []
    total = sum(moved.values())
    # Grouped as plain records (the frame is one provider × measure row each): a scenario per
    # affiliation option calls this, and per-group pandas overhead dominated the network stage.
    groups: dict[tuple[Any, Any, Any], list[dict[Any, Any]]] = {}
    for r in o.to_dict("records"):
        if pd.isna(r["measure"]) or pd.isna(r["time_point"]):
            continue  # as groupby drops null keys
        groups.setdefault((r["measure"], r["time_point"], "" if pd.isna(r["scale"]) else r["scale"]), []).append(r)
    for (measure, tp, scale) in sorted(groups):
        recs = groups[(measure, tp, scale)]
        by: dict[str, Any] = {str(r["organization_id"]): r for r in recs}
        stat = str(recs[0]["statistic"])
        row: dict[str, object] = {"measure": measure, "time_point": tp, "scale": scale or None,
                                  "statistic": stat, "direction": directions.get(str(measure), "higher-better"),
                                  "moved_cycles": total}
        senders = [f for f, m in moved.items() if m > 0]
        if total == 0:
            rows.append({**row, "current": None, "projected": None, "projected_low": None,
                         "projected_high": None, "change": 0.0, "better": None, "status": "no cycles moved"})
            continue
        missing = [f for f in [*senders, receiver] if f not in by]
        if missing:
            rows.append({**row, "current": None, "projected": None, "projected_low": None, "projected_high": None,
                         "change": None, "better": None,
                         "status": f"not estimable: no risk-adjusted comparison for {', '.join(missing)}"})
            continue
        rec = by[receiver]
        cur = proj = lo = hi = 0.0
        for f in senders:
            s, m = by[f], moved[f]
            if _is_ratio(stat):
                n = float(s["n"]) or math.nan
                cur += m * float(s["observed"]) / n
                e = m * float(s["expected"]) / n
                proj, lo, hi = proj + e * float(rec["oe"]), lo + e * float(rec["ci_low"]), hi + e * float(rec["ci_high"])
            else:
                cur += m * float(s["observed"])
                proj += m * (float(s["expected"]) + float(rec["oe"]))
                lo += m * (float(s["expected"]) + float(rec["ci_low"]))
                hi += m * (float(s["expected"]) + float(rec["ci_high"]))
        cur, proj, lo, hi = cur / total, proj / total, lo / total, hi / total
        lower_better = row["direction"] == "lower-better"
        better = proj < cur if lower_better else proj > cur
        rows.append({**row, "current": cur, "projected": proj, "projected_low": lo, "projected_high": hi,
                     "change": proj - cur, "better": bool(better), "status": "ok"})
    return pd.DataFrame(rows, columns=list(OUTCOME_COLUMNS))


def project_cost(costs: pd.DataFrame, condition: str, receiver: str, moved_cycles: int) -> dict[str, float | None]:
    """Projected TDABC cost of ``moved_cycles`` at the receiver: its mean cost per cycle x cycles,
    with the 95% interval of that mean (None when it has fewer than two costed cycles)."""
    r = costs[(costs.condition == condition) & (costs.organization_id == receiver)]
    if moved_cycles == 0:
        return {"projected_cost": 0.0, "projected_cost_low": 0.0, "projected_cost_high": 0.0,
                "receiver_cost_per_cycle": float(r["mean_cost"].iloc[0]) if len(r) else None}
    if r.empty or int(r["n"].iloc[0]) < 2:
        return {"projected_cost": None, "projected_cost_low": None, "projected_cost_high": None,
                "receiver_cost_per_cycle": None}
    mean, sd, n = float(r["mean_cost"].iloc[0]), float(r["sd_cost"].iloc[0]), int(r["n"].iloc[0])
    half = Z95 * sd / math.sqrt(n)
    return {"projected_cost": moved_cycles * mean, "projected_cost_low": moved_cycles * max(mean - half, 0.0),
            "projected_cost_high": moved_cycles * (mean + half), "receiver_cost_per_cycle": mean}
