"""What every query shares: the tables it needs, and rows that serialise to JSON unchanged."""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import ibis.expr.types as ir
import pandas as pd

F = TypeVar("F", bound=Callable[..., Any])


class QueryError(ValueError):
    """A question that cannot be answered as asked (unknown id, bad value); the message says why."""


def needs(*tables: str) -> Callable[[F], F]:
    """Declare the tables a query reads, so the workspace can say which command makes a missing one."""

    def mark(fn: F) -> F:
        fn.needs = tables  # type: ignore[attr-defined]
        return fn

    return mark


def plain(v: Any) -> Any:
    """A value JSON can carry as is: NaN/NaT → None, timestamps → ISO text, numpy → Python."""
    if v is None:
        return None
    if isinstance(v, float | Decimal):
        f = float(v)
        return None if math.isnan(f) or math.isinf(f) else f
    if isinstance(v, pd.Timestamp | datetime):
        return None if pd.isna(v) else v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if v is pd.NaT or v is pd.NA:
        return None
    if hasattr(v, "item"):  # numpy scalar
        return plain(v.item())
    return v


def rows_of(t: ir.Table | pd.DataFrame) -> list[dict[str, Any]]:
    """Execute an expression (or take a frame) and return plain rows."""
    df = t if isinstance(t, pd.DataFrame) else t.execute()
    return [{str(k): plain(v) for k, v in r.items()} for r in df.to_dict(orient="records")]
