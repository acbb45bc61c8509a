"""CMS-HCC and Charlson scores summarised per primary-care segment, small segments suppressed.

Each row also says how many of the segment's patients have any ICD-10 diagnosis to be scored on
(own or mapped from SNOMED CT): below half, the scores are mostly demographic and interfaces warn.
"""

from __future__ import annotations

from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries import privacy
from carevalue.queries.base import needs, rows_of

VALUES = ("mean_hcc", "p90_hcc", "mean_charlson", "icd10_share", "low_coding_coverage")


def _coverage(con: BaseBackend, library: Library, as_of: Any) -> dict[str, dict[str, Any]]:
    from carevalue.engine.riskscores.crosswalk import from_library
    from carevalue.engine.riskscores.summary import icd10_coverage

    if as_of is None or not {"patients", "conditions"} <= set(con.list_tables()):
        return {}
    day = as_of.date() if hasattr(as_of, "date") else as_of
    rules = library.get("record-rules", "default")
    return {r["segment"]: r for r in rows_of(icd10_coverage(con, day, rules=rules,
                                                            crosswalk=from_library(library)))}


@needs("patient_risk_scores", "patient_charlson", "segments")
def by_segment(con: BaseBackend, library: Library) -> list[dict[str, Any]]:
    """Patients, mean and 90th-percentile HCC score and mean Charlson index per segment (on the
    scores' as-of date), highest mean HCC first, with the share of patients with any ICD-10 code;
    segments of fewer than 11 patients are hidden."""
    from carevalue.engine.riskscores.summary import risk_by_segment

    names = {k: v.title for k, v in library.kind("segments").items()}
    as_of = con.table("patient_risk_scores").as_of.max().execute()
    cover = _coverage(con, library, as_of)
    rows = []
    for r in rows_of(risk_by_segment(con)):
        c = cover.get(r["segment"], {})
        rows.append({"as_of": None if as_of is None else str(as_of)[:10], "segment": r["segment"],
                     "name": names.get(r["segment"], r["segment"]), "patients": int(r["patients"]),
                     **{k: None if r[k] is None else round(r[k], 3) for k in VALUES[:3]},
                     "icd10_share": None if c.get("any_share") is None else round(c["any_share"], 3),
                     "low_coding_coverage": c.get("low_coverage")})
    return privacy.suppress(rows, ("patients",), values=VALUES, group_by=("as_of",))
