"""Minimum-volume standards (F18): published thresholds of procedures per hospital, site or surgeon
per year, with the prognosis rule of schemes that bar a provider below the minimum from the next
year. Each threshold carries its own ``source``; the engine counts care cycles of the listed
condition templates against it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from carevalue.definitions.base import Definition, Part, register_kind

Level = Literal["organization", "facility", "clinician"]


class VolumeThreshold(Part):
    """One minimum: ``minimum`` index procedures per ``level`` per calendar year, in force from/to."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    procedure: str = Field(description="The procedure as the standard names it.")
    conditions: list[str] = Field(default_factory=list, description=(
        "Condition template ids whose care cycles count as this procedure (their index events). "
        "Empty: the library has no template for it yet, so the threshold is listed but not checked."))
    level: Level = Field(description="organization (hospital), facility (site, G-BA 'Standort') or clinician.")
    minimum: int = Field(gt=0, description="Minimum number per calendar year.")
    valid_from: int | None = Field(default=None, description="First calendar year the minimum applies.")
    valid_to: int | None = Field(default=None, description="Last calendar year it applies (None = open).")
    source: str = Field(min_length=5, description="Where the figure is published (document, URL).")
    note: str = ""

    @model_validator(mode="after")
    def _years(self) -> VolumeThreshold:
        if self.valid_from is not None and self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self

    def applies(self, year: int) -> bool:
        return (self.valid_from is None or year >= self.valid_from) and (self.valid_to is None or year <= self.valid_to)


class PrognosisRule(Part):
    """A unit below the minimum in one year may not perform the procedure the next (G-BA § 4 Mm-R)."""

    basis: Literal["previous-year"] = "previous-year"
    rolling_quarters: bool = Field(default=False, description=(
        "The prognosis also reports the last two quarters of the counted year and the first two of the "
        "next (1 July to 30 June), shown beside the decisive calendar-year count."))
    description: str
    source: str = Field(min_length=5)


@register_kind("standards")
class VolumeStandard(Definition):
    """A published scheme of minimum volumes (Leapfrog, G-BA Mindestmengen, ...)."""

    authority: str = Field(description="Who publishes it.")
    source: str = Field(min_length=5, description="The scheme's main publication.")
    thresholds: list[VolumeThreshold] = Field(min_length=1)
    prognosis: PrognosisRule | None = Field(default=None, description="Prognosis rule, where the scheme has one.")
    period: Literal["calendar-year", "calendar-year-or-two-year-average"] = Field(
        default="calendar-year", description=(
            "What volume the minimum is compared with: the calendar year's count, or (Leapfrog) that count "
            "or the annual average of two consecutive years, whichever the unit meets."))
    period_source: str = Field(default="", description="Where the scheme states its counting period.")
    unverified: list[str] = Field(default_factory=list, description="Threshold ids whose figure could not be verified.")

    @model_validator(mode="after")
    def _ids(self) -> VolumeStandard:
        ids = [t.id for t in self.thresholds]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"threshold ids listed twice: {dup}")
        unknown = sorted(set(self.unverified) - set(ids))
        if unknown:
            raise ValueError(f"unverified names unknown thresholds {unknown}; known: {ids}")
        return self

    def references(self) -> list[tuple[str, str, str]]:
        """Condition templates the thresholds count (checked by the loader)."""
        return [("conditions", c, f"thresholds.{i}.conditions") for i, t in enumerate(self.thresholds)
                for c in t.conditions]
