"""Risk-adjusted Bernoulli CUSUM (Steiner, Cook, Farewell & Treasure, Biostatistics 2000;1:441-52)
and VLAD charts, per provider, with a simulator to choose the signalling threshold h.

Each patient in time order contributes a log-likelihood-ratio weight for "odds multiplied by
R_A" against "odds multiplied by R_0" given the patient's expected risk p:
  y=1: W = log(R_A (1 - p + R_0 p) / (R_0 (1 - p + R_A p)))
  y=0: W = log((1 - p + R_0 p) / (1 - p + R_A p))
S_t = max(0, S_{t-1} + W_t); a signal when S_t >= h, after which S restarts at 0.
R_A > 1 watches for deterioration, R_A < 1 for improvement. VLAD = cumulative sum of (p - y):
the running count of events avoided compared with expectation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CUSUM_COLUMNS = ["provider", "sequence", "outcome", "expected", "weight", "cusum", "signal",
                 "vlad"]


def cusum_weights(
    outcome: np.ndarray | Sequence[float],
    expected: np.ndarray | Sequence[float],
    odds_ratio: float = 2.0,
    null_odds_ratio: float = 1.0,
) -> np.ndarray:
    """Steiner (2000) log-likelihood-ratio scores for each patient."""
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(expected, dtype=float)
    den_a = 1 - p + odds_ratio * p
    den_0 = 1 - p + null_odds_ratio * p
    return np.where(
        y == 1,
        np.log(odds_ratio * den_0 / (null_odds_ratio * den_a)),
        np.log(den_0 / den_a),
    )


def cusum_path(weights: np.ndarray, h: float, *, reset: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Accumulate weights into the CUSUM statistic; returns (statistic, signal flags)."""
    s = np.empty(len(weights))
    signal = np.zeros(len(weights), dtype=bool)
    cur = 0.0
    for i, w in enumerate(weights):
        cur = max(0.0, cur + w)
        s[i] = cur
        if cur >= h:
            signal[i] = True
            if reset:
                cur = 0.0
    return s, signal


def bernoulli_cusum(
    outcome: np.ndarray | Sequence[float],
    expected: np.ndarray | Sequence[float],
    *,
    odds_ratio: float = 2.0,
    null_odds_ratio: float = 1.0,
    h: float = 4.5,
    reset: bool = True,
) -> pd.DataFrame:
    """CUSUM and VLAD for one provider's patients already in time order."""
    y = np.asarray(outcome, dtype=float)
    p = np.asarray(expected, dtype=float)
    w = cusum_weights(y, p, odds_ratio, null_odds_ratio)
    s, signal = cusum_path(w, h, reset=reset)
    return pd.DataFrame({"sequence": np.arange(1, len(y) + 1), "outcome": y, "expected": p,
                         "weight": w, "cusum": s, "signal": signal, "vlad": np.cumsum(p - y)})


def cusum_by_provider(
    frame: pd.DataFrame,
    provider: str,
    order_by: str,
    outcome: str,
    expected: str,
    **kwargs: float | bool,
) -> pd.DataFrame:
    """Risk-adjusted CUSUM and VLAD for every provider (patients ordered by `order_by`)."""
    data = frame[[provider, order_by, outcome, expected]].dropna()
    if data.empty:
        return pd.DataFrame(columns=[*CUSUM_COLUMNS, order_by])
    parts = []
    for key, g in data.sort_values([provider, order_by], kind="mergesort").groupby(provider,
                                                                                   sort=True):
        chart = bernoulli_cusum(g[outcome].to_numpy(), g[expected].to_numpy(), **kwargs)  # type: ignore[arg-type]
        chart.insert(0, "provider", key)
        chart[order_by] = g[order_by].to_numpy()
        parts.append(chart)
    return pd.concat(parts, ignore_index=True)


@dataclass(frozen=True)
class RunLength:
    """Simulated run lengths: mean (ARL), its standard error and how many runs hit the cap."""

    arl: float
    std_error: float
    censored: int
    n_runs: int


