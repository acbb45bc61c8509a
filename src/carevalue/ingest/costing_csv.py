"""carevalue costing inputs (resources, activities, consumables CSV) -> their core tables.

Headers are the table's column names; each value is checked for type and range (costs, minutes
and quantities non-negative, practical capacity positive, resource_type a known kind).
"""

from __future__ import annotations

from carevalue.ingest.csv_records import CsvRecords, Emit, KindSpec
from carevalue.model import table

RESOURCE_TYPES = {"person", "equipment", "space", "support"}


def _ids(r: CsvRecords, name: str) -> list[str | None]:
    ids = r.text(name, required=True)
    r.ids = ids
    return ids


def map_resources(r: CsvRecords) -> list[Emit]:
    ids = _ids(r, "resource_id")
    types = [t.lower() if t else None for t in r.text("resource_type", required=True)]
    r.one_of(types, "resource_type", RESOURCE_TYPES)
    return [Emit("resources", {
        "resource_id": ids, "name": r.text("name"), "resource_type": types, "role": r.text("role"),
        "organization_id": r.text("organization_id"),
        "annual_cost": r.number("annual_cost", required=True),
        "practical_capacity_minutes": r.number("practical_capacity_minutes", required=True, positive=True),
    })]


def map_activities(r: CsvRecords) -> list[Emit]:
    return [Emit("activities", {
        "activity_id": _ids(r, "activity_id"), "patient_id": r.text("patient_id", required=True),
        "encounter_id": r.text("encounter_id"), "resource_id": r.text("resource_id", required=True),
        "step_code": r.text("step_code"), "start_ts": r.timestamp("start_ts"),
        "minutes": r.number("minutes", required=True), "practitioner_id": r.text("practitioner_id"),
    })]


def map_consumables(r: CsvRecords) -> list[Emit]:
    return [Emit("consumables", {
        "consumable_id": _ids(r, "consumable_id"), "patient_id": r.text("patient_id", required=True),
        "encounter_id": r.text("encounter_id"), "item_code": r.text("item_code"),
        "description": r.text("description"), "quantity": r.number("quantity", required=True),
        "unit_cost": r.number("unit_cost", required=True), "used_ts": r.timestamp("used_ts"),
    })]


def _signature(name: str) -> frozenset[str]:
    return frozenset(c.name.upper() for c in table(name).columns if c.required and c.name != "source")


COSTING_KINDS: dict[str, KindSpec] = {
    "resources": KindSpec(map_resources, _signature("resources")),
    "activities": KindSpec(map_activities, _signature("activities")),
    "consumables": KindSpec(map_consumables, _signature("consumables")),
}
