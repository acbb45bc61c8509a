"""Provider comparison (F20): rank on risk-adjusted results with uncertainty, the interval band and
an SRTR-style five-tier rating from the posterior, with the methods text that says how.

Everything is computed from the stored ``outcome_comparison`` rows (observed, expected, O/E or
O − E with its stated intervals); nothing is refitted. Small cells are suppressed first (through
:mod:`carevalue.queries.privacy`), and ranks and tiers are computed among the shown providers only,
so a hidden provider cannot be located from the ranks of the others.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from carevalue.definitions.loader import Library
from carevalue.definitions.outcome import OutcomeMeasure
from carevalue.queries.base import QueryError, needs, rows_of
from carevalue.queries.privacy import scrub_text, suppress
from carevalue.queries.stored import table

# SRTR program-specific reports: hazard ratio prior Gamma(shape 2, rate 2), posterior
# Gamma(2 + O, 2 + E), point estimate (O + 2)/(E + 2) (engine/risk/flags.py, srtr.org).
PRIOR_SHAPE = 2.0
PRIOR_RATE = 2.0
TIER_RATIO = 1.2        # the SRTR review rule's ratio: P(HR > 1.2) > 0.75 (engine/risk/flags.py)
TIER_PROBABILITY = 0.75
TIER_LABELS = {1: "worse than expected", 2: "somewhat worse than expected", 3: "as expected",
               4: "somewhat better than expected", 5: "better than expected"}
Z95 = float(stats.norm.ppf(0.975))
RATIO_STATISTICS = ("O/E events", "O/E events (Cox)")

METHODS = f"""\
Each provider's result is the risk-adjusted comparison stored by the outcomes stage: observed (O)
and expected (E) events under the condition's case-mix model, O/E with its exact Poisson interval
(widened for overdispersion when it applies), or for scores the observed minus expected mean (O − E)
with its t interval.

Band by interval: "better" or "worse" when the stated 95% interval (or 99.8%, when asked) excludes
the target (O/E = 1, O − E = 0); "as expected" when it does not; "not assessable" when the
provider's expected events are too few for the interval ever to exclude the target in that
direction, or when the measure has no comparison (status not ok). This is the rule of the funnel
plots used by NHS and national audits.

Rating in five tiers (event ratios only), as the Scientific Registry of Transplant Recipients (SRTR)
does from a Bayesian posterior: the provider's ratio has the SRTR prior Gamma(shape {PRIOR_SHAPE:g},
rate {PRIOR_RATE:g}), so with O observed and E expected events its posterior is Gamma(2 + O, 2 + E)
and its estimate (O + 2)/(E + 2), shrunk toward 1 when E is small. With "worse" meaning the
direction the measure says is worse: tier 1 when P(ratio worse than {TIER_RATIO:g}× expected) >
{TIER_PROBABILITY:g} (the SRTR review rule), tier 2 when P(worse than expected) > {TIER_PROBABILITY:g},
tier 5 when P(better than expected by the factor {TIER_RATIO:g}) > {TIER_PROBABILITY:g}, tier 4 when
P(better than expected) > {TIER_PROBABILITY:g}, tier 3 otherwise. SRTR itself assigns tiers with a
scoring function over the same posterior (srtr.org/faqs/5-tier-search-results); its cut-points are
not reproduced here, so carevalue's tier cut-points are the ones stated in this paragraph. Scores
(O − E means) are banded but not rated: the SRTR tiers are defined for event ratios.

Rank with uncertainty: providers are ranked on the posterior estimate (1 = best) and the 95%
interval of each rank comes from 4,000 joint draws of the providers' posteriors (the ratio's gamma
posterior; for scores a normal with the stated interval's standard error), after Goldstein &
Spiegelhalter (J R Stat Soc A 1996;159:385-443). Wide rank intervals mean the league table cannot
tell the providers apart.

