"""CMS episode models (TEAM, CJR) made executable: a target price from a weighted baseline, the
discount, the hospital/regional blend and a case-mix adjustment; reconciliation of actual episode
spending against the target with the track's quality adjustment and stop-gain/stop-loss limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from carevalue.definitions.payment_model import Track


def weighted_baseline(mean_by_year: Mapping[int, float], weights: Sequence[float]) -> float:
    """Weighted mean of the yearly baseline spending, the most recent year getting the last weight.

    With fewer years than weights, the most recent weights are used, renormalised to sum to 1."""
    if not mean_by_year:
        raise ValueError("no baseline years")
    years = sorted(mean_by_year)[-len(weights):]
    w = list(weights)[-len(years):]
    total = sum(w)
    return sum(mean_by_year[y] * wi / total for y, wi in zip(years, w, strict=True))


def target_price(hospital_baseline: float | None, regional_baseline: float, hospital_blend: float,
                 discount: float, case_mix_factor: float = 1.0) -> float:
    """(blend × hospital + (1 − blend) × regional) × (1 − discount) × case-mix factor.

    A hospital without its own baseline gets the regional price."""
    blend = hospital_blend if hospital_baseline is not None else 0.0
    own = hospital_baseline if hospital_baseline is not None else 0.0
    return (blend * own + (1 - blend) * regional_baseline) * (1 - discount) * case_mix_factor


@dataclass(frozen=True)
class Reconciliation:
    target: float
    spending: float
    raw: float            # target − spending (positive = savings)
    quality_adjusted: float
    capped: float         # the amount paid (+) or repaid (−) after the stop-gain / stop-loss limit
    limit_applied: str    # "", "stop-gain", "stop-loss"


def reconcile(target: float, spending: float, track: Track, quality: float) -> Reconciliation:
    """Reconcile one hospital's episodes: raw = target − spending; the quality score (0-1, higher is
    better) cuts a gain by up to ``quality_gain_reduction`` × (1 − quality) and a repayment by up to
    ``quality_loss_reduction`` × quality; the result is held within [−stop_loss, +stop_gain] × target."""
    if not 0.0 <= quality <= 1.0:
        raise ValueError(f"quality score must be within 0-1, not {quality}")
    raw = target - spending
    if raw >= 0:
        adjusted = raw * (1 - track.quality_gain_reduction * (1 - quality))
    else:
        adjusted = raw * (1 - track.quality_loss_reduction * quality)
    gain_cap, loss_cap = track.stop_gain * target, track.stop_loss * target
    if adjusted > gain_cap:
        return Reconciliation(target, spending, raw, adjusted, gain_cap, "stop-gain")
    if adjusted < -loss_cap:
        return Reconciliation(target, spending, raw, adjusted, -loss_cap, "stop-loss")
    return Reconciliation(target, spending, raw, adjusted, adjusted, "")
