"""by_segment: HCC and Charlson per segment on the scores' date, arithmetic by hand, small segments hidden."""

from __future__ import annotations

from datetime import date

import ibis
import pandas as pd
import pytest

from carevalue.definitions.loader import load_library
from carevalue.queries.riskscores import by_segment


@pytest.fixture(scope="module")
def con():  # type: ignore[no-untyped-def]
    """at-risk: 20 patients, HCC 0.5 (10) and 1.5 (10), Charlson 2 for the 1.5s; chronic 12; healthy 3."""
    people = [(f"a{i}", "at-risk", 0.5 if i < 10 else 1.5, 0 if i < 10 else 2) for i in range(20)]
    people += [(f"c{i}", "chronic", 2.0, 3) for i in range(12)] + [(f"h{i}", "healthy", 0.1, 0) for i in range(3)]
    as_of = date(2024, 12, 31)
    c = ibis.duckdb.connect()
    c.create_table("patient_risk_scores", pd.DataFrame(
        [(p, "CMS-HCC V24", s, 1, as_of) for p, _, s, _ in people],
        columns=["patient_id", "model", "score", "hcc_count", "as_of"]))
    c.create_table("patient_charlson", pd.DataFrame(
        [(p, as_of, "charlson", ch) for p, _, _, ch in people], columns=["patient_id", "as_of", "index", "score"]))
    c.create_table("segments", pd.DataFrame(
        [(p, seg, date(2020, 1, 1), None) for p, seg, _, _ in people],
        columns=["patient_id", "segment", "valid_from", "valid_to"]).astype({"valid_to": "datetime64[s]"}))
    return c


def test_means_by_hand_and_small_segments_hidden(con) -> None:  # type: ignore[no-untyped-def]
    rows = {r["segment"]: r for r in by_segment(con, load_library())}
    a = rows["at-risk"]
    # mean HCC (10 × 0.5 + 10 × 1.5) / 20 = 1.0; mean Charlson (10 × 0 + 10 × 2) / 20 = 1.0
    assert (a["patients"], a["mean_hcc"], a["mean_charlson"], a["suppressed"]) == (20, 1.0, 1.0, False)
    assert 0.5 <= a["p90_hcc"] <= 1.5 and a["name"] == "At risk" and a["as_of"] == "2024-12-31"
    # healthy (3) is below 11; the rows add up to everyone scored, so chronic (12, next smallest) goes too
    for seg in ("healthy", "chronic"):
        assert rows[seg]["patients"] == "<11" and rows[seg]["mean_hcc"] is None and rows[seg]["suppressed"]
