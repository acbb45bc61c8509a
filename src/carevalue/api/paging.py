"""Pagination and filters over a query's rows: ``limit``/``offset`` with the next page's URL."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request

Limit = Annotated[int, Query(ge=1, le=1000, description="Rows per page (1-1000).")]
Offset = Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")]


def matching(rows: list[dict[str, Any]], **filters: Any) -> list[dict[str, Any]]:
    """The rows whose columns equal every filter given (None: not filtered)."""
    given = {k: v for k, v in filters.items() if v is not None}
    return [r for r in rows if all(r.get(k) == v for k, v in given.items())]


def page(request: Request, rows: list[Any], limit: int, offset: int) -> dict[str, Any]:
    """One page of ``rows`` with the total and the URL of the next page (None on the last)."""
    total = len(rows)
    nxt = (str(request.url.include_query_params(offset=offset + limit, limit=limit))
           if offset + limit < total else None)
    return {"items": rows[offset:offset + limit], "total": total, "limit": limit, "offset": offset,
            "next": nxt}
