"""Condition templates: everything that defines one medical condition's care cycle, as data.

A template names its code sets, how a care cycle starts and how long it lasts, which events belong
to which phase of Porter's care delivery value chain, the informing/measuring/accessing activities
per phase, the IPU team, the outcome set with time points, the case-mix variables, and the ids of
its bundle, process map and PROM instruments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import Field, model_validator

from carevalue.definitions.base import CodeGroup, Definition, Part, register_kind
from carevalue.definitions.casemix import CaseMixVariable, ConditionCount, OnsetYears, PromScore
from carevalue.definitions.outcome import OutcomeMeasure
from carevalue.definitions.phases import PHASES as PHASES  # the one list, re-exported
from carevalue.definitions.phases import Phase

EventTable = Literal["encounters", "procedures", "conditions", "observations", "medications", "questionnaire_responses",
                     "immunizations"]
TriggerTable = Literal["procedures", "conditions", "encounters", "observations", "medications"]
REQUIRED_CODE_SETS = ("diagnosis", "comorbidities", "complications")


class DayRange(Part):
    """Days relative to the cycle's index event: from_day inclusive, to_day exclusive; None = open."""

    from_day: int | None = None
    to_day: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> DayRange:
        if self.from_day is not None and self.to_day is not None and self.to_day <= self.from_day:
            raise ValueError(f"to_day ({self.to_day}) must be greater than from_day ({self.from_day})")
        return self


class EventRule(Part):
    """Which events of one table belong to a phase. All given filters must hold."""

    table: EventTable
    code_sets: list[str] = Field(default_factory=list, description="Template code set names; the event's code (for encounters: code or reason) is in one. Empty = any code.")
    class_codes: list[str] = Field(default_factory=list, description="encounters only: v3 ActCode class (AMB, IMP, EMER, HH, VR).")
    categories: list[str] = Field(default_factory=list, description="conditions/observations category (e.g. laboratory).")
    days: DayRange | None = Field(default=None, description="Timing relative to the index event.")
    at_index_facility: bool = Field(default=False, description="Only events at the facility of the cycle's index event.")
    priority: int = Field(default=100, description="Lower wins when an event matches rules of several phases.")


class PhaseDefinition(Part):
    """One column of the care delivery value chain."""

    phase: Phase
    rules: list[EventRule] = Field(default_factory=list)
    activities: list[str] = Field(default_factory=list, description="Main clinical activities of the phase.")
    informing_engaging: list[str] = Field(default_factory=list)
    measuring: list[str] = Field(default_factory=list)
    accessing: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _items_not_split(self) -> PhaseDefinition:
        # In a YAML flow list `[a (b, c)]` the comma splits one item in two: catch it, ask for quotes.
        for name in ("activities", "informing_engaging", "measuring", "accessing"):
            for item in getattr(self, name):
                if item.count("(") != item.count(")"):
                    raise ValueError(f"{self.phase} {name}: {item!r} has unbalanced parentheses; "
                                     "a comma inside [...] splits an item, so quote it: \"a (b, c)\"")
        return self


class Trigger(Part):
    """An event that starts a care cycle (acute) or a patient's first diagnosis (chronic)."""

    table: TriggerTable
    code_set: str


class CycleDefinition(Part):
    """How cycles start and end.

    Acute: window ``days_before`` to ``days_after`` around each index event; an index event within
    ``days_after`` of the previous one extends that cycle. Chronic: rolling ``period_months``
    periods from the first diagnosis to the end of the data (or death).
    """

    kind: Literal["acute", "chronic"]
    triggers: list[Trigger] = Field(min_length=1)
    days_before: int = Field(default=90, ge=0)
    days_after: int = Field(default=365, gt=0)
    period_months: int = Field(default=12, gt=0)
    require_code_set: str | None = Field(default=None, description="Acute: the patient must have a condition in this code set with onset on or before the index event (+ require_within_days).")
    require_within_days: int = Field(default=30, ge=0)
    attribution: Literal["trigger", "most-encounters"] = Field(default="trigger", description="Facility of the cycle: where the index event happened, or where most of the cycle's encounters were.")


class TeamRole(Part):
    role: str = Field(description="Role code as used on CareTeam/PractitionerRole (surgeon, nurse, care-manager ...).")
    captain: bool = False
    note: str = ""


