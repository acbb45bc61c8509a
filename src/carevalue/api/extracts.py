"""Extracts for analysts and payers: the aggregate tables (costs, outcomes, value, payment) as one
CSV or Parquet file. The rows are the JSON routes' rows, so small cells are suppressed by the one
privacy module; only the aggregate roles get them, and every extract is audited."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from carevalue.api.auth import AGGREGATE_ROLES, Principal, audit, get_principal
from carevalue.api.models import RECORD_IDS
from carevalue.api.problems import ApiProblem, responses
from carevalue.api.state import ask
from carevalue.queries.privacy import MARK
from carevalue.workspace import Workspace

router = APIRouter(tags=["extracts"])
CSV = "text/csv"
PARQUET = "application/vnd.apache.parquet"


class Extract(StrEnum):
    costs = "costs"
    outcomes = "outcomes"
    value = "value"
    payment = "payment"


class Format(StrEnum):
    csv = "csv"
    parquet = "parquet"


def _rows(name: Extract, condition: str | None) -> Callable[[Workspace], list[dict[str, Any]]]:
    from carevalue.queries.outcomes import all_comparisons
    from carevalue.queries.payment import provider_comparison

    return {
        Extract.costs: lambda ws: ws.costs(condition=condition),
        Extract.outcomes: lambda ws: ws.ask(all_comparisons, condition=condition),
        Extract.value: lambda ws: ws.value(condition=condition),
        Extract.payment: lambda ws: ws.ask(provider_comparison, condition=condition, bundle_eligible_only=True),
    }[name]


def extract_roles(request: Request, who: Annotated[Principal, Depends(get_principal)],
                  name: Extract) -> Principal:
    """The aggregate roles get extracts; a refusal is audited too."""
    if who.role not in AGGREGATE_ROLES:
        audit(request, who, f"extract {name.value}", "denied", status=403, detail="aggregate roles only")
        raise ApiProblem(403, f"the {who.role.value} role gets no extracts (they are for: "
                              f"{', '.join(r.value for r in AGGREGATE_ROLES)})")
    return who


def columns(rows: list[dict[str, Any]]) -> list[str]:
    """Every column any row has, in first-seen order, never a record identifier."""
    out: dict[str, None] = {}
    for r in rows:
        out.update(dict.fromkeys(k for k in r if k not in RECORD_IDS))
    return list(out)


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    """CSV with a header; a suppressed count reads ``<11``, a suppressed value is empty."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns(rows), extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


TABLES = {Extract.costs: "cycle_cost_totals", Extract.outcomes: "outcome_comparison", Extract.value: "value",
          Extract.payment: "payment_ledger"}


def _arrow_type(values: list[Any], declared_type: str | None) -> Any:
    """The column's type from its values; a column with none (all suppressed) from its declaration."""
    import pyarrow as pa

    seen = {type(v) for v in values if v is not None}
    if seen == {bool}:
        return pa.bool_()
    if seen == {int} or (not seen and declared_type in ("BIGINT", "INTEGER", "TINYINT")):
        return pa.int64()
    if seen <= {int, float} and (seen or declared_type != "VARCHAR"):
        return pa.float64()
    return pa.string()


def to_parquet(rows: list[dict[str, Any]], table: str | None = None) -> bytes:
    """Parquet, one typed column per field (types of the declared ``table`` where the values give
    none); a suppressed count is null (the row's ``suppressed`` says so)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from carevalue.model import declared

    kinds = {c.name: c.type for c in declared(table).columns} if table else {}
    cols = columns(rows)
    data = {c: [None if r.get(c) == MARK else r.get(c) for r in rows] for c in cols}
    arrays = {}
    for c, values in data.items():
        kind = _arrow_type(values, kinds.get(c))
        arrays[c] = pa.array([str(v) if v is not None and kind == pa.string() else v for v in values], kind)
    buf = io.BytesIO()
    pq.write_table(pa.table(arrays), buf)
    return buf.getvalue()


@router.get("/extracts/{name}", response_class=Response,
            responses={200: {"description": "The whole table as one file.",
                             "content": {CSV: {"schema": {"type": "string"}},
                                         PARQUET: {"schema": {"type": "string", "format": "binary"}}}},
                       **responses(400, 401, 403, 409, 422)})
def extract(request: Request, who: Annotated[Principal, Depends(extract_roles)], name: Extract,
            format: Annotated[Format, Query(description="csv or parquet.")] = Format.csv,
            condition: Annotated[str | None, Query(description="Only this condition template.")] = None) -> Response:
    """One aggregate table (all pages) as a CSV or Parquet file, small cells suppressed; audited."""
    rows = ask(request, _rows(name, condition))
    body = to_csv(rows) if format is Format.csv else to_parquet(rows, TABLES[name])
    audit(request, who, f"extract {name.value} ({format.value})", "allowed", status=200,
          detail=f"{len(rows)} rows" + (f", condition {condition}" if condition else ""))
    return Response(body, media_type=CSV if format is Format.csv else PARQUET, headers={
        "Content-Disposition": f'attachment; filename="carevalue-{name.value}.{format.value}"'})
