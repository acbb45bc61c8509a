"""The fit sample of a case-mix model: at most FIT_SAMPLE rows, the same ones whatever order the
backend returned them in.

A model's coefficients settle long before a million rows (their standard errors shrink as
1/sqrt(n)), while fit and cross-validation cost grows with n, so every comparison fits on at most
FIT_SAMPLE complete rows and scores expected values on all of them (docs/risk-adjustment.md, "Fit
sample"). The rows kept are those with the smallest hash of their values under a seeded key: a
random sample that does not depend on row order (identical rows are interchangeable), so a run is
reproducible on DuckDB and Spark alike, and another seed draws another sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FIT_SAMPLE = 50_000


def _hash_key(seed: int) -> str:
    return f"carevalue{seed:07d}"[-16:].rjust(16, "0")


def fit_rows(frame: pd.DataFrame, cap: int | None = FIT_SAMPLE, seed: int = 0) -> pd.DataFrame:
    """``frame`` itself when it has at most ``cap`` rows (None: no cap), else ``cap`` of its rows
    chosen by the seeded hash of their values, in their original order."""
    if cap is None or len(frame) <= cap:
        return frame
    h = pd.util.hash_pandas_object(frame, index=False, hash_key=_hash_key(seed)).to_numpy()
    keep = np.sort(np.argsort(h, kind="mergesort")[:cap])
    return frame.iloc[keep]