@register_kind("conditions")
class ConditionTemplate(Definition):
    """A medical condition and its full care cycle."""

    code_sets: dict[str, list[CodeGroup]] = Field(description=f"Named code sets; must include {', '.join(REQUIRED_CODE_SETS)}.")
    cycle: CycleDefinition
    phases: list[PhaseDefinition] = Field(min_length=1)
    ipu_roles: list[TeamRole] = Field(default_factory=list)
    outcomes: list[OutcomeMeasure] = Field(default_factory=list)
    case_mix: list[CaseMixVariable] = Field(default_factory=list)
    bundle: str | None = Field(default=None, description="Bundle id (content/bundles).")
    process_map: str | None = Field(default=None, description="Process map id (content/process_maps).")
    instruments: list[str] = Field(default_factory=list, description="PROM instrument ids (content/instruments).")
    sources: list[str] = Field(default_factory=list, description="Where the content comes from (ICHOM set, guideline).")

    @model_validator(mode="after")
    def _references_inside(self) -> ConditionTemplate:
        names = set(self.code_sets)
        missing = [n for n in REQUIRED_CODE_SETS if n not in names]
        if missing:
            raise ValueError(f"code_sets must include {missing}; present: {sorted(names)}")

        def need(name: str, where: str) -> None:
            if name not in names:
                raise ValueError(f"{where}: unknown code set {name!r}; allowed: {sorted(names)}")

        for i, t in enumerate(self.cycle.triggers):
            need(t.code_set, f"cycle.triggers.{i}.code_set")
        if self.cycle.require_code_set:
            need(self.cycle.require_code_set, "cycle.require_code_set")
        seen: set[str] = set()
        for p, ph in enumerate(self.phases):
            if ph.phase in seen:
                raise ValueError(f"phases.{p}: phase {ph.phase!r} listed twice")
            seen.add(ph.phase)
            for r, rule in enumerate(ph.rules):
                for n in rule.code_sets:
                    need(n, f"phases.{p}.rules.{r}.code_sets")
        self._check_case_mix(need)
        mix = {c.id for c in self.case_mix}
        for o, m in enumerate(self.outcomes):
            for c in m.case_mix:
                if c not in mix:
                    raise ValueError(f"outcomes.{o}.case_mix: unknown case-mix variable {c!r}; allowed: {sorted(mix)}")
            if m.code_set:
                need(m.code_set, f"outcomes.{o}.code_set")
            if m.instrument and m.instrument not in self.instruments:
                raise ValueError(f"outcomes.{o}.instrument: {m.instrument!r} is not in instruments {self.instruments}")
        return self

    def _check_case_mix(self, need: Callable[[str, str], None]) -> None:
        """Case-mix variables name code sets, instruments and time points this template has."""
        seen: set[str] = set()
        for i, v in enumerate(self.case_mix):
            where = f"case_mix.{i}"
            if v.id in seen:
                raise ValueError(f"{where}.id: case-mix variable {v.id!r} listed twice")
            seen.add(v.id)
            if isinstance(v, ConditionCount | OnsetYears):
                need(v.code_set, f"{where}.code_set")
            elif isinstance(v, PromScore):
                if v.instrument not in self.instruments:
                    raise ValueError(f"{where}.instrument: unknown instrument {v.instrument!r}; "
                                     f"allowed (the template's instruments): {self.instruments}")
                labels = sorted({t.label for m in self.outcomes if m.instrument == v.instrument
                                 for t in m.time_points})
                if v.time_point not in labels:
                    raise ValueError(f"{where}.time_point: unknown time point {v.time_point!r} for "
                                     f"{v.instrument}; allowed: {labels}")

    def references(self) -> list[tuple[str, str, str]]:
        """(kind folder, id, field) of every definition this template points to."""
        refs = [("instruments", i, f"instruments.{n}") for n, i in enumerate(self.instruments)]
        if self.bundle:
            refs.append(("bundles", self.bundle, "bundle"))
        if self.process_map:
            refs.append(("process_maps", self.process_map, "process_map"))
        return refs

    def phase_order(self) -> list[str]:
        return [p.phase for p in self.phases]
