"""Response models generated from the declared tables (``carevalue.model``): one vocabulary in OpenAPI.

A row model takes its fields, types and descriptions from the tables a query reads; the columns a
query adds (names, per-phase means ...) pass through as extra members. A suppressed cell shows
``"<11"`` in its count columns and null in its values, and every aggregate row says ``suppressed``.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, create_model

from carevalue.model import declared
from carevalue.queries.privacy import MARK

Suppressed = Literal["<11"]
assert MARK == "<11"

_TYPES: dict[str, Any] = {
    "VARCHAR": str, "DATE": str, "TIMESTAMP": str, "BOOLEAN": bool,
    "DOUBLE": float | Suppressed, "BIGINT": int | float | Suppressed,
    "INTEGER": int | float | Suppressed, "TINYINT": int | float | Suppressed,
}


# Identifiers of one person or record: never a member of a de-identified aggregate row.
RECORD_IDS = frozenset({"patient_id", "cycle_id", "response_id", "encounter_id"})


class Row(BaseModel):
    model_config = ConfigDict(extra="allow")


@cache
def row_model(name: str, tables: tuple[str, ...], aggregate: bool = True) -> type[Row]:
    """A model named ``name`` with every column of ``tables`` (the first declaration of a name wins)."""
    fields: dict[str, Any] = {}
    for t in tables:
        for c in declared(t).columns:
            if c.name not in fields and not (aggregate and c.name in RECORD_IDS):
                kind = "ISO 8601 text" if c.type in ("DATE", "TIMESTAMP") else c.type
                fields[c.name] = (_TYPES.get(c.type, Any) | None,
                                  Field(None, description=f"{c.doc} [{t}.{c.name}, {kind}]"))
    if aggregate:
        fields["suppressed"] = (bool | None, Field(None, description=(
            "True when the row describes fewer than 11 patients (or would reveal such a cell): its "
            "counts show '<11' and its values are null.")))
    doc = f"A row built from the declared table(s) {', '.join(tables)} (carevalue.model)."
    return create_model(name, __base__=Row, __doc__=doc, **fields)


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of rows: ``items`` from ``offset``, ``total`` rows after filters, ``next`` page's URL."""

    items: list[T]
    total: int = Field(description="Rows matching the filters, over all pages.")
    limit: int
    offset: int
    next: str | None = Field(None, description="URL of the next page; null on the last one.")


CycleEvent = row_model("CycleEvent", ("cycle_events",), aggregate=False)


class CycleRow(row_model("CycleBase", ("care_cycles",), aggregate=False)):  # type: ignore[misc]
    """One care cycle of one patient with its events by phase."""

    events: list[CycleEvent] = Field(default_factory=list)  # type: ignore[valid-type]


CostRow = row_model("CostRow", ("cycle_cost_totals",))
OutcomeRow = row_model("OutcomeRow", ("outcome_comparison",))
ValueRow = row_model("ValueRow", ("value",))
PaymentRow = row_model("PaymentRow", ("payment_ledger",))
PromScoreRow = row_model("PromScoreRow", ("prom_scores",), aggregate=False)
OutcomeValueRow = row_model("OutcomeValueRow", ("outcome_values",), aggregate=False)
PatientRow = row_model("PatientRow", ("patients",), aggregate=False)


class PatientRecord(BaseModel):
    """Everything the store holds about one patient's care and results."""

    patient: PatientRow  # type: ignore[valid-type]
    cycles: list[CycleRow]
    prom_scores: list[PromScoreRow]  # type: ignore[valid-type]
    outcome_values: list[OutcomeValueRow]  # type: ignore[valid-type]


class DefinitionRef(BaseModel):
    kind: str = Field(description="Definition kind (content folder), e.g. conditions, instruments.")
    id: str
    title: str | None = None


class RunRow(BaseModel):
    run_id: str
    stages: list[str]
    definitions_hash: str
    started: str
    finished: str | None = None
    status: str = Field(description="running, published, failed or interrupted.")
    message: str = ""
    pid: int | None = None


class AuditRow(BaseModel):
    seq: int
    ts: str
    username: str | None
    role: str | None
    action: str
    patient_id: str | None
    remote: str | None
    outcome: str = Field(description="allowed, denied, rejected or error.")
    status: int | None
    detail: str | None
