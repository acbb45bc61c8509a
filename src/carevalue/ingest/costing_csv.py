"""carevalue costing inputs (resources, activities, consumables CSV) -> their core tables.

Headers are the table's column names; each value is checked for type and range (costs, minutes
and quantities non-negative, practical capacity positive, resource_type a known kind). Each kind
is declared as data (:class:`OneRowKind`): the record-by-record mapping below and the column-wise
Arrow reader (``csv_columnar``) both follow the same declaration, so they cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from carevalue.ingest.csv_records import CsvRecords, Emit, KindSpec
from carevalue.model import table

RESOURCE_TYPES = frozenset({"person", "equipment", "space", "support"})


@dataclass(frozen=True)
class Field:
    """One column of a costing CSV: its value type and checks (empty values are null)."""

    column: str
    type: Literal["text", "number", "timestamp"] = "text"
    required: bool = False
    positive: bool = False  # numbers: greater than 0 (otherwise: not negative)
    lower: bool = False  # text: compared and stored in lower case
    allowed: frozenset[str] | None = None  # text: one of these


@dataclass(frozen=True)
class OneRowKind:
    """A CSV kind whose every record is one row of ``table``; ``fields`` in the order they are
    checked (a record's first problem is the one reported), the first being the record id."""

    table: str
    fields: tuple[Field, ...]

    @property
    def id_field(self) -> str:
        return self.fields[0].column

    def map(self, r: CsvRecords) -> list[Emit]:
        """The record-by-record mapping: typed columns, a problem noted for every bad value."""
        cols: dict[str, Any] = {}
        for f in self.fields:
            if f.type == "number":
                cols[f.column] = r.number(f.column, required=f.required, positive=f.positive)
            elif f.type == "timestamp":
                cols[f.column] = r.timestamp(f.column, required=f.required)
            else:
                vals = r.text(f.column, required=f.required)
                if f.lower:
                    vals = [v.lower() if v else None for v in vals]
                if f.allowed is not None:
                    r.one_of(vals, f.column, set(f.allowed))
                cols[f.column] = vals
        r.ids = cols[self.id_field]
        return [Emit(self.table, cols)]


RESOURCES = OneRowKind("resources", (
    Field("resource_id", required=True),
    Field("resource_type", required=True, lower=True, allowed=RESOURCE_TYPES),
    Field("name"), Field("role"), Field("organization_id"),
    Field("annual_cost", "number", required=True),
    Field("practical_capacity_minutes", "number", required=True, positive=True),
))
ACTIVITIES = OneRowKind("activities", (
    Field("activity_id", required=True), Field("patient_id", required=True), Field("encounter_id"),
    Field("resource_id", required=True), Field("step_code"), Field("start_ts", "timestamp"),
    Field("minutes", "number", required=True), Field("practitioner_id"),
))
CONSUMABLES = OneRowKind("consumables", (
    Field("consumable_id", required=True), Field("patient_id", required=True), Field("encounter_id"),
    Field("item_code"), Field("description"),
    Field("quantity", "number", required=True), Field("unit_cost", "number", required=True),
    Field("used_ts", "timestamp"),
))
ONE_ROW_KINDS: dict[str, OneRowKind] = {k.table: k for k in (RESOURCES, ACTIVITIES, CONSUMABLES)}


def _signature(name: str) -> frozenset[str]:
    return frozenset(c.name.upper() for c in table(name).columns if c.required and c.name != "source")


COSTING_KINDS: dict[str, KindSpec] = {name: KindSpec(kind.map, _signature(name)) for name, kind in ONE_ROW_KINDS.items()}
