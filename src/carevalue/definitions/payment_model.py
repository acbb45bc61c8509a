"""Payment models other than bundles, as content (F16, F17): time-based payments (per segment per
member per month, or per chronic condition per period) and CMS episode models (TEAM, CJR) with
their target-price and reconciliation rules. Every figure carries a ``source``; figures that could
not be checked against the regulation text are listed in ``unverified``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from carevalue.definitions.base import Definition, Part, register_kind

_ID = r"^[a-z0-9][a-z0-9\-]*$"


class TimeRate(Part):
    applies_to: str = Field(description="Segment id (basis: segment) or condition id (basis: condition).")
    amount: float = Field(ge=0)
    per: Literal["month", "year"] = "month"

    @property
    def per_year(self) -> float:
        return self.amount * 12 if self.per == "month" else self.amount


class Outlier(Part):
    """Payer shares a patient's cost above a yearly threshold (protects the practice from outliers)."""

    threshold_per_year: float = Field(gt=0)
    payer_share: float = Field(ge=0, le=1)


@register_kind("time-based-payments")
class TimeBasedPayment(Definition):
    basis: Literal["segment", "condition"]
    rates: list[TimeRate] = Field(min_length=1)
    risk_adjustment: Literal["none", "cms-hcc"] = Field(
        default="none", description="Multiply each patient's rate by their CMS-HCC score / the panel mean.")
    outlier: Outlier | None = None
    source: str = Field(min_length=1)
    unverified: list[str] = Field(default_factory=list)

    def rate_per_year(self) -> dict[str, float]:
        return {r.applies_to: r.per_year for r in self.rates}

    def references(self) -> list[tuple[str, str, str]]:
        kind = "segments" if self.basis == "segment" else "conditions"
        return [(kind, r.applies_to, f"rates.{i}") for i, r in enumerate(self.rates)]


class EpisodeCategory(Part):
    id: str = Field(pattern=_ID)
    title: str
    ms_drgs: list[str] = Field(default_factory=list, description="MS-DRGs that anchor the episode.")
    conditions: list[str] = Field(default_factory=list,
                                  description="carevalue condition templates whose cycles stand for this category.")
    discount: float = Field(ge=0, lt=1, description="Discount applied to the benchmark price, a fraction.")


class Track(Part):
    id: str = Field(pattern=_ID)
    title: str
    stop_gain: float = Field(ge=0, le=1, description="Cap on a reconciliation payment, fraction of target.")
    stop_loss: float = Field(ge=0, le=1, description="Cap on a repayment, fraction of target (0 = upside only).")
    quality_gain_reduction: float = Field(
        default=0.0, ge=0, le=1, description="Most a positive amount is reduced for low quality (fraction).")
    quality_loss_reduction: float = Field(
        default=0.0, ge=0, le=1, description="Most a repayment is reduced for high quality (fraction).")


@register_kind("episode-models")
class EpisodeModel(Definition):
    anchor: str = Field(description="What starts the episode, in words.")
    post_anchor_days: int = Field(gt=0, description="Days after the anchor the episode lasts.")
    categories: list[EpisodeCategory] = Field(min_length=1)
    baseline_weights: list[float] = Field(
        min_length=1, description="Weights of the baseline years, oldest first (renormalised over the years present).")
    hospital_blend: float = Field(ge=0, le=1, description="Share of the target from the hospital's own baseline; the rest is regional.")
    tracks: list[Track] = Field(min_length=1)
    source: str = Field(min_length=1)
    unverified: list[str] = Field(default_factory=list,
                                  description="Figures not checked against the regulation text.")

    @model_validator(mode="after")
    def _weights(self) -> EpisodeModel:
        if abs(sum(self.baseline_weights) - 1.0) > 0.011:
            raise ValueError(f"baseline_weights must sum to 1, not {sum(self.baseline_weights)}")
        return self

    def track(self, track_id: str) -> Track:
        for t in self.tracks:
            if t.id == track_id:
                return t
        raise KeyError(f"{self.id}: unknown track {track_id!r}; known: {[t.id for t in self.tracks]}")

    def category_of(self, condition: str) -> EpisodeCategory | None:
        return next((c for c in self.categories if condition in c.conditions), None)

    def references(self) -> list[tuple[str, str, str]]:
        return [("conditions", c, f"categories.{i}.conditions")
                for i, cat in enumerate(self.categories) for c in cat.conditions]
