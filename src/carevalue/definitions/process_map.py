"""Process maps (TDABC): the steps of one condition's or segment's care cycle, phase by phase.

Each step names the resource roles it needs with standard minutes and a time equation for
pathway variations (``base + extra if flag``), the least costly role able to do it (skill
mismatch), whether it is routine (expensive-setting check) and whether it is low-value.
Also holds the costing policy: how practical capacity is derived from paid time.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources as importlib_resources
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from carevalue.definitions.base import Definition, register_kind
from carevalue.definitions.codesystems import canonical_system, known_systems_text
from carevalue.definitions.phases import PHASES as PHASES  # the one list, re-exported
from carevalue.definitions.phases import Phase
from carevalue.definitions.yaml_text import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeRef(_Strict):
    """A code that, recorded for the patient during the cycle, switches a flag on."""

    code: str
    system: str | None = Field(default=None, description="Code system URI; any system when omitted.")

    @field_validator("system")
    @classmethod
    def _known(cls, v: str | None) -> str | None:
        if v is not None and canonical_system(v) is None:
            raise ValueError(f"unknown code system {v!r}; known: {known_systems_text()}")
        return v


class Flag(_Strict):
    """A pathway variation switch (``interpreter``, ``outside_imaging`` ...) and how data shows it."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    codes: list[CodeRef] = Field(default_factory=list, description=(
        "Codes in conditions/observations (code or value_code)/procedures of the patient up to the "
        "cycle end that switch the flag on. A store table `cycle_flags(cycle_id, flag)` also does."))


class TimeVariation(_Strict):
    """One term of a time equation: ``+extra_minutes if flag``."""

    flag: str
    extra_minutes: float


class StepResource(_Strict):
    """One resource role a step needs, with its time equation."""

    role: str = Field(description="resources.role of the people/equipment/space used.")
    minutes: float = Field(ge=0, description="Standard (base) minutes.")
    variations: list[TimeVariation] = Field(default_factory=list)
    least_cost_role: str | None = Field(default=None, description=(
        "Least costly role able to do this part of the step; work done by a costlier role is skill mismatch."))

    def standard_minutes(self, flags: Iterable[str] = ()) -> float:
        """Base minutes plus the extra minutes of every variation whose flag is on."""
        on = set(flags)
        return self.minutes + sum(v.extra_minutes for v in self.variations if v.flag in on)


class ProcessStep(_Strict):
    step_code: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    description: str
    phase: Phase
    setting: str = Field(description="Where the step is meant to happen (clinic, operating-room, ward, home, virtual ...).")
    resources: list[StepResource] = Field(min_length=1)
    routine: bool = Field(default=False, description="Routine care that needs no expensive setting.")
    low_value: bool = Field(default=False, description="Low- or no-value service (F13).")
    low_value_reason: str = ""
    source: str = Field(default="", description="Where this step's minutes come from, when not the map's source.")


@register_kind("process_maps")
class ProcessMap(Definition):
    """The process map of one condition template (acute/chronic) or primary-care segment."""

    applies_to: str = Field(description="Condition template id or primary-care segment id.")
    scope: Literal["condition", "segment"] = "condition"
    flags: list[Flag] = Field(default_factory=list)
    steps: list[ProcessStep] = Field(min_length=1)
    source: str = Field(default="", description=(
        "Where the standard minutes come from: a citation (time study, published process map) or "
        "'assumption: <who/why>'. A step's own source overrides it."))

    @model_validator(mode="after")
    def _check(self) -> ProcessMap:
        codes = [s.step_code for s in self.steps]
        dup = sorted({c for c in codes if codes.count(c) > 1})
        if dup:
            raise ValueError(f"step_code repeated: {', '.join(dup)}")
        known = {f.name for f in self.flags}
        for s in self.steps:
            for r in s.resources:
                for v in r.variations:
                    if v.flag not in known:
                        raise ValueError(
                            f"step {s.step_code}: variation flag {v.flag!r} is not declared in flags "
                            f"(declared: {', '.join(sorted(known)) or 'none'})")
        return self

    def references(self) -> list[tuple[str, str, str]]:
        """(kind folder, id, field) checked by the definitions loader."""
        return [("conditions" if self.scope == "condition" else "segments", self.applies_to, "applies_to")]

    def step(self, step_code: str) -> ProcessStep:
        for s in self.steps:
            if s.step_code == step_code:
                return s
        raise KeyError(f"{self.id}: no step {step_code!r}")


@register_kind("costing_policies")
class CostingPolicy(Definition):
    """How capacity and opportunities are computed; ``default`` is used unless another is named."""

    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description=(
        "ISO 4217 code of every cost: resources' annual_cost, consumables and charges are read in it."))
    practical_share: float = Field(default=0.8, gt=0, le=1, description=(
        "Share of paid time available for patient work after breaks, training and admin (~0.80-0.85)."))
    paid_time_resource_types: list[str] = Field(default_factory=list, description=(
        "Resource types whose practical_capacity_minutes column holds PAID minutes; practical = paid x share."))
    paid_time_roles: list[str] = Field(default_factory=list, description="Roles whose capacity is given as paid minutes.")
    share_by_role: dict[str, float] = Field(default_factory=dict, description="Practical share overriding the default per role.")
    expensive_facility_types: list[str] = Field(default_factory=lambda: ["academic-centre"])
    expensive_encounter_classes: list[str] = Field(default_factory=lambda: ["IMP", "EMER"])
    excess_time_tolerance: float = Field(default=0.25, ge=0, description=(
        "Recorded minutes above standard x (1 + tolerance) are reported as excess cycle time."))
    max_wait_days: float = Field(default=42, gt=0, description="Gaps between cycle events longer than this are waits.")
    cost_per_wait_day: float = Field(default=0.0, ge=0, description="Money at stake per excess waiting day (0 = not valued).")
    min_unused_share: float = Field(default=0.1, ge=0, le=1, description="Unused capacity below this share is not reported.")
    source: str = Field(default="", description="Where the policy's numbers come from (citation or 'assumption: ...').")
    min_month_share: float = Field(default=0.5, ge=0, le=1, description=(
        "Leading and trailing months with fewer activities than this share of the median month are "
        "outside the data's observation window (an extract's sparse edges, not idle capacity)."))
    min_period_coverage: float = Field(default=0.0, ge=0, le=1, description=(
        "Periods (calendar years) inside the observation window whose activities are below this share "
        "of a full year at the median monthly volume are not reported as cost opportunities (0 = report "
        "every period inside the window, each with its coverage)."))


def _content_dir(folder: str) -> Path:
    return Path(str(importlib_resources.files("carevalue") / "content" / folder))


def _load(folder: str, model: type[Definition], directory: Path | None) -> list[Definition]:
    out = []
    for path in sorted((directory or _content_dir(folder)).glob("*.yaml")):
        data = read_yaml(path)
        try:
            out.append(model.model_validate(data))
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
    return out


def load_process_maps(directory: Path | None = None) -> list[ProcessMap]:
    """Every process map shipped in content/process_maps (or in ``directory``)."""
    return [m for m in _load("process_maps", ProcessMap, directory) if isinstance(m, ProcessMap)]


def load_costing_policy(policy_id: str = "default", directory: Path | None = None) -> CostingPolicy:
    """The named costing policy from content/costing_policies; built-in defaults if absent."""
    for p in _load("costing_policies", CostingPolicy, directory):
        if p.id == policy_id and isinstance(p, CostingPolicy):
            return p
    return CostingPolicy(id=policy_id, title="Built-in defaults")
