"""Observation-period rule (as OMOP has them): from which records the spans in which the data can
see a patient are built, and the gap that splits them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from carevalue.definitions.base import Definition, register_kind

ObservedBy = Literal["encounters", "claims"]


@register_kind("observation-periods")
class ObservationPeriodRule(Definition):
    """Records of ``sources`` closer than ``collapse_days`` form one period, which ends
    ``persistence_days`` after its last record (never after death + ``death_days`` nor the data end)."""

    sources: list[ObservedBy] = Field(min_length=1, description="Tables whose records show the patient is observed.")
    collapse_days: int = Field(ge=0, description="Records at most this many days apart belong to one period.")
    persistence_days: int = Field(ge=0, description="A period lasts this many days after its last record.")
    death_days: int = Field(default=0, ge=0, description="A period ends at most this many days after death.")
    source: str = Field(description="Where the rule and its numbers come from.")

    @model_validator(mode="after")
    def _no_overlap(self) -> ObservationPeriodRule:
        if self.persistence_days > self.collapse_days:
            raise ValueError("persistence_days must not exceed collapse_days, or periods would overlap")
        return self
