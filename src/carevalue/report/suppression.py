"""Small-cell suppression: no shown number may describe fewer than 11 patients.

A row whose patient count is between 1 and ``threshold - 1`` has its count and every value
column replaced by the text ``<11`` (the CMS cell-size rule); figures drop such rows entirely.
Rows without a patient count (resource- or file-level facts) are left as they are.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

THRESHOLD = 11
MARK = f"<{THRESHOLD}"


def is_small(counts: pd.Series, threshold: int = THRESHOLD) -> pd.Series:
    """True where a count describes 1..threshold-1 patients (0 and missing describe no one)."""
    c = pd.to_numeric(counts, errors="coerce")
    return (c > 0) & (c < threshold)


def suppress_small_cells(df: pd.DataFrame, count_col: str = "patients",
                         value_cols: Sequence[str] | None = None,
                         threshold: int = THRESHOLD) -> pd.DataFrame:
    """A copy of ``df`` with the count and value columns of small rows replaced by ``<11``.

    ``value_cols`` defaults to every numeric column (including the count columns). The result is
    for display: suppressed columns become object dtype.
    """
    out = df.copy()
    if df.empty or count_col not in df.columns:
        return out
    small = is_small(df[count_col], threshold)
    cols = list(value_cols) if value_cols is not None else [
        c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and df[c].dtype != bool]
    if count_col not in cols:
        cols.append(count_col)
    mark = f"<{threshold}"
    for c in cols:
        out[c] = out[c].astype(object)
        out.loc[small, c] = mark
    return out


def keep_large(df: pd.DataFrame, count_col: str = "patients", threshold: int = THRESHOLD) -> pd.DataFrame:
    """Rows safe to plot: those not describing 1..threshold-1 patients."""
    if df.empty or count_col not in df.columns:
        return df
    return df[~is_small(df[count_col], threshold)]
