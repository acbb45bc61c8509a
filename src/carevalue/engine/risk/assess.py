"""One call from patient rows to a published-style provider comparison for one measure.

fit case-mix model (pandas, optionally on a sample) -> expected per patient (Ibis, in the
backend) -> O and E per provider (backend aggregation) -> O/E with CIs, funnel limits with
overdispersion, flags that agree with the stated intervals (risk.intervals), SRTR's Bayesian
review flag and the empirical-Bayes shrunk ratio. The measure,
outcome and case-mix variable names all come from the caller's definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis
import numpy as np
import pandas as pd

from carevalue.engine.risk.casemix import (
    MIN_EVENTS_PER_PARAMETER,
    CaseMixModel,
    InformationCheck,
    ModelKind,
    check_information,
    expected,
    fit_casemix,
)
from carevalue.engine.risk.compare import COMPARISON_COLUMNS, observed_expected, provider_counts
from carevalue.engine.risk.flags import BETTER, WORSE, empirical_bayes_ratio, srtr_flags
from carevalue.engine.risk.funnel import Funnel, funnel
from carevalue.engine.risk.intervals import (
    Dispersion,
    Overdispersion,
    estimate_dispersion,
    ratio_flags,
)
from carevalue.engine.risk.sampling import FIT_SAMPLE, fit_rows
from carevalue.engine.risk.scoring import score_expression

RESULT_COLUMNS = [
    *COMPARISON_COLUMNS, "z", "z_adjusted", "lower_95", "upper_95", "lower_99_8", "upper_99_8",
    "ci_low_95", "ci_high_95", "ci_low_998", "ci_high_998", "flag_95", "flag_99_8",
    "not_assessable", "srtr_hr", "srtr_flag", "shrunk_ratio",
]
MIN_PROVIDERS = 2
INSUFFICIENT = "insufficient data"


@dataclass(frozen=True)
class ProviderComparison:
    """Result for one measure: status/message, the model, and the per-provider table."""

    measure: str
    status: str
    message: str
    model: CaseMixModel | None
    providers: pd.DataFrame = field(repr=False)
    funnel: Funnel | None = field(default=None, repr=False)
    information: InformationCheck | None = None
    dispersion: Dispersion | None = None

    def performance(self) -> dict[str, object]:
        base: dict[str, object] = {"measure": self.measure, "status": self.status,
                                   "message": self.message}
        if self.model is not None:
            base.update({k: v for k, v in self.model.performance().items()
                         if k not in ("status", "message")})
        if self.information is not None:
            base.update({"adjustment": self.information.adjustment,
                         "events_for_model": self.information.events,
                         "variables_left_out": list(self.information.dropped)})
        if self.dispersion is not None:
            base.update({"phi": self.dispersion.phi, "tau2": self.dispersion.tau2,
                         "overdispersion_applied": self.dispersion.method if self.dispersion.applied
                         else "none", "overdispersion_note": self.dispersion.note})
        return base


def _empty(measure: str, status: str, message: str, model: CaseMixModel | None = None,
           information: InformationCheck | None = None) -> ProviderComparison:
    return ProviderComparison(measure, status, message, model,
                              pd.DataFrame(columns=RESULT_COLUMNS), information=information)


def flag_providers(counts: pd.DataFrame, *, higher_is_better: bool,
                   overdispersion: Overdispersion) -> tuple[pd.DataFrame, Funnel, Dispersion]:
    """O/E with exact CI, flags that agree with the stated 95%/99.8% intervals, SRTR flag and EB
    shrunk ratio from per-provider counts (provider, n, observed, expected)."""
    oe = observed_expected(counts)
    disp = estimate_dispersion(counts["observed"].to_numpy(float), counts["expected"].to_numpy(float),
                               overdispersion)
    fun = funnel(counts, "ratio", overdispersion=disp.method if disp.applied else "none")
    flags = ratio_flags(counts["observed"], counts["expected"], higher_is_better=higher_is_better,
                        dispersion=disp)
    flags.insert(0, "provider", counts["provider"].to_numpy())
    pts = fun.points[["provider", "z", "z_adjusted", "lower_95", "upper_95", "lower_99_8",
                      "upper_99_8"]]
    out = oe.merge(pts, on="provider", how="left").merge(flags, on="provider", how="left")
    out = out.rename(columns={"flag_998": "flag_99_8"})
    srtr = srtr_flags(counts["observed"], counts["expected"], better_threshold=None)
    out["srtr_hr"] = srtr["hr"].to_numpy()
    srtr_flag = srtr["flag"]
    if higher_is_better:
        srtr_flag = srtr_flag.map({WORSE: BETTER}).fillna(srtr_flag)
    out["srtr_flag"] = srtr_flag.to_numpy()
    eb = empirical_bayes_ratio(counts["observed"], counts["expected"])
    out["shrunk_ratio"] = eb["shrunk_ratio"].to_numpy() if len(eb) == len(out) else np.nan
    return out[RESULT_COLUMNS], fun, disp


def compare_providers(
    table: ibis.Table,
    *,
    measure: str,
    provider: str,
    outcome: str,
    variables: Sequence[str],
    categorical: Sequence[str] = (),
    kind: ModelKind = "logistic",
    overdispersion: Overdispersion = "multiplicative",
    higher_is_better: bool = False,
    fit_sample: int | None = 200_000,
    seed: int = 0,
    min_epv: int = MIN_EVENTS_PER_PARAMETER,
) -> ProviderComparison:
    """Risk-adjusted comparison of providers on a binary `outcome` (1 = the event counted).

    The model is fitted on at most `fit_sample` complete rows pulled to pandas; scoring and
    aggregation run in the backend. With fewer than `min_epv` events per case-mix parameter the
    last variables of the list are left out (crude rates if none is supported); fewer than two
    providers or fewer than `min_epv` events is "insufficient data". A measure with no eligible
    rows, or whose model cannot be fitted, returns an empty table with a status and message.
    """
    if kind != "logistic":
        return _empty(measure, "error", "compare_providers handles binary outcomes (logistic); "
                      "use casemix/compare directly for linear or Cox measures")
    cols = [outcome, *variables]
    complete = table.filter([table[c].notnull() for c in cols])
    n_rows = int(complete.count().to_pyarrow().as_py())
    if n_rows == 0:
        return _empty(measure, "empty", f"no eligible patients for measure '{measure}'")
    n_providers = int(complete[provider].nunique().to_pyarrow().as_py())
    if n_providers < MIN_PROVIDERS:
        return _empty(measure, INSUFFICIENT, f"{n_providers} provider: a comparison needs at least "
                      f"{MIN_PROVIDERS}")
    sample = complete.select(cols)
    if fit_sample is not None and n_rows > fit_sample:
        sample = sample.order_by(ibis.random()).limit(fit_sample)
    fitted = _fit(sample.to_pandas(), measure, outcome, variables, categorical, min_epv)
    if isinstance(fitted, ProviderComparison):
        return fitted
    model, info = fitted
    scored = complete.mutate(__expected=score_expression(complete, model))
    counts = provider_counts(scored, provider, outcome, "__expected").to_pandas()
    return _result(measure, counts, model, info, higher_is_better, overdispersion)


def compare_providers_frame(
    frame: pd.DataFrame,
    *,
    measure: str,
    provider: str,
    outcome: str,
    variables: Sequence[str],
    categorical: Sequence[str] = (),
    overdispersion: Overdispersion = "multiplicative",
    higher_is_better: bool = False,
    fit_sample: int | None = FIT_SAMPLE,
    seed: int = 0,
    min_epv: int = MIN_EVENTS_PER_PARAMETER,
    flag: bool = True,
) -> ProviderComparison:
    """``compare_providers`` on rows already in pandas (the model frame of many measures pulled at
    once): the same checks, fit and flags, with expected values scored and summed in pandas. The
    fit sample (more than ``fit_sample`` rows) is drawn by risk.sampling, independent of row order.
    ``flag=False``: ``providers`` holds only the counts (provider, n, observed, expected), for a
    caller that flags them itself."""
    cols = [outcome, *variables]
    complete = frame.dropna(subset=cols)
    if complete.empty:
        return _empty(measure, "empty", f"no eligible patients for measure '{measure}'")
    n_providers = int(complete[provider].nunique())
    if n_providers < MIN_PROVIDERS:
        return _empty(measure, INSUFFICIENT, f"{n_providers} provider: a comparison needs at least "
                      f"{MIN_PROVIDERS}")
    sample = fit_rows(complete[cols], fit_sample, seed)  # at most fit_sample, whatever the row order
    fitted = _fit(sample, measure, outcome, variables, categorical, min_epv)
    if isinstance(fitted, ProviderComparison):
        return fitted
    model, info = fitted
    data = pd.DataFrame({"provider": complete[provider],
                         "observed": pd.to_numeric(complete[outcome]).astype("float64"),
                         "expected": expected(complete, model)})
    data = data[data["observed"].notna() & data["expected"].notna()]
    counts = data.groupby("provider", sort=True).agg(n=("observed", "size"), observed=("observed", "sum"),
                                                     expected=("expected", "sum")).reset_index()
    if not flag:
        return ProviderComparison(measure, "ok", "; ".join([model.message, info.note]), model, counts,
                                  information=info)
    return _result(measure, counts, model, info, higher_is_better, overdispersion)


def _fit(frame: pd.DataFrame, measure: str, outcome: str, variables: Sequence[str],
         categorical: Sequence[str], min_epv: int
         ) -> tuple[CaseMixModel, InformationCheck] | ProviderComparison:
    """The logistic case-mix model of the fit frame, or the comparison saying why there is none."""
    y = pd.to_numeric(frame[outcome], errors="coerce")
    limiting = float(min(y.sum(), len(y) - y.sum()))
    info = check_information(frame, variables, categorical, limiting, min_epv=min_epv)
    if info.adjustment == INSUFFICIENT:
        return _empty(measure, INSUFFICIENT, info.note, information=info)
    kept = list(info.kept)
    model = fit_casemix(frame, outcome, kept, "logistic",
                        categorical=[c for c in categorical if c in kept])
    if not model.usable:
        return _empty(measure, model.status, model.message, model, info)
    return model, info


def _result(measure: str, counts: pd.DataFrame, model: CaseMixModel, info: InformationCheck,
            higher_is_better: bool, overdispersion: Overdispersion) -> ProviderComparison:
    table_out, fun, disp = flag_providers(counts, higher_is_better=higher_is_better,
                                          overdispersion=overdispersion)
    message = "; ".join([model.message, info.note, disp.note])
    return ProviderComparison(measure, "ok", message, model, table_out, fun, info, disp)
