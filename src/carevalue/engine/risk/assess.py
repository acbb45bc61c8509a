"""One call from patient rows to a published-style provider comparison for one measure.

fit case-mix model (pandas, optionally on a sample) -> expected per patient (Ibis, in the
backend) -> O and E per provider (backend aggregation) -> O/E with CIs, funnel limits with
overdispersion, funnel flags, SRTR Bayesian flag and empirical-Bayes shrunk ratio. The measure,
outcome and case-mix variable names all come from the caller's definitions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis
import pandas as pd

from carevalue.engine.risk.casemix import CaseMixModel, ModelKind, fit_casemix
from carevalue.engine.risk.compare import COMPARISON_COLUMNS, observed_expected, provider_counts
from carevalue.engine.risk.flags import empirical_bayes_ratio, funnel_flags, srtr_flags
from carevalue.engine.risk.funnel import Funnel, Overdispersion, funnel
from carevalue.engine.risk.scoring import score_expression

RESULT_COLUMNS = [
    *COMPARISON_COLUMNS, "z", "z_adjusted", "lower_95", "upper_95", "lower_99_8", "upper_99_8",
    "flag_95", "flag_99_8", "srtr_hr", "srtr_flag", "shrunk_ratio",
]


@dataclass(frozen=True)
class ProviderComparison:
    """Result for one measure: status/message, the model, and the per-provider table."""

    measure: str
    status: str
    message: str
    model: CaseMixModel | None
    providers: pd.DataFrame = field(repr=False)
    funnel: Funnel | None = field(default=None, repr=False)

    def performance(self) -> dict[str, object]:
        base: dict[str, object] = {"measure": self.measure, "status": self.status,
                                   "message": self.message}
        if self.model is not None:
            base.update({k: v for k, v in self.model.performance().items()
                         if k not in ("status", "message")})
        if self.funnel is not None:
            base.update({"phi": self.funnel.phi, "tau2": self.funnel.tau2,
                         "overdispersion_applied": self.funnel.overdispersion})
        return base


def _empty(measure: str, status: str, message: str, model: CaseMixModel | None = None):
    return ProviderComparison(measure, status, message, model,
                              pd.DataFrame(columns=RESULT_COLUMNS))


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
) -> ProviderComparison:
    """Risk-adjusted comparison of providers on a binary `outcome` (1 = the event counted).

    The model is fitted on at most `fit_sample` complete rows pulled to pandas; scoring and
    aggregation run in the backend. A measure with no eligible rows, or whose model cannot be
    fitted, returns an empty table with a status and message instead of raising.
    """
    if kind != "logistic":
        return _empty(measure, "error", "compare_providers handles binary outcomes (logistic); "
                      "use casemix/compare directly for linear or Cox measures")
    cols = [outcome, *variables]
    complete = table.filter([table[c].notnull() for c in cols])
    n_rows = int(complete.count().to_pyarrow().as_py())
    if n_rows == 0:
        return _empty(measure, "empty", f"no eligible patients for measure '{measure}'")
    sample = complete.select(cols)
    if fit_sample is not None and n_rows > fit_sample:
        sample = sample.order_by(ibis.random()).limit(fit_sample)
    model = fit_casemix(sample.to_pandas(), outcome, variables, "logistic",
                        categorical=categorical)
    if not model.usable:
        return _empty(measure, model.status, model.message, model)
    scored = complete.mutate(__expected=score_expression(complete, model))
    counts = provider_counts(scored, provider, outcome, "__expected").to_pandas()
    oe = observed_expected(counts)
    fun = funnel(counts, "ratio", overdispersion=overdispersion)
    flags = funnel_flags(fun, higher_is_better=higher_is_better)
    srtr = srtr_flags(counts["observed"], counts["expected"])
    eb = empirical_bayes_ratio(counts["observed"], counts["expected"])
    table_out = oe.merge(
        flags[["provider", "z", "z_adjusted", "lower_95", "upper_95", "lower_99_8", "upper_99_8",
               "flag_95", "flag_99_8"]], on="provider", how="left")
    table_out["srtr_hr"] = srtr["hr"].to_numpy()
    table_out["srtr_flag"] = srtr["flag"].to_numpy()
    if higher_is_better:
        table_out["srtr_flag"] = table_out["srtr_flag"].map(
            {"worse": "better", "better": "worse"}).fillna(table_out["srtr_flag"])
    table_out["shrunk_ratio"] = eb["shrunk_ratio"].to_numpy()
    return ProviderComparison(measure, "ok", model.message, model, table_out[RESULT_COLUMNS], fun)
