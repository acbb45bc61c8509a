"""Risk adjustment for outcome measures: case-mix models, observed/expected with confidence
intervals, funnel plots with overdispersion, better/worse flags, CUSUM/VLAD and trends."""

from carevalue.engine.risk.assess import ProviderComparison, compare_providers
from carevalue.engine.risk.casemix import (
    CaseMixModel,
    RiskModelError,
    c_statistic,
    expected,
    expected_events,
    fit_casemix,
    kaplan_meier_at,
    observed_events,
)
from carevalue.engine.risk.compare import (
    byar_ci,
    exact_binomial_ci,
    observed_expected,
    poisson_ci,
    provider_counts,
    wilson_ci,
)
from carevalue.engine.risk.cusum import (
    bernoulli_cusum,
    choose_threshold,
    cusum_by_provider,
    simulate_run_length,
)
from carevalue.engine.risk.flags import empirical_bayes_ratio, funnel_flags, srtr_flags
from carevalue.engine.risk.funnel import Funnel, control_limits, funnel
from carevalue.engine.risk.scoring import score_expression
from carevalue.engine.risk.trend import measure_by_period

__all__ = [
    "CaseMixModel", "Funnel", "ProviderComparison", "RiskModelError", "bernoulli_cusum",
    "byar_ci", "c_statistic", "choose_threshold", "compare_providers", "control_limits",
    "cusum_by_provider", "empirical_bayes_ratio", "exact_binomial_ci", "expected",
    "expected_events", "fit_casemix", "funnel", "funnel_flags", "kaplan_meier_at",
    "measure_by_period", "observed_events", "observed_expected", "poisson_ci",
    "provider_counts", "score_expression", "simulate_run_length", "srtr_flags", "wilson_ci",
]
