"""The numpy Cox fit (engine/risk/coxph.py) is lifelines' estimator: Efron ties, case weights,
centring on the column means and the Breslow baseline agree with CoxPHFitter; Harrell's C agrees
with lifelines' concordance_index; separation does not converge."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.utils import concordance_index

from carevalue.engine.risk.coxph import fit_cox
from carevalue.engine.risk.validation import harrell_c


def cohort(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.column_stack([rng.integers(0, 2, n), rng.integers(40, 90, n), rng.normal(size=n)]).astype(float)
    lp = 0.5 * x[:, 0] + 0.03 * (x[:, 1] - 65) + 0.2 * x[:, 2]
    t_event = np.ceil(rng.exponential(400 * np.exp(-lp)))  # whole days: many tied event times
    t_cens = rng.integers(1, 700, n)
    return x, np.minimum(t_event, t_cens).astype(float), (t_event <= t_cens).astype(float)


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_matches_lifelines(weighted: bool) -> None:
    x, t, e = cohort(1500, 1)
    w = np.random.default_rng(2).integers(1, 4, len(t)).astype(float) if weighted else np.ones(len(t))
    df = pd.DataFrame(x, columns=["a", "b", "c"]).assign(t=t, e=e, w=w)
    ref = CoxPHFitter().fit(df, "t", "e", weights_col="w")
    fit = fit_cox(x, t, e, w)
    assert fit.converged
    assert fit.params == pytest.approx(ref.params_.to_numpy(), abs=1e-6)
    assert fit.std_errors == pytest.approx(ref.standard_errors_.to_numpy(), rel=1e-5)
    assert fit.means == pytest.approx(ref._norm_mean.to_numpy())
    assert fit.log_likelihood == pytest.approx(ref.log_likelihood_, rel=1e-9)
    base = ref.baseline_cumulative_hazard_.iloc[:, 0]
    assert fit.cumulative_hazard(base.index.to_numpy()) == pytest.approx(base.to_numpy(), rel=1e-5, abs=1e-9)
    warm = fit_cox(x, t, e, w, start=fit.params)
    assert warm.steps <= 2 and warm.params == pytest.approx(fit.params, abs=1e-8)


def test_separation_does_not_converge() -> None:
    x, t, e = cohort(300, 5)
    marker = np.where(e == 1, t, t + 1000.0)[:, None] * -1.0  # ranks the events exactly
    fit = fit_cox(np.column_stack([x[:, :1], marker]), t, e)
    assert not fit.converged or np.abs(fit.params).max() > 15


def test_harrell_c_matches_lifelines_with_ties_and_weights() -> None:
    rng = np.random.default_rng(6)
    for n in (5, 60, 2000):
        t = np.round(rng.exponential(10, n))
        lp = np.round(rng.normal(size=n), 1)
        e = rng.integers(0, 2, n)
        e[0] = 1
        assert harrell_c(t, lp, e) == pytest.approx(concordance_index(t, -lp, e), abs=1e-12)
        reps = rng.integers(1, 4, n)
        expect = concordance_index(np.repeat(t, reps), -np.repeat(lp, reps), np.repeat(e, reps))
        assert harrell_c(t, lp, e, reps.astype(float)) == pytest.approx(expect, abs=1e-12)
