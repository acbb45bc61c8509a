"""Structural facts about care units that a store does not hold (F8, F19), filled in by the
organisation as YAML (content kind ``network-facts``, given with ``--content DIR``) and validated
here: scheduling, team meetings, team-level reporting, joint accountability, dedicated facilities,
and the coordinates of sites and home areas for travel distance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from carevalue.definitions.base import Definition, register_kind
from carevalue.definitions.yaml_text import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class UnitFacts(_Strict):
    """Facts about one organization's service for one condition ('*' = every condition it serves)."""

    organization_id: str
    condition: str = Field(default="*", description="Condition template id, or '*' for all.")
    single_scheduling: Literal["yes", "partial", "no"] | None = None
    dedicated_facility: bool | None = Field(default=None, description="The team works in facilities dedicated to the condition.")
    team_meetings_per_month: float | None = Field(default=None, ge=0)
    team_level_reporting: bool | None = Field(default=None, description="Outcomes and costs are reported for the team on a common platform.")
    joint_accountability: Literal["bundled-payment", "shared-budget", "shared-targets", "none"] | None = None
    source: str = Field(min_length=3, description="Who stated these facts and when.")


class Position(_Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class SitePosition(Position):
    organization_id: str


class AreaPosition(Position):
    postal_code: str


class IpuFacts(_Strict):
    """The facts (one file, or several merged)."""

    units: list[UnitFacts] = Field(default_factory=list)
    sites: list[SitePosition] = Field(default_factory=list, description=(
        "Coordinates of facilities, used where the store's Locations carry no FHIR Location.position."))
    postal_areas: list[AreaPosition] = Field(default_factory=list, description="Centroids of patients' home postal codes.")
    significant_time_share: float = Field(default=0.25, gt=0, le=1, description=(
        "Share of a clinician's recorded minutes on the condition that counts as 'a significant portion of their time'."))
    care_manager_roles: list[str] = Field(default_factory=lambda: ["care-manager"])

    def unit(self, organization_id: str, condition: str) -> UnitFacts | None:
        exact = [u for u in self.units if u.organization_id == organization_id and u.condition == condition]
        anyc = [u for u in self.units if u.organization_id == organization_id and u.condition == "*"]
        found = exact or anyc
        return found[0] if found else None


@register_kind("network-facts")
class NetworkFacts(Definition, IpuFacts):  # type: ignore[misc]
    """A facts file as content: ``content/network-facts/<id>.yaml`` with id and title."""

    def facts(self) -> IpuFacts:
        return IpuFacts.model_validate(self.model_dump(exclude={"id", "title", "description"}))


def merged(defs: Sequence[NetworkFacts]) -> IpuFacts:
    """Every facts definition of the library in one (units, sites and areas concatenated; the
    settings of the first)."""
    if not defs:
        return IpuFacts()
    first = defs[0].facts()
    return first.model_copy(update={
        "units": [u for d in defs for u in d.units], "sites": [s for d in defs for s in d.sites],
        "postal_areas": [a for d in defs for a in d.postal_areas]})


def load_facts(path: str | Path | None) -> IpuFacts:
    """Read and validate one facts file (with or without id/title); errors name the file and field."""
    from carevalue.definitions.loader import explain

    if path is None:
        return IpuFacts()
    p = Path(path)
    try:
        data = read_yaml(p) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"{p}: cannot read facts file: {e}") from e
    data = {k: v for k, v in data.items() if k not in ("id", "title", "description")}
    try:
        return IpuFacts.model_validate(data)
    except ValidationError as e:
        raise ValueError("invalid facts file:\n" + "\n".join(explain(IpuFacts, e, str(p)))) from e
