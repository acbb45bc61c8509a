"""Small-cell suppression for any table published per provider: a row describing fewer than
``threshold`` patients shows '<11' instead of its count and hides the numbers derived from it
(the CMS cell-size rule: no cell of 1-10 patients is shown)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

THRESHOLD = 11
SUPPRESSED = "suppressed"


def suppress_small_cells(frame: pd.DataFrame, count_col: str, cols_to_mask: Sequence[str],
                         threshold: int = THRESHOLD) -> pd.DataFrame:
    """Copy of ``frame`` where rows with ``count_col`` < threshold show f'<{threshold}' as the
    count and None in ``cols_to_mask``; rows with no count (status rows) are left as they are."""
    out = frame.copy()
    if out.empty or count_col not in out.columns:
        return out
    counts = pd.to_numeric(out[count_col], errors="coerce")
    small = counts.notna() & (counts < threshold)
    out[count_col] = out[count_col].astype(object)
    out.loc[small, count_col] = f"<{threshold}"
    for col in cols_to_mask:
        if col in out.columns:
            out[col] = out[col].astype(object)
            out.loc[small, col] = None
    return out
