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

    ``value_cols`` defaults to every numeric column. Masking is done by the engine's
    ``privacy.suppress_small_cells`` when present (one rule for every published table); a count
    of 0 is passed to it as "no count", since it describes no one. The result is for display.
    """
    out = df.copy()
    if df.empty or count_col not in df.columns:
        return out
    cols = list(value_cols) if value_cols is not None else [
        c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and df[c].dtype != bool]
    cols = [c for c in cols if c != count_col and c in df.columns]
    mark = f"<{threshold}"
    counts = pd.to_numeric(df[count_col], errors="coerce")
    key = "__suppression_count"
    try:
        from carevalue.engine.privacy import suppress_small_cells as engine_rule
    except ImportError:
        small = is_small(counts, threshold)
    else:
        probe = pd.DataFrame({key: counts.where(counts != 0)}, index=df.index)
        small = engine_rule(probe, key, [], threshold)[key].astype(str) == mark
    for c in [*cols, count_col]:
        out[c] = out[c].astype(object)
        out.loc[small, c] = mark
    return out


def keep_large(df: pd.DataFrame, count_col: str = "patients", threshold: int = THRESHOLD) -> pd.DataFrame:
    """Rows safe to plot: those not describing 1..threshold-1 patients."""
    if df.empty or count_col not in df.columns:
        return df
    return df[~is_small(df[count_col], threshold)]
