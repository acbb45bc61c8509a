"""Facility fee schedules (fee-for-service revenue the professional claims do not carry): inpatient
admissions paid by MS-DRG (base rate × relative weight) and hospital outpatient services paid by APC,
each rate with its source. The DRG rules are a small ordered grouper written as content: the first
rule whose procedure or diagnosis codes are on the admission assigns its DRG, upgraded to the
with-MCC DRG when another diagnosis on the admission is an MCC."""

from __future__ import annotations

from pydantic import Field, model_validator

from carevalue.definitions.base import CodeGroup, Definition, Part, register_kind

_ID = r"^[a-z0-9][a-z0-9\-]*$"


class DrgWeight(Part):
    drg: str = Field(pattern=r"^\d{3}$", description="MS-DRG number.")
    title: str
    weight: float = Field(gt=0, description="Relative weight (CMS IPPS Table 5).")
    source: str = ""


class DrgRule(Part):
    """Admissions with one of these procedures or diagnoses group to ``drg`` (``drg_with_mcc`` when
    another diagnosis on the admission is an MCC)."""

    id: str = Field(pattern=_ID)
    title: str
    procedure_codes: list[CodeGroup] = Field(default_factory=list)
    diagnosis_codes: list[CodeGroup] = Field(default_factory=list)
    drg: str = Field(pattern=r"^\d{3}$")
    drg_with_mcc: str | None = Field(default=None, pattern=r"^\d{3}$")

    @model_validator(mode="after")
    def _some_codes(self) -> DrgRule:
        if not self.procedure_codes and not self.diagnosis_codes:
            raise ValueError(f"DRG rule {self.id}: give procedure_codes or diagnosis_codes")
        return self


class ApcRate(Part):
    """A hospital outpatient service paid by its APC: ``payment`` per unit of a matching claim line."""

    apc: str = Field(pattern=r"^\d{4}$")
    title: str
    hcpcs: list[str] = Field(min_length=1, description="HCPCS/CPT codes on the claim line assigned to the APC.")
    payment: float = Field(gt=0, description="National unadjusted payment rate (CMS OPPS Addendum A/B).")
    classes: list[str] = Field(default_factory=lambda: ["AMB", "EMER"],
                               description="Encounter classes the rate applies to.")
    source: str = ""


@register_kind("fee-schedules")
class FeeSchedule(Definition):
    conditions: list[str] = Field(min_length=1, description="Condition templates whose cycles the schedule pays facility fees for.")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    year: int | None = None
    base_rate: float = Field(gt=0, description="Payment per unit of DRG relative weight (national, unadjusted).")
    base_rate_source: str = Field(min_length=1)
    inpatient_classes: list[str] = Field(default_factory=lambda: ["IMP"])
    drgs: list[DrgWeight] = Field(min_length=1)
    drg_rules: list[DrgRule] = Field(default_factory=list, description="Ordered: the first matching rule groups the admission.")
    fallback_drg: str = Field(pattern=r"^\d{3}$", description="DRG of an admission no rule matches.")
    mcc_codes: list[CodeGroup] = Field(default_factory=list, description="Diagnoses counted as a major complication or comorbidity.")
    apcs: list[ApcRate] = Field(default_factory=list)
    source: str = Field(min_length=1)
    unverified: list[str] = Field(default_factory=list, description="Figures not checked against the CMS tables.")

    @model_validator(mode="after")
    def _known_drgs(self) -> FeeSchedule:
        known = {d.drg for d in self.drgs}
        used = {self.fallback_drg} | {r.drg for r in self.drg_rules} | {
            r.drg_with_mcc for r in self.drg_rules if r.drg_with_mcc}
        if used - known:
            raise ValueError(f"DRGs without a weight: {sorted(used - known)}")
        return self

    def references(self) -> list[tuple[str, str, str]]:
        return [("conditions", c, f"conditions.{i}") for i, c in enumerate(self.conditions)]

    def drg_payment(self, drg: str) -> float:
        """Base rate × the DRG's relative weight."""
        return self.base_rate * next(d.weight for d in self.drgs if d.drg == drg)
