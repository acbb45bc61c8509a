"""Outcomes read out: the stored risk-adjusted comparison, headline measures, values and PROMs.

Columns keep the names declared in ``carevalue.model.measures``. A provider row is hidden when it
describes 1..10 patients, or (for event statistics) 1..10 events or non-events, since the count
would follow from the rate; rows of one measure add up to the measure's total, so complementary
suppression applies within each condition × measure × time point × scale.
"""

from __future__ import annotations

from typing import Any

import ibis
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries.base import QueryError, needs, rows_of
from carevalue.queries.names import with_facility
from carevalue.queries.privacy import is_small, scrub_text, suppress

Rows = list[dict[str, Any]]
MEASURE_KEY = ("condition", "measure", "time_point", "scale")
#: Provider statistics hidden in a suppressed comparison row (model-level facts stay).
COMPARISON_VALUES = ("n", "observed", "expected", "oe", "ci_low", "ci_high", "ci_low_998", "ci_high_998",
                     "observed_rate", "adjusted_rate", "shrunk_oe", "crude_flag_95", "crude_flag_998",
                     "flag_95", "flag_998", "srtr_flag", "not_assessable", "events", "at_risk")


def counts_events(statistic: Any) -> bool:
    """True for statistics whose ``observed`` is a count of events (O/E of events, Cox)."""
    return isinstance(statistic, str) and statistic.startswith("O/E events")


def small_events(row: dict[str, Any]) -> bool:
    """An event-statistic row whose events or non-events number 1..10."""
    if is_small(row.get("events")):  # the stored limiting count (smaller of events and non-events)
        return True
    if not counts_events(row.get("statistic")):
        return False
    obs, n = row.get("observed"), row.get("n")
    return (is_small(obs) or (obs is not None and n is not None and is_small(n - obs))
            or is_small(row.get("events")))


def _suppressed_comparison(rows: Rows, con: BaseBackend) -> Rows:
    prov = [r for r in rows if r.get("organization_id") is not None]
    status = suppress([{**r, "message": scrub_text(r.get("message")), "reason": scrub_text(r.get("reason"))}
                       for r in rows if r.get("organization_id") is None], ("patients", "n"),
                      values=COMPARISON_VALUES, cells=("events", "at_risk"))
    prov = [{**r, **{k: scrub_text(r[k]) for k in ("message", "reason") if r.get(k)}} for r in prov]
    shown = suppress(with_facility(prov, con), ("patients", "n"), values=COMPARISON_VALUES,
                     group_by=list(MEASURE_KEY), extra_small=[small_events(r) for r in prov],
                     cells=("at_risk",))
    return shown + status


def _ordered(t: ibis.Table) -> ibis.Table:
    return t.order_by("condition", "measure", "time_point", "scale", t.organization_id.isnull(),
                      "organization_id")


@needs("outcome_comparison")
def comparison(con: BaseBackend, library: Library, condition: str, measure: str,
               time_point: str | None = None) -> Rows:
    """Provider rows (and the measure's status rows) of one condition's measure, safe to show."""
    t = con.table("outcome_comparison")
    conds = sorted(str(c) for c in t.select("condition").distinct().execute()["condition"])
    if condition not in conds:
        raise QueryError(f"no outcome comparison for condition {condition!r}; compared: {', '.join(conds) or 'none'}")
    t = t.filter(t.condition == condition)
    measures = sorted(str(m) for m in t.select("measure").distinct().execute()["measure"])
    if measure not in measures:
        raise QueryError(f"condition {condition!r} has no measure {measure!r}; measures: {', '.join(measures)}")
    t = t.filter(t.measure == measure)
    if time_point is not None:
        points = sorted({str(p) for p in t.select("time_point").distinct().execute()["time_point"] if p})
        if time_point not in points:
            raise QueryError(f"measure {measure!r} of {condition!r} has no time point {time_point!r}; "
                             f"time points: {', '.join(points) or 'none'}")
        t = t.filter(t.time_point == time_point)
    return _suppressed_comparison(rows_of(_ordered(t)), con)


@needs("outcome_comparison")
def all_comparisons(con: BaseBackend, library: Library, condition: str | None = None) -> Rows:
    """Every comparison row (of one condition if given), safe to show."""
    t = con.table("outcome_comparison")
    if condition:
        t = t.filter(t.condition == condition)
    return _suppressed_comparison(rows_of(_ordered(t)), con)


def measure_order(library: Library) -> dict[str, list[str]]:
    """Each condition's measure ids in outcome-hierarchy order (tier, level, as listed)."""
    return {cid: [m.id for m in sorted(tpl.outcomes, key=lambda m: (m.tier, m.level))]
            for cid, tpl in library.kind("conditions").items()}


