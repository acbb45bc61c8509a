"""Plausibility rules (as OHDSI's Data Quality Dashboard checks): implausible dates are flagged
with a reason after ingest and, when the rule says ``exclude``, no stage counts the record."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from carevalue.definitions.base import Definition, Part, register_kind

Check = Literal["birth-in-future", "birth-before", "before-birth", "after-death"]


class PlausibilityCheck(Part):
    """One check; the engine knows each ``check`` kind, content sets its tables, tolerance and action."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", description="Rule id, shown with every violation.")
    check: Check = Field(description="birth-in-future | birth-before (a date) | before-birth | after-death.")
    tables: list[str] = Field(default_factory=list,
                              description="Event tables checked (before-birth, after-death).")
    days: int = Field(default=0, ge=0, description="Tolerance in days (after-death: records up to this "
                                                   "many days after death are plausible).")
    date: dt.date | None = Field(default=None, description="birth-before: births before this date are implausible.")
    action: Literal["exclude", "flag"] = Field(description="exclude: stored but never counted; flag: counted, reported.")
    reason: str = Field(description="The reason a person reads, e.g. 'event before birth'.")
    source: str = Field(description="The data-quality check this follows.")

    @model_validator(mode="after")
    def _complete(self) -> PlausibilityCheck:
        if self.check in ("before-birth", "after-death") and not self.tables:
            raise ValueError(f"{self.id}: {self.check} needs the tables it checks")
        if self.check == "birth-before" and self.date is None:
            raise ValueError(f"{self.id}: birth-before needs a date")
        return self


@register_kind("plausibility-rules")
class PlausibilityRules(Definition):
    """The checks run over the store after every ingest."""

    checks: list[PlausibilityCheck] = Field(min_length=1, description="The checks, each with its source.")
