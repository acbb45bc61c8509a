"""Bundle pricing (F15): proposed price = expected TDABC cost of the included services (risk-adjusted
per patient) + a warranty reserve (expected cost of covered events beyond the bundle window) + a
margin, with the distribution behind it and what a provider's complication rate moving by x% does."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from carevalue.definitions.bundle import Bundle

PERCENTILES = (10, 25, 50, 75, 90)
MIN_CYCLES = 11  # fewer eligible cycles than this: the price is "not estimable"


@dataclass(frozen=True)
class Price:
    bundle: str
    cycles: int
    expected_included_cost: float | None
    warranty_reserve: float | None
    margin: float
    proposed_price: float | None
    reference_price: float | None
    percentiles: dict[int, float]
    status: str  # "ok" or why no price
    ineligible: int = 0            # cycles of the bundle's conditions paid FFS (ASA, exclusions)
    eligibility_excluded: int = 0  # of which for an eligibility-excluding diagnosis
    carved_out: int = 0            # eligible cycles with excluded care paid FFS beside the price


def risk_factor(frame: pd.DataFrame, cost: pd.Series) -> pd.Series:
    """Expected / mean expected cost from a least-squares fit of cost on ASA class and CMS-HCC score
    (missing values at the mean); 1.0 where there is too little data. Clipped to 0.5-2.0."""
    x = frame[["asa", "hcc_score"]].astype("float64")
    x = x.fillna(x.mean()).fillna(0.0)
    if len(frame) < MIN_CYCLES or cost.isna().all():
        return pd.Series(1.0, index=frame.index)
    design = np.column_stack([np.ones(len(x)), x.to_numpy()])
    coef, *_ = np.linalg.lstsq(design, cost.to_numpy(dtype="float64"), rcond=None)
    expected = design @ coef
    mean = expected.mean()
    if not np.isfinite(mean) or mean <= 0:
        return pd.Series(1.0, index=frame.index)
    return pd.Series(np.clip(expected / mean, 0.5, 2.0), index=frame.index)


def propose(bundle: Bundle, included_cost: pd.Series, reserve_cost: pd.Series,
            margin: float | None = None) -> Price:
    """Price from the eligible cycles' included-service cost and covered-event cost per cycle."""
    m = bundle.pricing.margin if margin is None else margin
    n = int(included_cost.notna().sum())
    if n < MIN_CYCLES:
        return Price(bundle.id, n, None, None, m, None, bundle.reference_price, {},
                     f"not estimable: {n} eligible cycles (< {MIN_CYCLES})")
    expected = float(included_cost.mean())
    reserve = float(reserve_cost.fillna(0.0).mean())
    total = included_cost + reserve_cost.fillna(0.0)
    pct = {p: float(np.percentile(total.dropna(), p)) for p in PERCENTILES}
    return Price(bundle.id, n, expected, reserve, m, (expected + reserve) * (1 + m),
                 bundle.reference_price, pct, "ok")


def sensitivity(per_provider: pd.DataFrame, change: float) -> pd.DataFrame:
    """Margin of each provider if its complication rate moved by ``change`` (e.g. +0.2 = 20% more).

    Reads organization_id, cycles, complications, extra_cost_per_complication, bundle_margin; under a
    fixed price every added complication is the provider's extra cost."""
    out = per_provider.copy()
    delta = change * out["complications"] * out["extra_cost_per_complication"].fillna(0.0)
    out["change"] = change
    out["bundle_margin_after"] = out["bundle_margin"] - delta
    return out[["organization_id", "cycles", "complications", "change", "bundle_margin", "bundle_margin_after"]]
