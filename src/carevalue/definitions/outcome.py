"""Outcome measures of a condition (Porter's hierarchy, ICHOM standard sets): tier, level, time points.

Tier 1 is health status achieved (level 1 survival, level 2 degree of health or recovery), tier 2 the
process of recovery (level 3 time to recovery, level 4 disutility of care), tier 3 sustainability
(level 5 sustainability of health, level 6 long-term consequences of therapy).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from carevalue.definitions.base import CodeGroup, Part
from carevalue.definitions.casemix import CaseMixVariable as CaseMixVariable  # re-exported

TIER_LEVELS = {1: (1, 2), 2: (3, 4), 3: (5, 6)}
Source = Literal["prom", "clinical", "administrative", "survival", "lab"]
Calculation = Literal["survival", "mortality", "prom-score", "latest-value", "event", "length-of-stay",
                      "readmission", "encounters", "time-from-diagnosis", "composite-event"]
# How the engine derives a measure when `calculation` is not given (administrative measures must say).
DEFAULT_CALCULATION: dict[str, str] = {"prom": "prom-score", "lab": "latest-value"}


class TimePoint(Part):
    """When a measure is taken, in days relative to the cycle's index event (trigger)."""

    label: str = Field(description="e.g. 'baseline', '6 months', '1 year'.")
    day: int = Field(description="Days after the index event (negative = before).")
    window_days: int = Field(default=30, ge=0, description="Accepted distance from `day`, either side.")


class OutcomeComponent(Part):
    """One event of a composite measure with its own window (e.g. CMS: pneumonia within 7 days)."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    within_days: int = Field(ge=0, description="Counted when first recorded within this many days after the index.")
    value_set: str | None = Field(default=None, description="Id of a value set (content/value-sets) with the codes.")
    codes: list[CodeGroup] = Field(default_factory=list, description="Codes inline, instead of a value set.")
    death: bool = Field(default=False, description="Death from any cause (patients.death_date) counts.")
    encounter_classes: list[str] = Field(default_factory=list, description="Only codes on encounters of these classes (code or reason) count; empty = any coded record.")
    source: str = Field(min_length=1, description="Where the component and its window are specified.")

    @model_validator(mode="after")
    def _one_evidence(self) -> OutcomeComponent:
        if self.death == bool(self.value_set or self.codes):
            raise ValueError(f"component {self.id}: give codes or a value_set, or death: true (not both)")
        return self


class OutcomeExclusion(Part):
    """Cycles left out of a measure when a code is recorded from `from_day` to `to_day` of the index."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    value_set: str | None = None
    codes: list[CodeGroup] = Field(default_factory=list)
    from_day: int = Field(default=0, description="First day (relative to the index, may be negative).")
    to_day: int = Field(default=0, description="Last day (relative to the index).")
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _has_codes(self) -> OutcomeExclusion:
        if not (self.value_set or self.codes):
            raise ValueError(f"exclusion {self.id}: give codes or a value_set")
        if self.to_day < self.from_day:
            raise ValueError(f"exclusion {self.id}: to_day before from_day")
        return self


class OutcomeMeasure(Part):
    """One measure of the outcome set. A condition has several; never one number."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    tier: Literal[1, 2, 3]
    level: Literal[1, 2, 3, 4, 5, 6] = Field(description="Porter's level within the tier (1-2, 3-4, 5-6).")
    definition: str = Field(description="What is counted, for whom, in words a clinician checks.")
    source: Source
    instrument: str | None = Field(default=None, description="PROM instrument id (content/instruments).")
    codes: list[CodeGroup] = Field(default_factory=list, description="Codes that evidence it (LOINC, SNOMED CT).")
    code_set: str | None = Field(default=None, description="Name of a template code set that evidences it.")
    direction: Literal["higher-better", "lower-better"] = "higher-better"
    time_points: list[TimePoint] = Field(min_length=1)
    case_mix: list[str] = Field(default_factory=list, description="Ids of the template's case-mix variables.")
    calculation: Calculation | None = Field(default=None, description=(
        "How the value is derived per care cycle (docs/outcomes.md): survival (1 = alive at the time point), "
        "mortality (1 = died by it), prom-score, latest-value (observation by codes/code_set nearest the "
        "time point), event (first record in code_set/codes after the index), length-of-stay (index "
        "inpatient stay), readmission (inpatient encounter within `day` days of discharge), encounters "
        "(encounter of encounter_classes, matching code_set if given), time-from-diagnosis, composite-event "
        "(any of `components`, each within its own window). Default from "
        "source: survival -> survival/mortality by direction, prom -> prom-score, lab -> latest-value, "
        "clinical -> event with a code_set, else latest-value; administrative measures must name one."))
    scales: list[str] = Field(default_factory=list, description="PROM scales reported (instrument scale ids); empty = all.")
    encounter_classes: list[str] = Field(default_factory=list, description="readmission/encounters/length-of-stay: encounter classes counted (default IMP; encounters: IMP and EMER).")
    components: list[OutcomeComponent] = Field(default_factory=list, description="composite-event: the events counted, each with its own window; the cycle has the outcome if any happens.")
    exclusions: list[OutcomeExclusion] = Field(default_factory=list, description="Cycles left out of this measure (a code recorded in a window around the index).")
    standard: str | None = Field(default=None, description="The published measure this one implements, if any (then components and exclusions follow it).")

    def resolved_calculation(self) -> str:
        """The calculation the engine applies (explicit, or the default for the source)."""
        if self.calculation:
            return self.calculation
        if self.source == "survival":
            return "mortality" if self.direction == "lower-better" else "survival"
        if self.source == "clinical":
            return "event" if self.code_set else "latest-value"
        return DEFAULT_CALCULATION[self.source]

    @model_validator(mode="after")
    def _level_in_tier(self) -> OutcomeMeasure:
        allowed = TIER_LEVELS[self.tier]
        if self.level not in allowed:
            raise ValueError(f"level {self.level} is not in tier {self.tier}; allowed levels: {allowed}")
        if self.source == "prom" and not self.instrument:
            raise ValueError("a PROM measure names its instrument id")
        if self.source == "administrative" and not self.calculation:
            raise ValueError("an administrative measure names its calculation; allowed: "
                             "length-of-stay, readmission, encounters, time-from-diagnosis, event")
        if self.calculation == "composite-event":
            if not self.components:
                raise ValueError("a composite-event measure lists its components")
            longest = max(c.within_days for c in self.components)
            if any(tp.day < longest for tp in self.time_points):
                raise ValueError(f"composite-event time points must reach the longest window ({longest} days)")
        elif self.components:
            raise ValueError("components are only for calculation: composite-event")
        return self
