"""Patients per primary-care segment on one date, by default the data's last date (as the report).

Counts describe patients, so they go through :mod:`carevalue.queries.privacy`: a segment of 1..10
patients shows ``<11``, and because the segments add up to the panel, one more is hidden beside it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import ibis
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries import privacy
from carevalue.queries.base import QueryError, needs, rows_of


def data_last_date(con: BaseBackend) -> str | None:
    """The last encounter date in the store (what "current" counts refer to), or None without any."""
    e = con.table("encounters")
    v = e.start_ts.max().execute()
    return None if v is None or v != v else v.date().isoformat()


def parse_day(on: str) -> str:
    try:
        return date.fromisoformat(on).isoformat()
    except ValueError:
        raise QueryError(f"{on!r} is not a date: give it as YYYY-MM-DD (e.g. 2024-12-31)") from None


@needs("patients", "encounters", "segments", "segment_transitions")
def segment_counts(con: BaseBackend, library: Library, on: str | None = None) -> list[dict[str, Any]]:
    """Living patients per segment on ``on`` (default: the data's last date) and how many moved in by then."""
    from carevalue.engine.segments import segment_on

    day = parse_day(on) if on else data_last_date(con)
    if day is None:
        raise QueryError("the store has no encounters to date the segments; pass --on YYYY-MM-DD")
    s = segment_on(con, day)
    per = {r["segment"]: int(r["patients"]) for r in rows_of(
        s.group_by("segment").aggregate(patients=s.patient_id.nunique()))}
    tr = con.table("segment_transitions")
    tr = tr.filter(tr.transition_date <= ibis.literal(day).cast("date"))
    moved = {r["to_segment"]: int(r["n"]) for r in rows_of(
        tr.group_by("to_segment").aggregate(n=tr.patient_id.nunique()))}
    defs = sorted(library.kind("segments").values(), key=lambda d: d.priority)
    ids = [d.id for d in defs] + sorted(set(per) - {d.id for d in defs})
    names = {d.id: d.title for d in defs}
    rows = [{"as_of": day, "segment": sid, "name": names.get(sid, sid), "patients": per.get(sid, 0),
             "patients_moved_in": moved.get(sid, 0)} for sid in ids]
    return privacy.suppress(rows, ("patients", "patients_moved_in"), keep=("as_of",), group_by=("as_of",))
