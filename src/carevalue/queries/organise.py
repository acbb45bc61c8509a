"""Organised around the patient: care cycles per condition and facility, primary-care segments.

Counts of patients are distinct ``patient_id`` values of the stored tables; every row goes through
the privacy module, with complementary suppression where the rows add up to a shown total.
"""

from __future__ import annotations

from typing import Any

import ibis
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.engine.segments import segment_on
from carevalue.queries.base import QueryError, needs, rows_of
from carevalue.queries.data import data_as_of
from carevalue.queries.names import with_facility
from carevalue.queries.privacy import suppress

Rows = list[dict[str, Any]]


@needs("care_cycles")
def cycles_by_facility(con: BaseBackend, library: Library, condition: str | None = None) -> Rows:
    """Care cycles and distinct patients per condition and attributed facility."""
    c = con.table("care_cycles")
    if condition:
        c = c.filter(c.condition == condition)
    t = c.group_by("condition", "cycle_type", "organization_id").aggregate(
        cycles=c.count(), patients=c.patient_id.nunique())
    rows = with_facility(rows_of(t.order_by("condition", ibis.desc("cycles"), "organization_id")), con)
    return suppress(rows, ("patients",), values=["cycles"], group_by=["condition"])


@needs("segments", "patients", "encounters")
def segment_counts(con: BaseBackend, library: Library, on: str | None = None) -> Rows:
    """Living patients per primary-care segment on one date (default: the data's last date)."""
    as_of = on or data_as_of(con, library)[0]["as_of"]
    if as_of is None:
        raise QueryError("the store has no encounters to date the segments; give a date")
    try:
        s = segment_on(con, str(as_of))
        t = s.group_by("segment").aggregate(patients=s.patient_id.nunique()).order_by("segment")
        rows = [{"as_of": str(as_of), **r} for r in rows_of(t)]
    except Exception as e:  # a bad date string fails in the backend's cast
        raise QueryError(f"not a date: {as_of!r} (use YYYY-MM-DD)") from e
    return suppress(rows, ("patients",), group_by=[])


@needs("segment_transitions")
def segment_transitions(con: BaseBackend, library: Library) -> Rows:
    """Moves between segments (from → to) over the whole history, with the patients who made each."""
    s = con.table("segment_transitions")
    t = s.group_by("from_segment", "to_segment").aggregate(
        transitions=s.count(), patients=s.patient_id.nunique())
    rows = rows_of(t.order_by(ibis.desc("transitions"), "from_segment", "to_segment"))
    return suppress(rows, ("patients",), values=["transitions"],
                    group_by=[["from_segment"], ["to_segment"]])
