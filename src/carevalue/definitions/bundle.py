"""Bundled prices (F15): one price for a condition's full care cycle, what it includes, what it
excludes, who is eligible and the warranty on the result. Content names code sets of the priced
condition's template (``code_sets``), never the engine."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from carevalue.definitions.base import CodeGroup, Definition, Part, register_kind
from carevalue.definitions.condition import Phase

_ID = r"^[a-z0-9][a-z0-9\-]*$"


class Trigger(Part):
    """What starts the bundle: an event of the condition's cycle matching one of its code sets."""

    code_sets: list[str] = Field(min_length=1, description="Code sets of the condition template that start the bundle.")
    days_before: int = Field(default=0, ge=0, description="Days before the trigger the bundle covers.")
    days_after: int = Field(ge=0, description="Days after the trigger the bundle covers (the episode window).")


class BundleComponent(Part):
    id: str = Field(pattern=_ID)
    title: str
    phase: Phase | None = Field(default=None, description="Value-chain phase the component belongs to.")
    limit: str = Field(default="", description="Limit in words, e.g. 'up to 6 days'.")
    max_days: int | None = Field(default=None, ge=0)
    max_count: int | None = Field(default=None, ge=0)
    within_days: int | None = Field(default=None, ge=0, description="Covered within this many days of the index event.")


class Exclusion(Part):
    """Care outside the bundle even inside its window, e.g. unrelated trauma: paid separately."""

    id: str = Field(pattern=_ID)
    title: str
    codes: list[CodeGroup] = Field(min_length=1)
    note: str = ""


class Warranty(Part):
    id: str = Field(pattern=_ID)
    title: str
    covers: str
    code_sets: list[str] = Field(default_factory=list,
                                 description="Code sets of the condition whose events the warranty covers (e.g. revision).")
    years: float = Field(gt=0)
    extended_years: float | None = Field(default=None, gt=0)
    extended_when: str = ""
    extension_codes: list[CodeGroup] = Field(default_factory=list)

    def covered_days(self, extended: bool) -> int:
        """Days after the trigger during which a covered event is the provider's to pay."""
        years = self.extended_years if extended and self.extended_years else self.years
        return int(round(years * 365.25))


class Eligibility(Part):
    asa_max: int | None = Field(default=None, ge=1, le=6, description="Highest ASA physical status class.")
    asa_variable: str | None = Field(
        default=None, description="Case-mix variable of the condition template that carries the ASA class.")
    age_min: int | None = None
    age_max: int | None = None
    exclusions: list[CodeGroup] = Field(default_factory=list)
    note: str = ""


class PricingTerms(Part):
    """How the bundle price is proposed from cost: expected cost + warranty reserve + margin."""

    margin: float = Field(default=0.05, ge=-0.5, le=1.0, description="Margin over expected cost, a fraction.")
    risk_adjusted: bool = Field(default=True, description="Adjust each patient's price by expected/average cost.")
    stop_loss_threshold: float | None = Field(
        default=None, gt=0, description="Cycle cost above which the payer shares the excess (outlier provision).")
    stop_loss_share: float = Field(default=0.8, ge=0, le=1, description="Payer's share of cost above the threshold.")
    complication_measure: str | None = Field(
        default=None, description="Outcome measure of the condition template counting complications (sensitivity, quality).")


class PromTarget(Part):
    """The improvement a patient of one condition must reach on one instrument scale."""

    condition: str = Field(description="Condition template id.")
    instrument: str = Field(description="Instrument id (content/instruments).")
    scale: str = "score"
    threshold: float = Field(gt=0, description="Improvement (follow-up − baseline score) that counts as reached.")
    source: str = ""


