"""Time-based payments (F16): a fixed amount per member per period by primary-care segment or by
chronic condition, optionally scaled by the patient's CMS-HCC score and with an outlier provision."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from carevalue.definitions.payment_model import TimeBasedPayment


@dataclass(frozen=True)
class PanelLine:
    segment: str
    patients: float
    rate_per_month: float
    per_year: float


def panel_payment(shares: Mapping[str, float], rates_per_month: Mapping[str, float], panel: int,
                  months: int = 12) -> tuple[float, list[PanelLine]]:
    """Yearly payment to a practice: Σ panel × share × rate × months, one line per segment."""
    if abs(sum(shares.values()) - 1.0) > 1e-9:
        raise ValueError(f"segment shares must sum to 1, not {sum(shares.values())}")
    lines = [PanelLine(s, panel * sh, rates_per_month[s], panel * sh * rates_per_month[s] * months)
             for s, sh in shares.items()]
    return sum(line.per_year for line in lines), lines


def time_based(cycles: pd.DataFrame, defn: TimeBasedPayment) -> pd.DataFrame:
    """Per cycle: ``tb_paid`` (None where no rate applies), ``tb_risk_factor`` and ``tb_outlier``.

    Reads ``condition`` (the segment or condition id), ``months`` (period length), ``hcc_score``
    and ``ffs_paid`` (the outlier provision is on what fee-for-service would have paid)."""
    rates = defn.rate_per_year()
    base = cycles["condition"].map(rates).astype("float64") * cycles["months"] / 12.0
    factor = pd.Series(1.0, index=cycles.index)
    if defn.risk_adjustment == "cms-hcc":
        covered = base.notna() & cycles["hcc_score"].notna()
        mean = cycles.loc[covered, "hcc_score"].mean()
        if covered.any() and mean > 0:
            factor = (cycles["hcc_score"] / mean).where(covered, 1.0)
    outlier = pd.Series(0.0, index=cycles.index)
    if defn.outlier is not None:
        threshold = defn.outlier.threshold_per_year * cycles["months"] / 12.0
        over = (cycles["ffs_paid"] - threshold).clip(lower=0.0)
        outlier = (defn.outlier.payer_share * over).where(base.notna(), 0.0)
    paid = base * factor + outlier
    return pd.DataFrame({"tb_paid": paid, "tb_risk_factor": factor.where(base.notna()),
                         "tb_outlier": outlier}, index=cycles.index)
