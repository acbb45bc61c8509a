"""Small-cell suppression: rows describing 1..10 patients are masked, others untouched."""

from __future__ import annotations

import pandas as pd

from carevalue.report.build import html_table, money
from carevalue.report.suppression import keep_large, suppress_small_cells


def frame() -> pd.DataFrame:
    return pd.DataFrame({"provider": ["a", "b", "c", "d"], "patients": [10, 11, 0, None],
                         "cost": [1234.5, 2000.0, None, 50.0]})


def test_small_rows_masked_and_large_kept() -> None:
    out = suppress_small_cells(frame())
    assert out.loc[0, "patients"] == "<11" and out.loc[0, "cost"] == "<11"  # 10 patients
    assert out.loc[1, "patients"] == 11 and out.loc[1, "cost"] == 2000.0  # 11 is shown
    assert out.loc[3, "cost"] == 50.0  # no patient count: not a patient-level row
    assert out.loc[0, "provider"] == "a"  # labels stay


def test_only_named_value_columns() -> None:
    out = suppress_small_cells(frame(), value_cols=["cost"])
    assert out.loc[0, "cost"] == "<11" and out.loc[0, "patients"] == "<11"


def test_keep_large_drops_small_rows_for_charts() -> None:
    assert keep_large(frame())["provider"].tolist() == ["b", "c", "d"]


def test_table_shows_mark_not_value() -> None:
    page = html_table(suppress_small_cells(frame()), formats={"cost": money})
    assert "1,234" not in page and page.count("&lt;11") == 2 and "2,000" in page