class PromContingent(Part):
    """Part of the price paid by the share of the provider's patients reaching a clinically important
    PROM improvement: a withhold earned back in proportion to share / target_share (up to all of it),
    plus a bonus growing to ``bonus`` × price as the share goes from target_share to 100%."""

    active: bool = Field(default=False, description="Applied by default (else only on request, e.g. carevalue payment --prom-contingent).")
    withhold: float = Field(ge=0, le=1, description="Fraction of each eligible cycle's price at stake.")
    target_share: float = Field(gt=0, le=1, description="Share of patients reaching the threshold that earns the full withhold back.")
    bonus: float = Field(default=0.0, ge=0, le=1, description="Extra fraction of the price when every patient reaches it.")
    baseline_days: tuple[int, int] = Field(default=(-90, 0), description="Window of the baseline score (days from the index).")
    follow_up_days: tuple[int, int] = Field(default=(270, 365), description="Window of the follow-up score.")
    missing: Literal["not-reached", "excluded"] = Field(
        default="not-reached", description="A patient without both scores counts as not reaching, or is left out of the share.")
    min_measured: int = Field(default=11, ge=1, description="Fewer measured patients: the term is not applied (withhold paid).")
    targets: list[PromTarget] = Field(min_length=1)
    source: str = Field(min_length=1)


class ComplicationCare(Part):
    """Which care of a cycle is complication care: encounters after the index day (within a window)
    carrying a diagnosis or procedure of these code sets of the condition template (e.g. SSI, DVT,
    PE, dislocation; revision). The engine reads it for PAC allowances and the margin split."""

    code_sets: list[str] = Field(min_length=1, description="Code sets of the template (diagnoses or procedures).")
    source: str = Field(min_length=1)


class ComplicationAllowance(Part):
    """An alternative price for the bundle's eligible cycles built from complication care:
    price = (mean cost of typical care + ``allowance_share`` × mean cost of complication care within
    ``window_days``) × (1 + margin) × the patient's risk factor. Complication care inside the window is
    in the price; care after it is paid fee-for-service (no longer warranty), with the bundle's
    stop-loss only when ``stop_loss``. PROMETHEUS-style (PAC allowance) and ProvenCare-style
    (fixed price with 90-day complication care) policies are two settings of it."""

    title: str
    allowance_share: float = Field(ge=0, le=1, description="Share of the mean complication-care cost paid as an allowance.")
    window_days: int | None = Field(default=None, ge=1, description="Days after the index date the price covers (None: the bundle's window).")
    margin: float | None = Field(default=None, ge=-0.5, le=1.0, description="Margin over typical cost (None: the bundle's margin).")
    stop_loss: bool = Field(default=False, description="Apply the bundle's stop-loss (outlier) terms.")
    source: str = Field(min_length=1)


@register_kind("bundles")
class Bundle(Definition):
    conditions: list[str] = Field(min_length=1, description="Condition template ids the bundle prices.")
    reference_price: float | None = Field(
        default=None, gt=0, description="Published price, when one is public; else the price is proposed from cost.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    price_year: int | None = None
    trigger: Trigger | None = None
    components: list[BundleComponent] = Field(min_length=1)
    exclusions: list[Exclusion] = Field(default_factory=list)
    warranties: list[Warranty] = Field(default_factory=list)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    pricing: PricingTerms = Field(default_factory=PricingTerms)
    prom_contingent: PromContingent | None = None
    complication_care: ComplicationCare | None = None
    pac_allowance: ComplicationAllowance | None = Field(
        default=None, description="PROMETHEUS-style Evidence-informed Case Rate: typical cost + an allowance for potentially avoidable complications.")
    warranty_price: ComplicationAllowance | None = Field(
        default=None, description="Geisinger ProvenCare-style price: fixed fee including complication care for a period.")
    source: str = Field(min_length=1, description="Where the bundle's terms and price come from.")

    @model_validator(mode="after")
    def _unique_ids(self) -> Bundle:
        for label, ids in (("components", [c.id for c in self.components]),
                           ("warranties", [w.id for w in self.warranties]),
                           ("exclusions", [e.id for e in self.exclusions])):
            dup = {i for i in ids if ids.count(i) > 1}
            if dup:
                raise ValueError(f"{label}: duplicate ids {sorted(dup)}")
        if (self.pac_allowance or self.warranty_price) and self.complication_care is None:
            raise ValueError("pac_allowance / warranty_price need complication_care (which care is complication care)")
        return self

    @property
    def window_days(self) -> int:
        """Days after the trigger the bundle pays for (the cycle's own span when no trigger is given)."""
        return self.trigger.days_after if self.trigger else 365

    def references(self) -> list[tuple[str, str, str]]:
        return [("conditions", c, f"conditions.{i}") for i, c in enumerate(self.conditions)]
