"""The report's value-scorecard section: per condition, the outcome set by tier beside the TDABC cost
per cycle, with the value frontier (risk-adjusted outcome vs cost per provider), the funnel plot of
the first compared event measure and its risk-adjusted CUSUM.

Every number comes from ``carevalue.queries.scorecard`` / ``.like_you`` (through the privacy
module); providers shown as <11 are left out of every figure.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from carevalue.engine.risk.cusum import cusum_by_provider
from carevalue.engine.risk.funnel import funnel
from carevalue.queries import costs
from carevalue.queries import like_you as ly
from carevalue.queries import scorecard as sc
from carevalue.queries.names import facility_names, with_facility
from carevalue.report import figures
from carevalue.report.layout import Block, Formatter, Report, Section, count, money, ratio
from carevalue.report.layout import missing_note as _missing_note
from carevalue.workspace import Workspace

# Steiner et al. (2000): watch for a doubling of the odds of the event; signal at h = 4.5
CUSUM_ODDS_RATIO, CUSUM_H = 2.0, 4.5
OUTCOME_FORMATS: dict[str, Formatter] = {"patients": count, "observed": ratio, "expected": ratio, "oe": ratio,
                                         "ci_low": ratio, "ci_high": ratio, "adjusted_rate": ratio}
HEADERS = {"organization_id": "provider", "measure_title": "measure", "oe": "O/E or O−E", "ci_low": "lower 95%",
           "ci_high": "upper 95%", "adjusted_rate": "risk-adjusted rate / mean", "flag_95": "flag 95%",
           "flag_998": "flag 99.8%"}


def _shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("organization_id") is not None and not r.get("suppressed")]


def headline(outcomes: list[dict[str, Any]], costed: set[str]) -> list[dict[str, Any]]:
    """The rows of the first measure (tier order) that two or more shown, costed providers have."""
    seen: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in _shown(outcomes):
        if r["status"] == "ok" and r.get("adjusted_rate") is not None and r["organization_id"] in costed:
            seen.setdefault((r["measure"], r["time_point"], r["scale"]), []).append(r)
    return next((rows for rows in seen.values() if len(rows) >= 2), [])


def _frontier_block(rep: Report, cond: str, rows: list[dict[str, Any]], cost_by: dict[str, float],
                    cur: str, names: dict[str, str]) -> Block:
    first = rows[0]
    label = f"{first['measure_title']} @ {first['time_point']}" + (f" ({first['scale']})" if first["scale"] else "")
    higher = first.get("direction") == "higher-better"
    pts = pd.DataFrame([{"provider": names.get(str(r["organization_id"]), str(r["organization_id"])), "cost": cost_by[r["organization_id"]],
                         "outcome": float(r["adjusted_rate"]), "patients": int(r["patients"])} for r in rows])
    on = figures.frontier_providers(pts, higher)
    b = Block(f"{cond}: value frontier — {label}", (
        f"Each bubble is a provider (area = patients): its risk-adjusted {label} against its mean TDABC "
        f"cost per care cycle ({cur}). The frontier (green, dashed) joins the providers no cheaper provider "
        f"matches or beats on this outcome: {', '.join(on)}. One outcome at a time — never an index."))
    b.parts.append(rep.figure(f"frontier-{cond}", figures.value_frontier(
        pts, f"{cond}: {label} vs cost per cycle", label, cur, higher)))
    return b


def _funnel_block(ws: Workspace, rep: Report, cond: str, outcomes: list[dict[str, Any]]) -> Block | None:
    rows = next((g for g in _groups(outcomes) if g[0]["statistic"] == "O/E events"
                 and all(r.get("n") is not None for r in g)), None)
    if rows is None:
        return None
    cnt = pd.DataFrame([{"provider": str(r["organization_id"]), "n": float(r["n"]), "observed": float(r["observed"]),
                         "expected": float(r["expected"])} for r in rows])
    first = rows[0]
    b = Block(f"{cond}: funnel plot — {first['measure_title']} @ {first['time_point']}",
              "O/E per provider against the expected events (its precision), with 95% and 99.8% control "
              "limits corrected for overdispersion; a provider outside a limit is flagged at that level.")
    b.parts.append(rep.figure(f"scorecard-funnel-{cond}", figures.funnel_figure(
        funnel(cnt, "ratio"), f"{cond}: {first['measure_title']} @ {first['time_point']} — funnel (O/E)",
        names=facility_names(ws.con))))
    return b


def _groups(outcomes: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Shown, compared provider rows per measure × time point × scale, in tier order, two or more each."""
    seen: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in _shown(outcomes):
        if r["status"] == "ok":
            seen.setdefault((r["measure"], r["time_point"], r["scale"]), []).append(r)
    return [g for g in seen.values() if len(g) >= 2]


