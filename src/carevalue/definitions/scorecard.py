"""Primary-care value scorecards as content: the outcome rows of a published scorecard (e.g. Porter,
Pabo & Lee 2013, Exhibits 1 and 2), which segments follow which exhibit, and why."""

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


@register_kind("scorecard-sets")
class ScorecardSet(Definition):
    """Outcome scorecards for primary-care segments, one exhibit per segment group."""

    source: str
    exhibits: list[Exhibit]
    nearest: dict[str, Nearest] = {}

    def for_segment(self, segment: str) -> tuple[Exhibit | None, str]:
        """The exhibit a segment's scorecard follows and why (the paper, or a stated assumption)."""
        for e in self.exhibits:
            if segment in e.segments:
                return e, e.source
        n = self.nearest.get(segment)
        if n is None:
            return None, "no published scorecard for this segment"
        return next(e for e in self.exhibits if e.id == n.exhibit), n.source
