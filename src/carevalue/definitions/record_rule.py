"""Record rules: which stored records count, by the meaning of their status fields (FHIR R4).

Every record is kept (nothing lost), but a refuted diagnosis, a cancelled encounter or a
procedure that was not done is not a fact of care. A rule names a core table's status column and
sorts every code of its value set into ``counts`` or ``excluded`` (with the reason); closing rules
give an inactive or resolved condition an end when the source gave none.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from carevalue.definitions.base import Definition, Part, register_kind


class StatusRule(Part):
    """One status element of one table: every code of its value set counts or is excluded."""

    table: str = Field(description="Core table (encounters, conditions, procedures, ...).")
    column: str = Field(description="Status column of that table (status, verification_status, intent, ...).")
    element: str = Field(description="The FHIR element it holds, e.g. Condition.verificationStatus.")
    value_set: str = Field(description="Canonical URL of the R4 value set the element is bound to.")
    counts: list[str] = Field(description="Codes whose records count.")
    excluded: dict[str, str] = Field(default_factory=dict,
                                     description="Codes whose records never count -> why, in words.")
    missing_counts: bool = Field(default=True, description="Whether a record without a value counts.")
    other_counts: bool = Field(default=True,
                               description="Whether a code outside the value set (a local code) counts.")
    source: str = Field(description="Where the meaning of each code comes from (the value-set page).")

    @model_validator(mode="after")
    def _disjoint(self) -> StatusRule:
        both = set(self.counts) & set(self.excluded)
        if both:
            raise ValueError(f"{self.element}: {', '.join(sorted(both))} both count and are excluded")
        return self

    def codes(self) -> set[str]:
        """Every code the rule sorts (the value set)."""
        return set(self.counts) | set(self.excluded)


class ClosingRule(Part):
    """Records with one of ``values`` in ``column`` have ended: a missing ``end_column`` is filled
    from the first non-null of ``fill_from`` (e.g. a resolved condition ends when it was recorded)."""

    table: str = Field(description="Core table.")
    column: str = Field(description="Status column.")
    values: list[str] = Field(min_length=1, description="Codes meaning 'no longer true'.")
    end_column: str = Field(description="Column holding the end (e.g. abatement_ts).")
    fill_from: list[str] = Field(min_length=1, description="Columns to take the end from, in order.")
    source: str = Field(description="Where the meaning comes from.")


@register_kind("record-rules")
class RecordRules(Definition):
    """What counts: status rules per table, closing rules, and whether records follow their encounter."""

    statuses: list[StatusRule] = Field(description="One rule per status element the platform reads.")
    closing: list[ClosingRule] = Field(default_factory=list, description="Rules that end inactive records.")
    follow_encounter: bool = Field(
        default=True,
        description="A record made at an encounter that does not count (cancelled, entered in error) "
                    "does not count either.")

    @model_validator(mode="after")
    def _one_rule_per_column(self) -> RecordRules:
        seen: set[tuple[str, str]] = set()
        for r in self.statuses:
            if (r.table, r.column) in seen:
                raise ValueError(f"two status rules for {r.table}.{r.column}")
            seen.add((r.table, r.column))
        return self

    def for_table(self, table: str) -> list[StatusRule]:
        return [r for r in self.statuses if r.table == table]
