"""PROM improvement per care cycle for a PROM-contingent bundle term (F24): the baseline and
follow-up scores of the term's instrument in its windows around the index date, and whether the
improvement reached the threshold. Pure Ibis over prom_scores."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.bundle import Bundle
from carevalue.engine.outcome_measures import days_between


def _window_score(cyc: ir.Table, scores: ir.Table, lo: int, hi: int, name: str) -> ir.Table:
    j = cyc.inner_join(scores, cyc.patient_id == scores._sp)
    day = days_between(j._ts, j.index_ts)
    j = j.filter((day >= lo) & (day <= hi))
    # The latest score; of two at the same time the lower (as the case-mix PROM pick), whatever
    # order the rows come in.
    latest = j.mutate(_n=ibis.row_number().over(ibis.window(group_by="cycle_id", order_by=[ibis.desc("_ts"), "_score"])))
    latest = latest.filter(latest._n == 0)
    return latest.select(_wc="cycle_id", **{name: latest._score})


def prom_improvement(con: BaseBackend, cycles: ir.Table, bundles: Sequence[Bundle],
                     names: set[str] | None = None) -> ir.Table | None:
    """cycle_id, prom_baseline, prom_follow_up, prom_improvement, prom_reached (null: not both scores)
    for the cycles of every bundle with a PROM-contingent term (the latest score in each window)."""
    if "prom_scores" not in (names if names is not None else set(con.list_tables())):
        return None
    ps = con.table("prom_scores")
    parts = []
    for b in bundles:
        term = b.prom_contingent
        if term is None:
            continue
        for t in term.targets:
            cyc = cycles.filter(cycles.condition == t.condition).select("cycle_id", "patient_id", "index_ts")
            s = ps.filter((ps.instrument == t.instrument) & (ps.scale == t.scale) & ps.score.notnull())
            s = s.select(_sp="patient_id", _ts="authored_ts", _score=s.score.cast("float64"))
            base = _window_score(cyc, s, *term.baseline_days, "prom_baseline")
            follow = _window_score(cyc, s, *term.follow_up_days, "prom_follow_up")
            out = cyc.select("cycle_id").left_join(base, cyc.cycle_id == base._wc).drop("_wc")
            out = out.left_join(follow, out.cycle_id == follow._wc).drop("_wc")
            imp = out.prom_follow_up - out.prom_baseline
            parts.append(out.select("cycle_id", "prom_baseline", "prom_follow_up", prom_improvement=imp,
                                    prom_reached=ibis.cases((imp.isnull(), ibis.null("boolean")),
                                                            else_=imp >= t.threshold)))
    if not parts:
        return None
    return ibis.union(*parts) if len(parts) > 1 else parts[0]
