"""What the store holds: per-file ingest reconciliation, quarantine reasons, the data's last date.

These describe records and files, not patients, so they are shown unsuppressed.
"""

from __future__ import annotations

from typing import Any

import ibis
from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries.base import needs, rows_of

Rows = list[dict[str, Any]]


@needs("ingest_files")
def reconciliation(con: BaseBackend, library: Library) -> Rows:
    """Per source file: records read, stored and quarantined, and whether read = stored + quarantined."""
    f = con.table("ingest_files")
    t = f.select("source", "format", "read", "stored", "quarantined")
    t = t.mutate(reconciled=t.read == t.stored + t.quarantined)
    return rows_of(t.order_by("source"))


@needs("quarantine")
def quarantine_reasons(con: BaseBackend, library: Library) -> Rows:
    """Quarantined records by source file and reason, most frequent first."""
    q = con.table("quarantine")
    t = q.group_by("source", "reason").aggregate(records=q.count())
    return rows_of(t.order_by([ibis.desc("records"), "source", "reason"]))


@needs("encounters")
def data_as_of(con: BaseBackend, library: Library) -> Rows:
    """One row: ``as_of``, the last encounter date in the store (what "current" counts refer to)."""
    e = con.table("encounters")
    last = e.start_ts.max().execute()
    return [{"as_of": None if last is None or last != last else last.date().isoformat()}]
