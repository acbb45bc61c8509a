"""Bundled prices (F15): one price for a condition's full care cycle, its components, warranty and
eligibility. The Stockholm hip/knee bundle is the reference example."""

from __future__ import annotations

from pydantic import Field

from carevalue.definitions.base import CodeGroup, Definition, Part, register_kind
from carevalue.definitions.condition import Phase


class BundleComponent(Part):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    phase: Phase | None = Field(default=None, description="Value-chain phase the component belongs to.")
    limit: str = Field(default="", description="Limit in words, e.g. 'up to 6 days'.")
    max_days: int | None = Field(default=None, ge=0)
    max_count: int | None = Field(default=None, ge=0)
    within_days: int | None = Field(default=None, ge=0, description="Covered within this many days of the index event.")


class Warranty(Part):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    covers: str
    years: float = Field(gt=0)
    extended_years: float | None = Field(default=None, gt=0)
    extended_when: str = ""
    extension_codes: list[CodeGroup] = Field(default_factory=list)


class Eligibility(Part):
    asa_max: int | None = Field(default=None, ge=1, le=6, description="Highest ASA physical status class.")
    age_min: int | None = None
    age_max: int | None = None
    exclusions: list[CodeGroup] = Field(default_factory=list)
    note: str = ""


@register_kind("bundles")
class Bundle(Definition):
    conditions: list[str] = Field(min_length=1, description="Condition template ids the bundle prices.")
    reference_price: float = Field(gt=0)
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    price_year: int | None = None
    components: list[BundleComponent] = Field(min_length=1)
    warranties: list[Warranty] = Field(default_factory=list)
    eligibility: Eligibility = Field(default_factory=Eligibility)
    source: str = ""

    def references(self) -> list[tuple[str, str, str]]:
        return [("conditions", c, f"conditions.{i}") for i, c in enumerate(self.conditions)]
