"""Crosswalks: code-to-code maps shipped as content (a CSV beside a YAML that says what it is).

The YAML names the source and target code systems, the CSV file and where its rows come from; each
CSV row carries its own confidence and a ``needs_review`` flag, so a reader knows which mappings were
checked against an authoritative map and which are a reviewer's best reading.
"""

from __future__ import annotations

from pydantic import Field

from carevalue.definitions.base import CodeSystem, Definition, register_kind

CROSSWALK_COLUMNS = ("snomed_code", "snomed_display", "map_group", "icd10cm_code", "confidence",
                     "needs_review", "origin", "note")
CONFIDENCE = ("high", "medium", "low", "none")


@register_kind("crosswalks")
class Crosswalk(Definition):
    """A map from one code system to another, one CSV row per (source code, map group)."""

    source_system: CodeSystem
    target_system: CodeSystem
    file: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*\.csv$", description="CSV file in the same folder.")
    source: str = Field(min_length=1, description="Where the rows come from and how they were checked.")
    columns: list[str] = Field(default_factory=lambda: list(CROSSWALK_COLUMNS), description=(
        "CSV columns: source code and display, map group (1 = primary target, 2.. = additional codes), "
        "target code (empty = no target), confidence (high/medium/low/none), needs_review, origin, note."))
