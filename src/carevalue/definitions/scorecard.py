"""Value scorecards as content: the outcome rows of a published primary-care scorecard (e.g. Porter,
Pabo & Lee 2013, Exhibits 1 and 2), which segments follow which exhibit and why, and the explicit
weights of any composite of a condition's outcomes (each weight with its source)."""

from __future__ import annotations

from pydantic import Field

from carevalue.definitions.base import Definition, Part, register_kind


class Specific(Part):
    text: str
    metric: str | None = None


class ExhibitRow(Part):
    level: int = Field(ge=1, le=6)
    measure: str
    specifics: list[Specific]


class Exhibit(Part):
    id: str
    title: str
    segments: list[str]
    source: str
    rows: list[ExhibitRow]


class Nearest(Part):
    exhibit: str
    source: str


class CompositeWeight(Part):
    """One outcome in a composite: its measure (and time point) and weight, with where it comes from."""

    measure: str = Field(description="Outcome measure id of the condition's template.")
    time_point: str | None = Field(None, description="Time point label; empty: the measure's first compared one.")
    weight: float = Field(gt=0, description="Relative weight (normalised to sum to 1 when shown).")
    source: str = Field(min_length=3, description="Where the weight comes from (required).")


class Composite(Part):
    """A composite of a condition's outcomes: never a default, only these explicit, shown weights."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$")
    condition: str = Field(description="Condition template id.")
    title: str
    source: str = Field(min_length=3, description="Why these measures and weights.")
    weights: list[CompositeWeight] = Field(min_length=1)


@register_kind("scorecard-sets")
class ScorecardSet(Definition):
    """Outcome scorecards for primary-care segments (one exhibit per segment group) and composites
    of a condition's outcomes with explicit weights."""

    source: str
    exhibits: list[Exhibit] = []
    nearest: dict[str, Nearest] = {}
    composites: list[Composite] = []

    def references(self) -> list[tuple[str, str, str]]:
        """The condition templates the composites name (checked by the loader)."""
        return [("conditions", c.condition, f"composites.{i}.condition") for i, c in enumerate(self.composites)]

    def for_segment(self, segment: str) -> tuple[Exhibit | None, str]:
        """The exhibit a segment's scorecard follows and why (the paper, or a stated assumption)."""
        for e in self.exhibits:
            if segment in e.segments:
                return e, e.source
        n = self.nearest.get(segment)
        if n is None:
            return None, "no published scorecard for this segment"
        return next(e for e in self.exhibits if e.id == n.exhibit), n.source
