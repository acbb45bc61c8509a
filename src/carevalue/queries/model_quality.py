"""Model quality read out: one row per comparison (condition × measure × time point × scale) with
the case-mix model's information (events, parameters, events per parameter), discrimination
(c-statistic with its 95% CI), calibration (intercept and slope) and status; and the calibration
plot's points from ``outcome_calibration``, pooled so that no point describes 1–10 events.

A statistic the status does not support (anything but ``ok``) is never returned: its value is
None and the status and reason say why; nor is an in-sample ("apparent") calibration, which is
perfect by construction. ``events`` (the limiting count: the smaller of events and
non-events), ``n`` and ``patients`` go through :mod:`carevalue.queries.privacy`.
"""

from __future__ import annotations

from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries.base import needs, rows_of
from carevalue.queries.outcomes import MEASURE_KEY
from carevalue.queries.privacy import THRESHOLD, is_small, scrub_text, suppress

Rows = list[dict[str, Any]]
OK = "ok"
#: Validation on the fitting data itself: its calibration intercept and slope are 0 and 1 by
#: construction (ordinary least squares, Cox), so they say nothing and are not returned.
APPARENT = "apparent"
#: Model-level facts, the same on every provider row of one comparison.
MODEL_COLUMNS = ("statistic", "model", "adjustment", "variables", "events", "parameters", "c_statistic",
                 "c_low", "c_high", "calibration_intercept", "calibration_slope", "validation", "phi",
                 "overdispersion", "status", "reason")
#: Numbers that only a fitted, supported model has; None unless the status is ok.
SUPPORTED_ONLY = ("c_statistic", "c_low", "c_high", "calibration_intercept", "calibration_slope", "phi",
                  "events_per_parameter")
#: Hidden when the comparison's events, cycles or patients are 1–10 (the row describes a small cell).
HIDDEN_VALUES = ("events_per_parameter", "c_statistic", "c_low", "c_high", "calibration_intercept",
                 "calibration_slope", "phi")


def _comparison_row(group: Rows) -> dict[str, Any]:
    """Collapse the rows of one comparison (provider rows, or its one status row) into one."""
    providers = [r for r in group if r.get("organization_id") is not None]
    first = providers[0] if providers else group[0]
    row: dict[str, Any] = {k: first.get(k) for k in MEASURE_KEY}
    row.update({k: first.get(k) for k in MODEL_COLUMNS})
    if providers:
        row["providers"] = len(providers)
        row["n"] = sum(r.get("n") or 0 for r in providers)
        row["patients"] = sum(r.get("patients") or 0 for r in providers)
        row["at_risk"] = None
    else:
        row["providers"] = None
        row["n"], row["patients"], row["at_risk"] = first.get("n"), first.get("patients"), first.get("at_risk")
    params, events = row.get("parameters"), row.get("events")
    row["events_per_parameter"] = (events / params if events is not None and params else None)
    if row.get("status") != OK:
        for k in SUPPORTED_ONLY:
            row[k] = None
    if "not estimable" in str(row.get("overdispersion") or ""):
        row["phi"] = None  # too few providers: the note says so, φ is not used
    if str(row.get("validation") or "").startswith(APPARENT):
        row["calibration_intercept"] = row["calibration_slope"] = None  # 0 and 1 by construction
    row["reason"] = scrub_text(row.get("reason")) or None
    row["overdispersion"] = scrub_text(row.get("overdispersion")) or None
    return row


@needs("outcome_comparison")
def model_quality(con: BaseBackend, library: Library, condition: str | None = None) -> Rows:
    """One row per comparison: statistic, model, adjustment, variables, events, parameters, events per
    parameter, c-statistic (c_low–c_high), calibration intercept and slope, validation,
    overdispersion, status and reason — safe to show."""
    t = con.table("outcome_comparison")
    if condition:
        t = t.filter(t.condition == condition)
    cols = [*MEASURE_KEY, "organization_id", "n", "patients", "at_risk", *MODEL_COLUMNS]
    t = t.select(*cols).order_by(*MEASURE_KEY, t.organization_id.isnull(), "organization_id")
    groups: dict[tuple[Any, ...], Rows] = {}
    for r in rows_of(t):
        groups.setdefault(tuple(r.get(k) for k in MEASURE_KEY), []).append(r)
    rows = [_comparison_row(g) for g in groups.values()]
    return suppress(rows, ("events", "n", "patients"), values=HIDDEN_VALUES, cells=("at_risk",))


def _pooled(deciles: Rows, threshold: int = THRESHOLD) -> Rows:
    """Adjacent deciles merged, lowest risk first, until each group has at least ``threshold``
    cycles, events and non-events; a short remainder joins the last group. Empty when the whole
    comparison has fewer."""
    groups: list[Rows] = []
    cur: Rows = []

    def big(g: Rows) -> bool:
        n, obs = sum(r["n"] or 0 for r in g), sum(r["observed"] or 0 for r in g)
        return min(n, obs, n - obs) >= threshold

    for r in deciles:
        cur.append(r)
        if big(cur):
            groups.append(cur)
            cur = []
    if cur:
        if groups:
            groups[-1] = groups[-1] + cur
        elif not big(cur):
            return []
    out = []
    for g in groups:
        n = float(sum(r["n"] or 0 for r in g))
        obs, exp = float(sum(r["observed"] or 0 for r in g)), float(sum(r["expected"] or 0 for r in g))
        lo, hi = g[0]["decile"], g[-1]["decile"]
        out.append({"deciles": str(lo) if lo == hi else f"{lo}–{hi}", "n": n, "observed": obs, "expected": exp,
                    "observed_rate": obs / n if n else None, "expected_rate": exp / n if n else None,
                    "validation": g[0].get("validation")})
    return out


def _is_rate(deciles: Rows) -> bool:
    """Event counts (0 ≤ observed ≤ n in every decile), as a logistic or Cox model's deciles are."""
    return all(r["n"] is not None and r["observed"] is not None and 0 <= r["observed"] <= r["n"]
               for r in deciles)


@needs("outcome_calibration", "outcome_comparison")
def calibration(con: BaseBackend, library: Library, condition: str | None = None) -> Rows:
    """Calibration-plot points per comparison whose model is supported (status ok): observed and
    expected events and rates by group of adjacent risk deciles, each group with at least 11
    cycles, events and non-events (deciles merged until it has), so no point describes 1–10."""
    cal = con.table("outcome_calibration")
    if condition:
        cal = cal.filter(cal.condition == condition)
    cmp = con.table("outcome_comparison")
    ok = cmp.filter(cmp.status == OK).select(*MEASURE_KEY).distinct()
    cal = cal.mutate(**{k: cal[k].fill_null("") for k in ("time_point", "scale")})
    ok = ok.mutate(**{k: ok[k].fill_null("") for k in ("time_point", "scale")})
    cal = cal.semi_join(ok, list(MEASURE_KEY)).order_by(*MEASURE_KEY, "decile")
    groups: dict[tuple[Any, ...], Rows] = {}
    for r in rows_of(cal):
        groups.setdefault(tuple(r[k] for k in MEASURE_KEY), []).append(r)
    out: Rows = []
    for key, deciles in groups.items():
        if not _is_rate(deciles):
            continue
        for i, p in enumerate(_pooled(deciles), start=1):
            out.append({**dict(zip(MEASURE_KEY, (k or None for k in key), strict=True)), "group": i, **p})
    small = [is_small(r["n"] - r["observed"]) for r in out]
    return suppress(out, ("n", "observed"), values=["n", "observed", "expected", "observed_rate", "expected_rate"],
                    extra_small=small)