Privacy: providers with fewer than 11 patients (and the complementary cell) are shown as <11
without values, band or rank; ranks are computed among the providers shown.
"""


def _measure(library: Library, condition: str, measure: str) -> OutcomeMeasure:
    tpl = library.kind("conditions").get(condition)
    if tpl is None:
        known = ", ".join(sorted(library.kind("conditions")))
        raise QueryError(f"no condition '{condition}'; known: {known}")
    for m in tpl.outcomes:
        if m.id == measure:
            return m  # type: ignore[no-any-return]
    raise QueryError(f"condition '{condition}' has no measure '{measure}'; it has: "
                     + ", ".join(m.id for m in tpl.outcomes))


def higher_is_better(m: OutcomeMeasure, statistic: str | None) -> bool:
    """The direction of the stored comparison: for event ratios the counted event is adverse
    (death, complication) unless the measure says higher is better; scores follow the direction."""
    if statistic in RATIO_STATISTICS and m.resolved_calculation() in ("survival", "mortality"):
        return False
    return m.direction == "higher-better"


def band(flag: Any, status: Any, suppressed: bool) -> str:
    """better / as expected / worse / not assessable (or suppressed) from a stored flag."""
    if suppressed:
        return "suppressed"
    if status != "ok" or flag is None:
        return "not assessable"
    text = str(flag)
    return "not assessable" if text.startswith("not assessable") else text


def tier_of(observed: float, expected: float, higher_better: bool) -> int:
    """The five-tier rating of one event ratio from its Gamma(2 + O, 2 + E) posterior."""
    post = stats.gamma(a=PRIOR_SHAPE + observed, scale=1.0 / (PRIOR_RATE + expected))
    if higher_better:  # more events is better: "worse" is a ratio below 1
        worse_much, worse = post.cdf(1 / TIER_RATIO), post.cdf(1.0)
        better_much, better = post.sf(TIER_RATIO), post.sf(1.0)
    else:
        worse_much, worse = post.sf(TIER_RATIO), post.sf(1.0)
        better_much, better = post.cdf(1 / TIER_RATIO), post.cdf(1.0)
    if worse_much > TIER_PROBABILITY:
        return 1
    if worse > TIER_PROBABILITY:
        return 2
    if better_much > TIER_PROBABILITY:
        return 5
    if better > TIER_PROBABILITY:
        return 4
    return 3


def rank_intervals(draws: np.ndarray, higher_better: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rank of the mean, 2.5th and 97.5th percentile of ranks) per column; rank 1 = best."""
    sign = -1.0 if higher_better else 1.0
    ranks = np.argsort(np.argsort(sign * draws, axis=1), axis=1) + 1
    point = np.argsort(np.argsort(sign * draws.mean(axis=0))) + 1
    return point, np.percentile(ranks, 2.5, axis=0), np.percentile(ranks, 97.5, axis=0)