def _cusum_block(ws: Workspace, rep: Report, cond: str, outcomes: list[dict[str, Any]]) -> Block | None:
    group = next((g for g in _groups(outcomes) if g[0]["statistic"] == "O/E events"), None)
    if group is None:
        return None
    first = group[0]
    seq = ws.ask(ly.event_sequence, condition=cond, measure=first["measure"], time_point=first["time_point"])
    if not seq:
        return None
    names = facility_names(ws.con)
    seq = [{**r, "organization_id": names.get(str(r["organization_id"]), str(r["organization_id"]))} for r in seq]
    chart = cusum_by_provider(pd.DataFrame(seq), "organization_id", "anchor_ts", "event", "expected",
                              odds_ratio=CUSUM_ODDS_RATIO, h=CUSUM_H)
    signals = chart.groupby("provider")["signal"].sum().astype(int).to_dict()
    said = "; ".join(f"{p}: {n} signal{'s' if n != 1 else ''}" for p, n in sorted(signals.items()))
    b = Block(f"{cond}: risk-adjusted CUSUM — {first['measure_title']} @ {first['time_point']}", (
        "Bernoulli CUSUM of Steiner, Cook, Farewell & Treasure (2000): each care cycle in time order adds "
        f"the log-likelihood ratio of 'odds × {CUSUM_ODDS_RATIO:g}' against 'as expected' given its risk "
        "under the case-mix model; a signal (×) when the sum reaches "
        f"h = {CUSUM_H:g}, after which it restarts. {said}."))
    b.parts.append(rep.figure(f"cusum-{cond}", figures.cusum_figure(
        chart, f"{cond}: {first['measure_title']} @ {first['time_point']} — CUSUM (odds ratio {CUSUM_ODDS_RATIO:g})",
        CUSUM_H)))
    return b


def conditions(ws: Workspace) -> list[str]:
    """The conditions with a stored risk-adjusted comparison, by id."""
    con = ws.con.table("outcome_comparison")
    return sorted(str(c) for c in con.select("condition").distinct().execute()["condition"])


def condition_blocks(ws: Workspace, rep: Report, cond: str) -> list[Block]:
    """One condition's scorecard: outcomes by tier beside cost, the value frontier, funnel and CUSUM."""
    cur = costs.currency(ws.library)
    card = ws.ask(sc.scorecard, condition=cond)
    names = facility_names(ws.con)
    outcomes, cost_rows = with_facility(card["outcomes"], ws.con), with_facility(card["costs"], ws.con)
    b = Block(f"{card['title']}: outcomes by tier", (
        "The condition's outcome set by tier and level, risk-adjusted under its case-mix model: O/E for "
        "events (1 = as expected), O − E for scores (0 = as expected), each with its 95% interval and "
        "flags. A measure without a comparison shows one row saying why. Outcomes stand on their own: "
        "no composite index unless content defines one with its weights."))
    b.parts.append(rep.table(f"scorecard-{cond}", outcomes, formats=OUTCOME_FORMATS, headers=HEADERS, columns=[
        "tier", "level", "measure_title", "time_point", "scale", "facility", "patients", "observed",
        "expected", "oe", "ci_low", "ci_high", "adjusted_rate", "flag_95", "flag_998", "status", "reason"]))
    b.parts.append(rep.table(f"scorecard-cost-{cond}", cost_rows, formats={
        "cycles": count, "patients": count, "costed_cycles": count, "not_costed": count,
        "cost_per_cycle": money, "charges_per_cycle": money},
        headers={"organization_id": "provider", "cost_per_cycle": f"TDABC cost per cycle ({cur})",
                 "charges_per_cycle": f"charges per cycle ({cur}, not a cost)"},
        columns=["facility", "cycles", "patients", "costed_cycles", "not_costed", "cost_per_cycle",
                 "charges_per_cycle"]))
    out = [b]
    cost_by = {r["organization_id"]: float(r["cost_per_cycle"]) for r in _shown(cost_rows)
               if r.get("cost_per_cycle") is not None}
    rows = headline(outcomes, set(cost_by))
    if rows:
        out.append(_frontier_block(rep, cond, rows, cost_by, cur, names))
    out += [x for x in (_funnel_block(ws, rep, cond, outcomes), _cusum_block(ws, rep, cond, outcomes)) if x is not None]
    return out


def section(ws: Workspace, rep: Report) -> Section:
    """Value scorecards: one block set per condition with a risk-adjusted comparison."""
    sec = Section("scorecards", "Value scorecards: outcomes by tier beside the cost of the cycle")
    if note := _missing_note(ws, "outcome_comparison", "cycle_cost_totals", "cycle_costs"):
        return Section(sec.id, sec.title, False, note)
    for cond in conditions(ws):
        sec.blocks += condition_blocks(ws, rep, cond)
    if not sec.blocks:
        return Section(sec.id, sec.title, False, "Not computed: no condition has a risk-adjusted comparison.")
    return sec
