"""Primary-care segments (Porter, Pabo & Lee 2013): rules in data, evaluated at a date, first match wins.

A rule is one of: ``any``/``all`` of rules, ``not``, an age threshold, active conditions in a value
set (count of distinct codes), encounters of given classes in a look-back window, procedures in a
look-back window, the latest observation's value, or ``always``.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from carevalue.definitions.base import Definition, Part, register_kind


class ActiveConditions(Part):
    """At least ``at_least`` distinct codes of ``value_set`` active at the date."""

    value_set: str
    at_least: int = Field(default=1, ge=1)


class RecentEncounters(Part):
    """At least ``at_least`` encounters of these classes in the ``within_days`` before the date."""

    class_codes: list[str] = Field(min_length=1)
    within_days: int = Field(default=365, gt=0)
    at_least: int = Field(default=1, ge=1)


class RecentProcedures(Part):
    """A procedure in ``value_set`` in the ``within_days`` before the date."""

    value_set: str
    within_days: int = Field(default=365, gt=0)
    at_least: int = Field(default=1, ge=1)


class LatestObservation(Part):
    """The latest observation with a code in ``value_set`` on or before the date has this value."""

    value_set: str
    value_codes: list[str] = Field(default_factory=list, description="Coded value is one of these.")
    value_at_least: float | None = None

    @model_validator(mode="after")
    def _one_test(self) -> LatestObservation:
        if bool(self.value_codes) == (self.value_at_least is not None):
            raise ValueError("give exactly one of value_codes, value_at_least")
        return self


class Rule(Part):
    """Exactly one of the fields is given."""

    any: list[Rule] | None = None
    all: list[Rule] | None = None
    not_: Rule | None = Field(default=None, alias="not")
    age_at_least: int | None = Field(default=None, ge=0)
    active: ActiveConditions | None = None
    encounters: RecentEncounters | None = None
    procedures: RecentProcedures | None = None
    observation: LatestObservation | None = None
    always: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Rule:
        given = [k for k in type(self).model_fields if getattr(self, k) is not None]
        if len(given) != 1:
            allowed = "any, all, not, age_at_least, active, encounters, procedures, observation, always"
            raise ValueError(f"a rule has exactly one of: {allowed}; got {given or 'none'}")
        return self

    def value_sets(self) -> list[str]:
        out: list[str] = []
        for sub in (self.any or []) + (self.all or []) + ([self.not_] if self.not_ else []):
            out += sub.value_sets()
        for leaf in (self.active, self.procedures, self.observation):
            if leaf is not None:
                out.append(leaf.value_set)
        return out


@register_kind("segments")
class Segment(Definition):
    """A primary-care patient segment."""

    priority: int = Field(ge=1, description="Evaluation order; the first segment whose rule holds wins.")
    rule: Rule
    pmpm_reference: float | None = Field(default=None, description="Reference per-member-per-month payment (F16).")
    care_team: str = Field(default="", description="Who serves the segment.")
    source: str = Field(default="", description=(
        "Where the rule's thresholds and the PMPM reference come from (citation or 'assumption: ...')."))

    def references(self) -> list[tuple[str, str, str]]:
        return [("value-sets", v, "rule") for v in self.rule.value_sets()]