def _posterior_draws(rows: list[dict[str, Any]], ratio: bool, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cols = []
    for r in rows:
        if ratio:
            o, e = float(r["observed"] or 0.0), float(r["expected"] or 0.0)
            cols.append(rng.gamma(PRIOR_SHAPE + o, 1.0 / (PRIOR_RATE + e), size=n))
        else:
            se = (float(r["ci_high"]) - float(r["ci_low"])) / (2 * Z95)
            cols.append(rng.normal(float(r["oe"]), max(se, 1e-12), size=n))
    return np.column_stack(cols)


COLUMNS = ("organization_id", "n", "patients", "observed", "expected", "oe", "ci_low", "ci_high",
           "ci_low_998", "ci_high_998", "adjusted_rate", "flag_95", "flag_998", "statistic", "status",
           "reason", "c_statistic", "adjustment")


@needs("outcome_comparison")
def provider_comparison(con: Any, library: Library, *, condition: str, measure: str,
                        time_point: str | None = None, scale: str | None = None,
                        level: float = 0.95, draws: int = 4000, seed: int = 20) -> list[dict[str, Any]]:
    """One row per provider for one measure and time point: result, band, tier, rank and its interval."""
    m = _measure(library, condition, measure)
    t = table(con, "outcome_comparison")
    t = t.filter((t.condition == condition) & (t.measure == measure) & t.organization_id.notnull())
    labels = [tp.label for tp in m.time_points]
    tp = time_point or next(iter(labels), None)
    if tp is not None:
        t = t.filter(t.time_point == tp)
    if scale is not None:
        t = t.filter(t.scale == scale)
    raw = [{**r, "reason": scrub_text(r["reason"]) or None}
           for r in rows_of(t.select(*COLUMNS, "scale", "time_point").order_by("organization_id"))]
    if not raw:
        return []
    statistic = next((r["statistic"] for r in raw if r["statistic"]), None)
    ratio = statistic in RATIO_STATISTICS
    hib = higher_is_better(m, statistic)
    hidden = [c for c in COLUMNS if c not in ("organization_id", "patients", "statistic", "status")]
    shown = suppress(raw, ("patients",), values=hidden, group_by=("scale",))
    flag_col = "flag_95" if level < 0.99 else "flag_998"
    out: list[dict[str, Any]] = []
    for r in shown:
        row = {"condition": condition, "measure": measure, "measure_title": m.title, **r,
               "band": band(r.get(flag_col), r.get("status"), bool(r["suppressed"])),
               "level": level, "higher_is_better": hib, "estimate": None, "cred_low": None,
               "cred_high": None, "tier": None, "tier_label": None, "rank": None, "rank_low": None,
               "rank_high": None, "providers_ranked": None}
        out.append(row)
    rankable = [r for r in out if not r["suppressed"] and r.get("status") == "ok"
                and r.get("oe") is not None and (not ratio or (r.get("expected") or 0) > 0)
                and (ratio or (r.get("ci_low") is not None and r.get("ci_high") is not None))]
    for r in rankable:
        if ratio:
            o, e = float(r["observed"] or 0.0), float(r["expected"])
            post = stats.gamma(a=PRIOR_SHAPE + o, scale=1.0 / (PRIOR_RATE + e))
            r["estimate"] = (o + PRIOR_SHAPE) / (e + PRIOR_RATE)
            r["cred_low"], r["cred_high"] = float(post.ppf(0.025)), float(post.ppf(0.975))
            r["tier"] = tier_of(o, e, hib)
            r["tier_label"] = TIER_LABELS[r["tier"]]
        else:
            r["estimate"], r["cred_low"], r["cred_high"] = r["oe"], r["ci_low"], r["ci_high"]
            r["tier_label"] = "not rated (scores are banded, not tiered)"
    if len(rankable) >= 2:
        d = _posterior_draws(rankable, ratio, draws, seed)
        point, low, high = rank_intervals(d, hib)
        for r, p, lo, hi in zip(rankable, point, low, high, strict=True):
            r["rank"], r["rank_low"], r["rank_high"] = int(p), int(np.floor(lo)), int(np.ceil(hi))
            r["providers_ranked"] = len(rankable)
    return sorted(out, key=lambda r: (r["rank"] is None, r["rank"] or 0, str(r["organization_id"])))


@needs("outcome_comparison")
def comparison_measures(con: Any, library: Library, *, condition: str) -> list[dict[str, Any]]:
    """The measures and time points of a condition that have a stored comparison, with its status."""
    t = table(con, "outcome_comparison")
    t = t.filter(t.condition == condition)
    agg = t.group_by(["measure", "time_point", "scale"]).aggregate(
        providers=t.organization_id.count(), ok=(t.status == "ok").cast("int64").sum(),
        statistic=t.statistic.max(), reason=t.reason.max())
    rows = rows_of(agg.order_by(["measure", "time_point", "scale"]))
    tpl = library.kind("conditions").get(condition)
    titles = {m.id: (m.title, m.tier, m.level) for m in tpl.outcomes} if tpl else {}
    for r in rows:
        title, tier, lvl = titles.get(r["measure"], (r["measure"], None, None))
        r.update({"measure_title": title, "tier": tier, "level": lvl, "reason": scrub_text(r["reason"]) or None})
    return sorted(rows, key=lambda r: (r["tier"] or 9, r["level"] or 9, r["measure"], str(r["time_point"])))
