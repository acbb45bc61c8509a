"""Value read out: the stored ``value`` table (risk-adjusted outcome beside cost per cycle).

Rows are read as the value stage wrote them — nothing is recomputed here. A row is hidden when any
of its patient counts is 1..10, or when the comparison row it comes from describes 1..10 events or
non-events; complementary suppression applies within each condition × measure × time point × scale.
"""

from __future__ import annotations

from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries.base import QueryError, needs, rows_of
from carevalue.queries.costs import currency
from carevalue.queries.names import with_facility
from carevalue.queries.outcomes import MEASURE_KEY, small_events
from carevalue.queries.privacy import count_columns, suppress

Rows = list[dict[str, Any]]
VALUE_VALUES = ("oe", "ci_low", "ci_high", "adjusted_rate", "flag_95", "flag_998", "cycles",
                "cost_per_cycle", "charges_per_cycle")
_KEY = (*MEASURE_KEY, "organization_id")


def _few_events(con: BaseBackend, condition: str | None) -> set[tuple[Any, ...]]:
    c = con.table("outcome_comparison")
    c = c.filter(c.organization_id.notnull())
    if condition:
        c = c.filter(c.condition == condition)
    rows = rows_of(c.select(*_KEY, "statistic", "observed", "n"))
    return {tuple(r[k] or "" for k in _KEY) for r in rows if small_events(r)}


@needs("value", "outcome_comparison")
def value_rows(con: BaseBackend, library: Library, condition: str | None = None) -> Rows:
    """Per provider × condition × measure: oe with its interval and flags beside cost per cycle."""
    t = con.table("value")
    if condition:
        known = sorted(str(c) for c in t.select("condition").distinct().execute()["condition"])
        if condition not in known:
            raise QueryError(f"no value rows for condition {condition!r}; conditions: {', '.join(known) or 'none'}")
        t = t.filter(t.condition == condition)
    rows = rows_of(t.order_by(*MEASURE_KEY, "organization_id"))
    few = _few_events(con, condition)
    cur = currency(library)
    rows = with_facility([{**r, "currency": cur} for r in rows], con)
    return suppress(rows, count_columns("value"), values=VALUE_VALUES, group_by=list(MEASURE_KEY),
                    extra_small=[tuple(r[k] or "" for k in _KEY) in few for r in rows])
