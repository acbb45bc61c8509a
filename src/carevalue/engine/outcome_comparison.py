"""Risk-adjusted provider comparison of one outcome measure at one time point (F11).

Binary measures (deaths, complications, readmissions) use a logistic case-mix model
(``risk.compare_providers``); when some patients' follow-up ended before the time point, a Cox
model with the time point as horizon gives each patient's expected events over their own
follow-up. Continuous measures (PROM scores, clinical values, length of stay) use a linear model:
observed minus expected mean per provider. Each provider gets O, E, O/E (or O-E) with a CI,
funnel flags at 95% and 99.8%, the SRTR Bayesian flag and the crude (unadjusted) flags beside
them. A measure that cannot be compared yields one status row with a readable message.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd
from scipy import stats

from carevalue.engine.risk import compare_providers, fit_casemix
from carevalue.engine.risk.casemix import CaseMixModel, expected_events, observed_events
from carevalue.engine.risk.compare import observed_expected
from carevalue.engine.risk.flags import (
    AS_EXPECTED,
    BETTER,
    WORSE,
    empirical_bayes_ratio,
    funnel_flags,
    srtr_flags,
)
from carevalue.engine.risk.funnel import Overdispersion, funnel
from carevalue.engine.risk.scoring import score_expression

COMPARISON_COLUMNS = [
    "condition", "measure", "time_point", "scale", "organization_id", "n", "observed", "expected",
    "oe", "ci_low", "ci_high", "observed_rate", "adjusted_rate", "crude_flag_95", "crude_flag_998",
    "flag_95", "flag_998", "srtr_flag", "shrunk_oe", "statistic", "model", "variables",
    "c_statistic", "calibration", "phi", "status", "message",
]
# With fewer providers than this, overdispersion cannot be told apart from the very provider
# effects the comparison looks for, so funnel limits are the plain binomial/Poisson ones.
MIN_PROVIDERS_FOR_OVERDISPERSION = 20
MIN_COVERAGE = 0.5  # a case-mix variable known for fewer of the patients is left out of the model
FIT_SAMPLE = 200_000
PROVIDER = "organization_id"


def status_row(key: dict[str, object], status: str, message: str, model: str | None = None) -> pd.DataFrame:
    row: dict[str, object] = {c: None for c in COMPARISON_COLUMNS}
    row.update(key)
    row.update({"status": status, "message": message, "model": model})
    return pd.DataFrame([row], columns=COMPARISON_COLUMNS)


def usable_variables(rows: ibis.Table, variables: Sequence[str]) -> tuple[list[str], list[str]]:
    """Variables known for at least MIN_COVERAGE of the rows and taking two or more values;
    the notes say why the others were left out."""
    if not variables:
        return [], []
    total = rows.count()
    stats_ = rows.aggregate(
        __n=total, **{f"__c{i}": rows[v].count() for i, v in enumerate(variables)},
        **{f"__u{i}": rows[v].nunique() for i, v in enumerate(variables)}).to_pandas().iloc[0]
    keep, notes = [], []
    n = int(stats_["__n"])
    for i, v in enumerate(variables):
        known, distinct = int(stats_[f"__c{i}"]), int(stats_[f"__u{i}"])
        if n and known < MIN_COVERAGE * n:
            notes.append(f"{v} left out (known for {known} of {n})")
        elif distinct < 2:
            notes.append(f"{v} left out (no variation)")
        else:
            keep.append(v)
    return keep, notes


def _overdispersion(n_providers: int) -> Overdispersion:
    return "multiplicative" if n_providers >= MIN_PROVIDERS_FOR_OVERDISPERSION else "none"


def _crude_flags(counts: pd.DataFrame, higher_is_better: bool, od: Overdispersion) -> pd.DataFrame:
    """Flags against the overall rate, without case-mix: what a league table would show."""
    c = counts[["provider", "n", "observed"]].copy()
    total_n = float(c["n"].sum())
    rate = float(c["observed"].sum()) / total_n if total_n else 0.0
    c["expected"] = c["n"].astype("float64") * rate
    if rate <= 0:
        return pd.DataFrame({"provider": c["provider"], "crude_flag_95": AS_EXPECTED,
                             "crude_flag_998": AS_EXPECTED})
    f = funnel_flags(funnel(c, "ratio", overdispersion=od), higher_is_better=higher_is_better)
    return f[["provider", "flag_95", "flag_99_8"]].rename(
        columns={"flag_95": "crude_flag_95", "flag_99_8": "crude_flag_998"})


def flag_counts(counts: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """From per-provider n, observed and expected events: O/E with exact CI, rates, funnel flags,
    SRTR flag, empirical-Bayes O/E and crude flags (columns of COMPARISON_COLUMNS)."""
    od = _overdispersion(len(counts))
    oe = observed_expected(counts)
    fun = funnel(counts, "ratio", overdispersion=od)
    flags = funnel_flags(fun, higher_is_better=higher_is_better)
    srtr = srtr_flags(counts["observed"], counts["expected"])
    srtr_flag = srtr["flag"]
    if higher_is_better:
        srtr_flag = srtr_flag.map({WORSE: BETTER, BETTER: WORSE}).fillna(srtr_flag)
    eb = empirical_bayes_ratio(counts["observed"], counts["expected"])
    out = oe.merge(flags[["provider", "flag_95", "flag_99_8"]], on="provider", how="left")
    out = out.merge(_crude_flags(counts, higher_is_better, od), on="provider", how="left")
    out["srtr_flag"] = srtr_flag.to_numpy()
    out["shrunk_oe"] = eb["shrunk_ratio"].to_numpy() if len(eb) == len(out) else np.nan
    out["phi"] = fun.phi
    return out.rename(columns={"provider": PROVIDER, "oe_ratio": "oe", "oe_lower": "ci_low",
                               "oe_upper": "ci_high", "flag_99_8": "flag_998"})


def _finish(table: pd.DataFrame, key: dict[str, object], model: CaseMixModel, statistic: str,
            variables: Sequence[str], notes: Sequence[str]) -> pd.DataFrame:
    out = table.copy()
    for k, v in key.items():
        out[k] = v  # type: ignore[call-overload]
    out["statistic"] = statistic
    out["model"] = model.kind
    out["variables"] = ",".join(variables)
    out["c_statistic"] = model.c_statistic
    out["calibration"] = model.calibration_in_the_large
    out["status"] = "ok"
    out["message"] = "; ".join([model.message, *notes])
    for c in COMPARISON_COLUMNS:
        if c not in out.columns:
            out[c] = None
    return out[COMPARISON_COLUMNS]


def compare_binary(rows: ibis.Table, key: dict[str, object], variables: Sequence[str],
                   categorical: Sequence[str], higher_is_better: bool, horizon: float) -> pd.DataFrame:
    """``rows``: one per cycle with organization_id, event, censored, time_days and the variables."""
    n_all = int(rows.count().to_pyarrow().as_py())
    if n_all == 0:
        return status_row(key, "empty", f"no eligible patients for measure '{key['measure']}' at "
                          f"'{key['time_point']}'")
    n_censored = int(rows.filter(rows.censored).count().to_pyarrow().as_py())
    if n_censored:
        return _compare_cox(rows, key, variables, categorical, higher_is_better, horizon, n_censored)
    keep, notes = usable_variables(rows, variables)
    n_providers = int(rows[PROVIDER].nunique().to_pyarrow().as_py())
    result = compare_providers(
        rows.filter(rows[PROVIDER].notnull()), measure=str(key["measure"]), provider=PROVIDER,
        outcome="event", variables=keep, categorical=[c for c in categorical if c in keep],
        overdispersion=_overdispersion(n_providers), higher_is_better=higher_is_better,
        fit_sample=FIT_SAMPLE)
    if result.status != "ok" or result.model is None:
        return status_row(key, result.status, "; ".join([result.message, *notes]), "logistic")
    p = result.providers
    counts = p[["provider", "n", "observed", "expected"]]
    table = flag_counts(counts, higher_is_better)
    # compare_providers' own flags use the same funnel settings; keep its per-provider numbers.
    return _finish(table, key, result.model, "O/E events", keep, notes)


def _compare_cox(rows: ibis.Table, key: dict[str, object], variables: Sequence[str],
                 categorical: Sequence[str], higher_is_better: bool, horizon: float,
                 n_censored: int) -> pd.DataFrame:
    keep, notes = usable_variables(rows, variables)
    notes = [*notes, f"{n_censored} patients censored before '{key['time_point']}': Cox model"]
    frame = rows.select(PROVIDER, "event", "time_days", *keep).to_pandas()
    frame = frame.dropna(subset=[PROVIDER, "event", "time_days"])
    frame["time_days"] = frame["time_days"].clip(lower=0.0) + 1e-6
    model = fit_casemix(frame, "event", keep, "cox", categorical=[c for c in categorical if c in keep],
                        duration="time_days", horizon=horizon)
    if not model.usable:
        return status_row(key, model.status, "; ".join([model.message, *notes]), "cox")
    data = frame.dropna(subset=keep)
    data = data.assign(__o=observed_events(data, model), __e=expected_events(data, model))
    counts = data.groupby(PROVIDER, sort=True).agg(n=("__o", "size"), observed=("__o", "sum"),
                                                   expected=("__e", "sum")).reset_index()
    counts = counts.rename(columns={PROVIDER: "provider"})
    return _finish(flag_counts(counts, higher_is_better), key, model, "O/E events (Cox)", keep, notes)


def compare_continuous(rows: ibis.Table, key: dict[str, object], variables: Sequence[str],
                       categorical: Sequence[str], higher_is_better: bool) -> pd.DataFrame:
    """Observed minus expected mean per provider from a linear case-mix model; flags where the
    95% / 99.8% interval of the mean residual excludes 0."""
    rows = rows.filter(rows.value.notnull() & rows[PROVIDER].notnull())
    n_all = int(rows.count().to_pyarrow().as_py())
    if n_all == 0:
        return status_row(key, "empty", f"no eligible patients for measure '{key['measure']}' at "
                          f"'{key['time_point']}'", "linear")
    keep, notes = usable_variables(rows, variables)
    complete = rows.filter([rows[v].notnull() for v in keep]) if keep else rows
    sample = complete.select("value", *keep)
    if n_all > FIT_SAMPLE:
        sample = sample.order_by(ibis.random()).limit(FIT_SAMPLE)
    model = fit_casemix(sample.to_pandas(), "value", keep, "linear",
                        categorical=[c for c in categorical if c in keep])
    if not model.usable:
        return status_row(key, model.status, "; ".join([model.message, *notes]), "linear")
    scored = complete.mutate(__exp=score_expression(complete, model))
    resid = scored.value - scored.__exp
    agg = scored.group_by(scored[PROVIDER]).aggregate(
        n=scored.count(), observed=scored.value.mean(), expected=scored.__exp.mean(),
        diff=resid.mean(), diff_sd=resid.std(), crude_sd=scored.value.std()).to_pandas()
    grand = float(complete.value.mean().to_pyarrow().as_py())
    n = agg["n"].astype("float64")
    se = agg["diff_sd"].fillna(0.0) / np.sqrt(n)
    t95 = stats.t.ppf(0.975, np.maximum(n - 1, 1))
    agg["oe"] = agg["diff"]
    agg["ci_low"], agg["ci_high"] = agg["diff"] - t95 * se, agg["diff"] + t95 * se
    agg["observed_rate"] = agg["observed"]
    agg["adjusted_rate"] = grand + agg["diff"]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, agg["diff"] / se, 0.0)
        crude_se = agg["crude_sd"].fillna(0.0) / np.sqrt(n)
        zc = np.where(crude_se > 0, (agg["observed"] - grand) / crude_se, 0.0)
    for name, zz in (("flag", z), ("crude_flag", zc)):
        for level, tag in ((0.95, "95"), (0.998, "998")):
            q = stats.norm.ppf(1 - (1 - level) / 2)
            good = zz > q if higher_is_better else zz < -q
            bad = zz < -q if higher_is_better else zz > q
            agg[f"{name}_{tag}"] = np.where(good, BETTER, np.where(bad, WORSE, AS_EXPECTED))
    agg["srtr_flag"] = None
    agg["shrunk_oe"] = None
    return _finish(agg, key, model, "O-E mean", keep, notes)