@needs("outcome_comparison")
def headline(con: BaseBackend, library: Library, min_expected: float = 10.0) -> Rows:
    """One measure per condition for funnel and value plots: the first of the template's outcome
    order compared as O/E of events with at least ``min_expected`` expected events over all
    providers (at its time point with the most), else the one with the most expected events."""
    t = con.table("outcome_comparison")
    t = t.filter(t.organization_id.notnull() & (t.expected > 0) & t.statistic.startswith("O/E"))
    g = rows_of(t.group_by(*MEASURE_KEY).aggregate(expected=t.expected.sum()))
    order = measure_order(library)
    out = []
    for cond in sorted({r["condition"] for r in g}):
        rank = {m: i for i, m in enumerate(order.get(cond, []))}
        cand = [r for r in g if r["condition"] == cond]
        big = [r for r in cand if r["expected"] >= min_expected]
        pick = (min(big, key=lambda r: (rank.get(r["measure"], len(rank)), -r["expected"])) if big
                else max(cand, key=lambda r: r["expected"]))
        out.append({k: pick[k] for k in (*MEASURE_KEY, "expected")})
    return out


def _km_estimates(con: BaseBackend) -> dict[tuple[Any, ...], float]:
    """Kaplan–Meier estimate, at each time point, of the share with value 1 for binary measures with
    censored values (lifelines on the per-day counts aggregated in the backend)."""
    from lifelines import KaplanMeierFitter

    v = con.table("outcome_values")
    v = v.mutate(time_point=v.time_point.fill_null(""), scale=v.scale.fill_null(""))
    v = v.filter(v.value_type == "binary")
    cens = v.filter(v.censored).select(*MEASURE_KEY).distinct()
    v = v.semi_join(cens, list(MEASURE_KEY))
    g = v.group_by(*MEASURE_KEY, "time_point_day", "time_days", "event").aggregate(
        n=v.count(), value_is_event=(v.value == v.event.cast("float64")).fill_null(False).cast("int64").sum(),
        valued=v.value.notnull().cast("int64").sum()).execute()
    out: dict[tuple[Any, ...], float] = {}
    keys = list(MEASURE_KEY)
    for key, f in g.groupby(keys, sort=False):
        day = f["time_point_day"].dropna()
        valued = float(f["valued"].fillna(0).sum())
        if day.empty or valued == 0:
            continue
        kmf = KaplanMeierFitter().fit(f["time_days"].astype(float), f["event"].astype(int),
                                      weights=f["n"].astype(float))
        survive = float(kmf.survival_function_at_times(float(day.iloc[0])).iloc[0])
        event_means_one = 2 * float(f["value_is_event"].fillna(0).sum()) >= valued
        out[tuple(key)] = 1.0 - survive if event_means_one else survive
    return out


@needs("outcome_values")
def value_summary(con: BaseBackend, library: Library) -> Rows:
    """Per condition, measure, time point and scale: values, patients, events, censored values and
    the mean value — for binary measures with censoring the Kaplan–Meier estimate instead, since a
    mean over the uncensored values alone is biased."""
    t = con.table("outcome_values")
    g = t.group_by(*MEASURE_KEY).aggregate(
        value_type=t.value_type.max(), values=t.count(), patients=t.patient_id.nunique(),
        events=t.event.sum(), censored=t.censored.cast("int64").sum(), mean_value=t.value.mean())
    km = _km_estimates(con) if int(t.censored.cast("int64").sum().execute() or 0) else {}
    rows = []
    for r in rows_of(g.order_by(*MEASURE_KEY)):
        key = tuple("" if r[k] is None else r[k] for k in MEASURE_KEY)
        binary = r["value_type"] == "binary"
        if not binary:
            r["events"] = None
        r["estimate"], r["method"] = r["mean_value"], "mean"
        if binary and (r["censored"] or 0) > 0:
            r["estimate"] = km.get(key)
            r["method"] = "Kaplan-Meier" if r["estimate"] is not None else "not estimable"
        r.pop("mean_value")
        rows.append(r)
    non_events = [r["value_type"] == "binary" and is_small((r["values"] or 0) - (r["events"] or 0)
                                                            - (r["censored"] or 0)) for r in rows]
    return suppress(rows, ("patients", "events"), values=["values", "events", "censored", "estimate"],
                    extra_small=non_events, cells=("censored",))


@needs("prom_scores")
def prom_summary(con: BaseBackend, library: Library) -> Rows:
    """Per instrument and scale: scored questionnaires, distinct patients, mean score."""
    t = con.table("prom_scores")
    t = t.filter(t.status == "scored")
    g = t.group_by("instrument", "scale").aggregate(scores=t.count(), patients=t.patient_id.nunique(),
                                                    mean_score=t.score.mean())
    return suppress(rows_of(g.order_by("instrument", "scale")), ("patients",))
