"""Risk-adjusted provider comparison of one outcome measure at one time point (F11).

Binary measures (deaths, complications, readmissions) use a logistic case-mix model
(``risk.compare_providers``); when some patients' follow-up ended before the time point, a Cox
model with the time point as horizon gives each patient's expected events over their own
follow-up. Continuous measures (PROM scores, clinical values, length of stay) use a linear model:
observed minus expected mean per provider. Each provider gets O, E, O/E (or O-E) with a CI,
flags at 95% and 99.8% that agree with the stated intervals (risk.intervals), the SRTR review
flag and the crude (unadjusted) flags beside them. Minimum information: fewer than 10 events per
case-mix parameter drops variables (or falls back to crude rates), and says which; one provider or
too few events is "insufficient data"; a time point beyond the data's follow-up or with fewer than
11 patients still at risk is "not estimable" with the number at risk. A measure that cannot be
compared yields one status row with a readable reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import numpy as np
import pandas as pd

from carevalue.engine.risk.assess import (
    INSUFFICIENT,
    MIN_PROVIDERS,
    compare_providers_frame,
)
from carevalue.engine.risk.casemix import (
    CaseMixModel,
    InformationCheck,
    check_information,
    expected,
    expected_events,
    fit_casemix,
    observed_events,
)
from carevalue.engine.risk.compare import observed_expected
from carevalue.engine.risk.flags import (
    AS_EXPECTED,
    BETTER,
    WORSE,
    empirical_bayes_ratio,
    srtr_flags,
)
from carevalue.engine.risk.intervals import estimate_dispersion, mean_flags, ratio_flags
from carevalue.engine.risk.sampling import FIT_SAMPLE, fit_rows
from carevalue.engine.risk.validation import DECILE_COLUMNS

COMPARISON_COLUMNS = [
    "condition", "measure", "time_point", "scale", "organization_id", "n", "observed", "expected",
    "oe", "ci_low", "ci_high", "ci_low_998", "ci_high_998", "observed_rate", "adjusted_rate",
    "crude_flag_95", "crude_flag_998", "flag_95", "flag_998", "not_assessable", "at_risk",
    "srtr_flag", "shrunk_oe", "statistic", "model", "variables", "adjustment", "events",
    "parameters", "c_statistic", "c_low", "c_high", "calibration", "calibration_intercept",
    "calibration_slope", "validation", "phi", "overdispersion", "status", "reason", "message",
]
CALIBRATION_COLUMNS = ["condition", "measure", "time_point", "scale", *DECILE_COLUMNS, "validation"]
MIN_AT_RISK = 11  # a time point with fewer patients still followed is "not estimable"
MIN_COVERAGE = 0.5  # a case-mix variable known for fewer of the patients is left out of the model
PROVIDER = "organization_id"
NOT_ESTIMABLE = "not estimable"


def status_row(key: dict[str, object], status: str, message: str, model: str | None = None,
               **extra: object) -> pd.DataFrame:
    """One row saying why a measure / time point has no comparison (status and reason)."""
    row: dict[str, object] = {c: None for c in COMPARISON_COLUMNS}
    row.update(key)
    row.update({"status": status, "reason": message, "message": message, "model": model})
    row.update(extra)
    return pd.DataFrame([row], columns=COMPARISON_COLUMNS)


def frame_of(rows: pd.DataFrame | ibis.Table) -> pd.DataFrame:
    """The rows in pandas (an Ibis table is fetched once)."""
    return rows if isinstance(rows, pd.DataFrame) else rows.to_pandas()


def usable_variables(rows: pd.DataFrame, variables: Sequence[str]) -> tuple[list[str], list[str]]:
    """Variables known for at least MIN_COVERAGE of the rows and taking two or more values;
    the notes say why the others were left out."""
    keep, notes = [], []
    n = len(rows)
    for v in variables:
        known, distinct = int(rows[v].notna().sum()), int(rows[v].nunique())
        if n and known < MIN_COVERAGE * n:
            notes.append(f"{v} left out (known for {known} of {n})")
        elif distinct < 2:
            notes.append(f"{v} left out (no variation)")
        else:
            keep.append(v)
    return keep, notes


def _crude_flags(counts: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """Flags against the overall rate, without case-mix: what a league table would show."""
    c = counts[["provider", "n", "observed"]].copy()
    total_n = float(c["n"].sum())
    rate = float(c["observed"].sum()) / total_n if total_n else 0.0
    c["expected"] = c["n"].astype("float64") * rate
    if rate <= 0:
        return pd.DataFrame({"provider": c["provider"], "crude_flag_95": AS_EXPECTED,
                             "crude_flag_998": AS_EXPECTED})
    disp = estimate_dispersion(c["observed"].to_numpy(float), c["expected"].to_numpy(float))
    f = ratio_flags(c["observed"], c["expected"], higher_is_better=higher_is_better, dispersion=disp)
    return pd.DataFrame({"provider": c["provider"].to_numpy(), "crude_flag_95": f["flag_95"],
                         "crude_flag_998": f["flag_998"]})


def flag_counts(counts: pd.DataFrame, higher_is_better: bool) -> pd.DataFrame:
    """From per-provider n, observed and expected events: O/E with its stated 95% and 99.8%
    intervals, rates, the flags those intervals imply, SRTR flag, empirical-Bayes O/E and crude flags
    (the columns of ``risk.assess.flag_providers`` the comparison table keeps, without its funnel
    limits, computed column by column over the providers in ``counts`` order)."""
    o, e = counts["observed"].to_numpy(float), counts["expected"].to_numpy(float)
    oe = observed_expected(counts)
    disp = estimate_dispersion(o, e, "multiplicative")
    flags = ratio_flags(counts["observed"], counts["expected"], higher_is_better=higher_is_better, dispersion=disp)
    srtr = srtr_flags(counts["observed"], counts["expected"], better_threshold=None)["flag"]
    if higher_is_better:
        srtr = srtr.map({WORSE: BETTER}).fillna(srtr)
    eb = empirical_bayes_ratio(counts["observed"], counts["expected"])
    crude = _crude_flags(counts, higher_is_better)
    out = {PROVIDER: oe["provider"].to_numpy(), "n": oe["n"].to_numpy(), "observed": oe["observed"].to_numpy(),
           "expected": oe["expected"].to_numpy(), "oe": oe["oe_ratio"].to_numpy(),
           **{c: flags[c].to_numpy() for c in ("ci_low_95", "ci_high_95", "ci_low_998", "ci_high_998", "flag_95",
                                              "flag_998", "not_assessable")},
           "observed_rate": oe["observed_rate"].to_numpy(), "adjusted_rate": oe["adjusted_rate"].to_numpy(),
           "srtr_flag": srtr.to_numpy(),
           "shrunk_oe": eb["shrunk_ratio"].to_numpy() if len(eb) == len(oe) else np.nan,
           "crude_flag_95": crude["crude_flag_95"].to_numpy(), "crude_flag_998": crude["crude_flag_998"].to_numpy(),
           "phi": disp.phi, "overdispersion": disp.note}
    return pd.DataFrame(out).rename(columns={"ci_low_95": "ci_low", "ci_high_95": "ci_high"})


def _finish(table: pd.DataFrame, key: dict[str, object], model: CaseMixModel, statistic: str,
            info: InformationCheck, notes: Sequence[str]) -> pd.DataFrame:
    overdispersion = str(table["overdispersion"].iloc[0]) if "overdispersion" in table and len(table) else ""
    scalars: dict[str, object] = {
        **key, "statistic": statistic, "model": model.kind, "variables": ",".join(info.kept),
        "adjustment": info.adjustment, "events": info.events, "parameters": model.parameters,
        "c_statistic": model.c_statistic, "c_low": model.c_low, "c_high": model.c_high,
        "calibration": model.calibration_in_the_large,
        "calibration_intercept": model.calibration_in_the_large,
        "calibration_slope": model.calibration_slope, "validation": model.validation, "status": "ok",
        "reason": None,
        "message": "; ".join(x for x in [model.message, info.note, *notes, overdispersion] if x),
    }
    # one frame built at once (setting ~40 columns one by one was a visible share of the stage)
    n = len(table)
    out = pd.DataFrame({c: scalars[c] if c in scalars else (table[c].to_numpy() if c in table else None)
                        for c in COMPARISON_COLUMNS}, index=pd.RangeIndex(n))
    out.attrs["deciles"] = model.deciles
    return out


def _follow_up(rows: pd.DataFrame, horizon: float) -> tuple[int, int, float, int]:
    """(patients, still at risk at the horizon, longest follow-up in days, censored before it)."""
    t = pd.to_numeric(rows["time_days"]).astype("float64")
    longest = float(t.max()) if t.notna().any() else 0.0
    censored = int(rows["censored"].astype(object).where(rows["censored"].notna(), False).astype(bool).sum())
    return len(rows), int((t >= horizon).sum()), longest, censored


def _at_risk(rows: pd.DataFrame, horizon: float) -> pd.DataFrame:
    """Per provider, patients still followed at the horizon (null where no follow-up is known)."""
    t = pd.to_numeric(rows["time_days"]).astype("float64")
    followed = (t >= horizon).astype("float64").where(t.notna())
    at = followed.groupby(rows[PROVIDER], sort=True).sum(min_count=1)
    return pd.DataFrame({PROVIDER: at.index.to_numpy(), "at_risk": at.to_numpy()})


def compare_binary(rows: pd.DataFrame | ibis.Table, key: dict[str, object], variables: Sequence[str],
                   categorical: Sequence[str], higher_is_better: bool, horizon: float) -> pd.DataFrame:
    """``rows``: one per cycle with organization_id, event, censored, time_days and the variables."""
    rows = frame_of(rows)
    n_all, at_risk, longest, n_censored = _follow_up(rows, horizon)
    if n_all == 0:
        return status_row(key, "empty", f"no eligible patients for measure '{key['measure']}' at "
                          f"'{key['time_point']}'")
    if n_censored and (at_risk < MIN_AT_RISK or longest < horizon):
        return status_row(key, NOT_ESTIMABLE, f"{at_risk} of {n_all} patients still followed at "
                          f"'{key['time_point']}' (day {horizon:g}; longest follow-up {longest:g} days, "
                          f"{n_censored} censored before it); at least {MIN_AT_RISK} are needed",
                          at_risk=at_risk, n=n_all)
    n_providers = int(rows[PROVIDER].nunique())
    if n_providers < MIN_PROVIDERS:
        return status_row(key, INSUFFICIENT, f"{n_providers} provider: a comparison needs at least "
                          f"{MIN_PROVIDERS}", n=n_all)
    if n_censored:
        return _compare_cox(rows, key, variables, categorical, higher_is_better, horizon, n_censored)
    keep, notes = usable_variables(rows, variables)
    n_complete = int(rows[[PROVIDER, "event", *keep]].notna().all(axis=1).sum())
    if n_complete > FIT_SAMPLE:
        notes.append(f"model fitted on a sample of {FIT_SAMPLE} of {n_complete} patients")
    result = compare_providers_frame(
        rows[rows[PROVIDER].notna()], measure=str(key["measure"]), provider=PROVIDER,
        outcome="event", variables=keep, categorical=[c for c in categorical if c in keep],
        higher_is_better=higher_is_better, fit_sample=FIT_SAMPLE, flag=False)
    if result.status != "ok" or result.model is None or result.information is None:
        extra = {"events": result.information.events} if result.information else {}
        return status_row(key, result.status, "; ".join([result.message, *notes]), "logistic",
                          n=n_all, **extra)
    counts = result.providers[["provider", "n", "observed", "expected"]]
    table = flag_counts(counts, higher_is_better)
    table = table.merge(_at_risk(rows, horizon), on=PROVIDER, how="left")
    return _finish(table, key, result.model, "O/E events", result.information, notes)


def _compare_cox(rows: pd.DataFrame, key: dict[str, object], variables: Sequence[str],
                 categorical: Sequence[str], higher_is_better: bool, horizon: float,
                 n_censored: int) -> pd.DataFrame:
    keep, notes = usable_variables(rows, variables)
    notes = [*notes, f"{n_censored} patients censored before '{key['time_point']}': Cox model "
             "with each patient's own follow-up"]
    frame = rows[[PROVIDER, "event", "time_days", *keep]].dropna(subset=[PROVIDER, "event", "time_days", *keep])
    frame["time_days"] = frame["time_days"].clip(lower=0.0) + 1e-6
    events = float((frame["event"] * (frame["time_days"] <= horizon)).sum())
    cats = [c for c in categorical if c in keep]
    # the model is fitted (and cross-validated) on at most FIT_SAMPLE rows; O and E cover them all
    sample = fit_rows(frame[["event", "time_days", *keep]], FIT_SAMPLE)
    if len(sample) < len(frame):
        notes.append(f"model fitted on a sample of {len(sample)} of {len(frame)} patients")
    info = check_information(sample, keep, cats,
                             float((sample["event"] * (sample["time_days"] <= horizon)).sum()))
    if info.adjustment == INSUFFICIENT:
        return status_row(key, INSUFFICIENT, "; ".join([info.note, *notes]), "cox", n=len(frame),
                          events=events)
    kept = list(info.kept)
    model = fit_casemix(sample, "event", kept, "cox", categorical=[c for c in cats if c in kept],
                        duration="time_days", horizon=horizon)
    if not model.usable:
        return status_row(key, model.status, "; ".join([model.message, *notes]), "cox", n=len(frame),
                          events=events)
    data = frame.assign(__o=observed_events(frame, model), __e=expected_events(frame, model),
                        __r=(frame["time_days"] >= horizon).astype("int64"))
    counts = data.groupby(PROVIDER, sort=True).agg(n=("__o", "size"), observed=("__o", "sum"),
                                                   expected=("__e", "sum"), at_risk=("__r", "sum"))
    counts = counts.reset_index().rename(columns={PROVIDER: "provider"})
    table = flag_counts(counts[["provider", "n", "observed", "expected"]], higher_is_better)
    table = table.merge(counts[["provider", "at_risk"]].rename(columns={"provider": PROVIDER}),
                        on=PROVIDER, how="left")
    return _finish(table, key, model, "O/E events (Cox)", info, notes)


def compare_continuous(rows: pd.DataFrame | ibis.Table, key: dict[str, object], variables: Sequence[str],
                       categorical: Sequence[str], higher_is_better: bool) -> pd.DataFrame:
    """Observed minus expected mean per provider from a linear case-mix model; flagged where the
    95% / 99.8% t interval of the mean residual (the interval printed) excludes 0."""
    rows = frame_of(rows)
    rows = rows[rows["value"].notna() & rows[PROVIDER].notna()]
    n_all = len(rows)
    if n_all == 0:
        return status_row(key, "empty", f"no eligible patients for measure '{key['measure']}' at "
                          f"'{key['time_point']}'", "linear")
    n_providers = int(rows[PROVIDER].nunique())
    if n_providers < MIN_PROVIDERS:
        return status_row(key, INSUFFICIENT, f"{n_providers} provider: a comparison needs at least "
                          f"{MIN_PROVIDERS}", "linear", n=n_all)
    keep, notes = usable_variables(rows, variables)
    complete = rows.dropna(subset=keep) if keep else rows
    frame = fit_rows(complete[["value", *keep]], FIT_SAMPLE)
    if len(frame) < len(complete):
        notes = [*notes, f"model fitted on a sample of {len(frame)} of {len(complete)} patients"]
    cats = [c for c in categorical if c in keep]
    info = check_information(frame, keep, cats, float(len(frame)))
    if info.adjustment == INSUFFICIENT:
        return status_row(key, INSUFFICIENT, "; ".join([f"{len(frame)} patients: fewer than 10", *notes]),
                          "linear", n=n_all)
    kept = list(info.kept)
    complete = rows.dropna(subset=kept) if kept else rows
    model = fit_casemix(frame, "value", kept, "linear", categorical=[c for c in cats if c in kept])
    if not model.usable:
        return status_row(key, model.status, "; ".join([model.message, *notes]), "linear", n=n_all)
    value = complete["value"].astype("float64")
    scored = pd.DataFrame({"value": value, "exp": expected(complete, model)})
    scored["resid"] = scored["value"] - scored["exp"]
    g = scored.groupby(complete[PROVIDER], sort=True)
    agg = pd.DataFrame({"n": g.size(), "observed": g["value"].mean(), "expected": g["exp"].mean(),
                        "diff": g["resid"].mean(), "diff_sd": g["resid"].std(), "crude_sd": g["value"].std()})
    agg = agg.rename_axis(PROVIDER).reset_index()
    grand = float(value.mean())
    n = agg["n"].astype("float64").to_numpy()
    se = agg["diff_sd"].astype("float64").to_numpy() / np.sqrt(n)
    crude_se = agg["crude_sd"].astype("float64").to_numpy() / np.sqrt(n)
    adj = mean_flags(agg["diff"].to_numpy(float), se, n, higher_is_better=higher_is_better)
    crude = mean_flags(agg["observed"].to_numpy(float) - grand, crude_se, n,
                       higher_is_better=higher_is_better)
    cols = {PROVIDER: agg[PROVIDER].to_numpy(), "n": agg["n"].to_numpy(), "observed": agg["observed"].to_numpy(),
            "expected": agg["expected"].to_numpy(), "oe": agg["diff"].to_numpy(),
            "ci_low": adj["ci_low_95"].to_numpy(), "ci_high": adj["ci_high_95"].to_numpy(),
            "ci_low_998": adj["ci_low_998"].to_numpy(), "ci_high_998": adj["ci_high_998"].to_numpy(),
            "flag_95": adj["flag_95"].to_numpy(), "flag_998": adj["flag_998"].to_numpy(),
            "not_assessable": adj["not_assessable"].to_numpy(),
            "crude_flag_95": crude["flag_95"].to_numpy(), "crude_flag_998": crude["flag_998"].to_numpy(),
            "observed_rate": agg["observed"].to_numpy(), "adjusted_rate": (grand + agg["diff"]).to_numpy(),
            "srtr_flag": None, "shrunk_oe": None, "overdispersion": "none: t interval of the mean residual"}
    agg = pd.DataFrame(cols, index=pd.RangeIndex(len(agg)))
    return _finish(agg, key, model, "O-E mean", info, notes)
