"""Outcome measures of a condition (Porter's hierarchy, ICHOM standard sets): tier, level, time points.

Tier 1 is health status achieved (level 1 survival, level 2 degree of health or recovery), tier 2 the
process of recovery (level 3 time to recovery, level 4 disutility of care), tier 3 sustainability
(level 5 sustainability of health, level 6 long-term consequences of therapy).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from carevalue.definitions.base import CodeGroup, Part

TIER_LEVELS = {1: (1, 2), 2: (3, 4), 3: (5, 6)}
Source = Literal["prom", "clinical", "administrative", "survival", "lab"]


class TimePoint(Part):
    """When a measure is taken, in days relative to the cycle's index event (trigger)."""

    label: str = Field(description="e.g. 'baseline', '6 months', '1 year'.")
    day: int = Field(description="Days after the index event (negative = before).")
    window_days: int = Field(default=30, ge=0, description="Accepted distance from `day`, either side.")


class CaseMixVariable(Part):
    """A patient factor used to risk-adjust outcomes (ICHOM 'case-mix variables')."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    title: str
    source: str = Field(description="Where it comes from: a table.column, a code set name, or a PROM item.")


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

    @model_validator(mode="after")
    def _level_in_tier(self) -> OutcomeMeasure:
        allowed = TIER_LEVELS[self.tier]
        if self.level not in allowed:
            raise ValueError(f"level {self.level} is not in tier {self.tier}; allowed levels: {allowed}")
        if self.source == "prom" and not self.instrument:
            raise ValueError("a PROM measure names its instrument id")
        return self
