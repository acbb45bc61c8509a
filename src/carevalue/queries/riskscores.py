"""CMS-HCC and Charlson scores summarised per primary-care segment, small segments suppressed."""

from __future__ import annotations

from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries import privacy
from carevalue.queries.base import needs, rows_of

VALUES = ("mean_hcc", "p90_hcc", "mean_charlson")


@needs("patient_risk_scores", "patient_charlson", "segments")
def by_segment(con: BaseBackend, library: Library) -> list[dict[str, Any]]:
    """Patients, mean and 90th-percentile HCC score and mean Charlson index per segment (on the
    scores' as-of date), highest mean HCC first; segments of fewer than 11 patients are hidden."""
    from carevalue.engine.riskscores.summary import risk_by_segment

    names = {k: v.title for k, v in library.kind("segments").items()}
    as_of = con.table("patient_risk_scores").as_of.max().execute()
    rows = []
    for r in rows_of(risk_by_segment(con)):
        rows.append({"as_of": None if as_of is None else str(as_of)[:10], "segment": r["segment"],
                     "name": names.get(r["segment"], r["segment"]), "patients": int(r["patients"]),
                     **{k: None if r[k] is None else round(r[k], 3) for k in VALUES}})
    return privacy.suppress(rows, ("patients",), values=VALUES, group_by=("as_of",))