def simulate_run_length(
    expected: np.ndarray | Sequence[float],
    h: float,
    *,
    odds_ratio: float = 2.0,
    true_odds_ratio: float = 1.0,
    n_runs: int = 500,
    max_steps: int = 50_000,
    seed: int = 0,
) -> RunLength:
    """Average run length to a signal when patients' risks are drawn from `expected` and the
    true odds are multiplied by `true_odds_ratio` (1 = in control). Runs are simulated side by
    side; a run that has not signalled by max_steps counts as max_steps (ARL is then a lower
    bound, reported via `censored`)."""
    rng = np.random.default_rng(seed)
    pool = np.asarray(expected, dtype=float)
    s = np.zeros(n_runs)
    stopped = np.zeros(n_runs, dtype=bool)
    length = np.full(n_runs, max_steps, dtype=float)
    block = 256
    step = 0
    while step < max_steps and not stopped.all():
        p = pool[rng.integers(0, len(pool), size=(block, n_runs))]
        odds = true_odds_ratio * p / (1 - p)
        y = (rng.random((block, n_runs)) < odds / (1 + odds)).astype(float)
        w = cusum_weights(y, p, odds_ratio)
        for i in range(block):
            step += 1
            s = np.maximum(0.0, s + w[i])
            hit = (s >= h) & ~stopped
            length[hit] = step
            stopped |= hit
            if step >= max_steps:
                break
    return RunLength(arl=float(length.mean()), std_error=float(length.std(ddof=1) / np.sqrt(n_runs)),
                     censored=int((~stopped).sum()), n_runs=n_runs)


def choose_threshold(
    expected: np.ndarray | Sequence[float],
    target_arl: float,
    *,
    odds_ratio: float = 2.0,
    n_runs: int = 300,
    low: float = 0.5,
    high: float = 8.0,
    tolerance: float = 0.05,
    seed: int = 0,
) -> tuple[float, RunLength]:
    """Threshold h whose simulated in-control ARL is about `target_arl` (bisection with common
    random numbers, so ARL increases with h). Returns (h, its simulated run length)."""
    max_steps = int(target_arl * 20)
    run = simulate_run_length(expected, high, odds_ratio=odds_ratio, n_runs=n_runs,
                              max_steps=max_steps, seed=seed)
    while run.arl < target_arl:
        high *= 1.5
        run = simulate_run_length(expected, high, odds_ratio=odds_ratio, n_runs=n_runs,
                                  max_steps=max_steps, seed=seed)
    for _ in range(30):
        mid = (low + high) / 2
        run = simulate_run_length(expected, mid, odds_ratio=odds_ratio, n_runs=n_runs,
                                  max_steps=max_steps, seed=seed)
        if run.arl < target_arl:
            low = mid
        else:
            high = mid
        if high - low < tolerance:
            break
    final = simulate_run_length(expected, high, odds_ratio=odds_ratio, n_runs=n_runs,
                                max_steps=max_steps, seed=seed)
    return high, final


@dataclass(frozen=True)
class FalseAlarm:
    """Share of in-control providers (no effect) whose chart signals at least once within
    `patients` patients, at control limit `h`, with its binomial standard error."""

    rate: float
    std_error: float
    h: float
    patients: int
    odds_ratio: float
    n_runs: int

    def statement(self) -> str:
        return (f"with no provider effect, {self.rate:.1%} (± {self.std_error:.1%}) of charts signal within "
                f"{self.patients:,} patients at h = {self.h:g} (CUSUM for odds ratio {self.odds_ratio:g}; "
                f"{self.n_runs:,} simulated providers)")


def false_alarm_rate(
    expected: np.ndarray | Sequence[float],
    h: float,
    patients: int,
    *,
    odds_ratio: float = 2.0,
    n_runs: int = 2000,
    seed: int = 0,
) -> FalseAlarm:
    """Probability that an in-control provider's CUSUM signals within `patients` patients whose risks
    are drawn from `expected` (the null simulation behind any CUSUM a report shows)."""
    run = simulate_run_length(expected, h, odds_ratio=odds_ratio, n_runs=n_runs, max_steps=patients,
                              seed=seed)
    rate = 1.0 - run.censored / n_runs
    return FalseAlarm(rate, float(np.sqrt(rate * (1 - rate) / n_runs)), h, patients, odds_ratio, n_runs)
