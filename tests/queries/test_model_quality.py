"""queries.model_quality on hand-made comparison and calibration tables: one row per comparison
with the arithmetic written out, nothing the status does not support, no count of 1..10, and
calibration points pooled so that each has at least 11 cycles, events and non-events."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carevalue.engine.outcome_comparison import COMPARISON_COLUMNS
from carevalue.model import declared
from carevalue.queries.model_quality import _pooled, calibration, model_quality
from carevalue.queries.privacy import MARK, scrub_text

LIB: Any = None  # the queries read no definitions
CV = "5-fold cross-validated"


def _row(cond: str, measure: str, org: str | None, **kw: Any) -> dict[str, Any]:
    r: dict[str, Any] = dict.fromkeys(COMPARISON_COLUMNS)
    r.update(condition=cond, measure=measure, time_point="90 days", scale=None, organization_id=org, **kw)
    return r


OK_MODEL = dict(statistic="O/E events", model="logistic", adjustment="reduced case-mix", variables="age,sex",
                events=40.0, parameters=3, c_statistic=0.71, c_low=0.65, c_high=0.77, calibration_intercept=-0.05,
                calibration_slope=0.92, validation=CV, phi=1.3, overdispersion="multiplicative φ 1.30",
                status="ok")


def _typed(table: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows as a frame with the declared column types (so all-null columns keep a type)."""
    cols = declared(table).columns
    dtypes = {"VARCHAR": "string", "DOUBLE": "float64", "BIGINT": "Int64", "INTEGER": "Int64"}
    return pd.DataFrame(rows, columns=[c.name for c in cols]).astype({c.name: dtypes[c.type] for c in cols})


@pytest.fixture()
def con():  # type: ignore[no-untyped-def]
    rows = [
        # an ok comparison over three providers: 120 + 200 + 80 = 400 cycles, 110 + 180 + 75 = 365 patients
        _row("hip", "complications", "a", n=120.0, patients=110, **OK_MODEL),
        _row("hip", "complications", "b", n=200.0, patients=180, **OK_MODEL),
        _row("hip", "complications", "c", n=80.0, patients=75, **OK_MODEL),
        # a status row whose stored statistics the status does not support
        _row("hip", "mortality", None, n=400.0, events=4.0, c_statistic=0.9, calibration_slope=1.0,
             status="insufficient data", reason="4 events: fewer than 10, too few for any comparison",
             model="logistic"),
        # not estimable: 4 still at risk
        _row("hip", "survival", None, n=400.0, at_risk=4, status="not estimable",
             reason="4 of 400 patients still followed at '5 years'"),
        # ok, but only 10 events: the row describes a small cell
        _row("knee", "complications", "a", n=60.0, patients=60, **{**OK_MODEL, "events": 10.0, "parameters": 1}),
        _row("knee", "complications", "b", n=70.0, patients=70, **{**OK_MODEL, "events": 10.0, "parameters": 1}),
        # ok linear model validated in-sample: intercept 0 by construction
        _row("knee", "pain", "a", n=60.0, patients=60, **{**OK_MODEL, "model": "linear", "statistic": "O-E mean",
                                                           "events": 130.0, "parameters": 0, "c_statistic": None,
                                                           "c_low": None, "c_high": None,
                                                           "calibration_intercept": 3e-14, "calibration_slope": None,
                                                           "validation": "apparent (in-sample) mean residual",
                                                           "adjustment": "crude"}),
        _row("knee", "pain", "b", n=70.0, patients=70, **{**OK_MODEL, "model": "linear", "statistic": "O-E mean",
                                                           "events": 130.0, "parameters": 0, "c_statistic": None,
                                                           "c_low": None, "c_high": None,
                                                           "calibration_intercept": 3e-14, "calibration_slope": None,
                                                           "validation": "apparent (in-sample) mean residual",
                                                           "adjustment": "crude"}),
    ]
    c = ibis.duckdb.connect()
    c.create_table("outcome_comparison", _typed("outcome_comparison", rows))
    deciles = [(d, 40, obs, exp, exp / 40) for d, obs, exp in
               [(1, 0, 0.4), (2, 1, 0.9), (3, 2, 1.5), (4, 3, 2.2), (5, 3, 3.0), (6, 4, 4.1), (7, 6, 5.0),
                (8, 7, 6.5), (9, 9, 8.9), (10, 14, 16.0)]]
    cal = [{"condition": "hip", "measure": "complications", "time_point": "90 days", "scale": None, "decile": d,
            "n": n, "observed": float(o), "expected": e, "mean_predicted": m, "validation": CV}
           for d, n, o, e, m in deciles]
    # calibration of the unsupported comparison must not come back
    cal += [{**r, "measure": "mortality"} for r in cal]
    c.create_table("outcome_calibration", _typed("outcome_calibration", cal))
    return c


def _by(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["condition"], r["measure"]): r for r in rows}


def test_one_row_per_comparison_with_its_model(con) -> None:  # type: ignore[no-untyped-def]
    rows = _by(model_quality(con, LIB))
    assert len(rows) == 5
    r = rows["hip", "complications"]
    assert (r["providers"], r["n"], r["patients"]) == (3, 400.0, 365)
    assert (r["events"], r["parameters"]) == (40.0, 3)
    assert r["events_per_parameter"] == pytest.approx(40 / 3)
    assert (r["c_statistic"], r["c_low"], r["c_high"]) == (0.71, 0.65, 0.77)
    assert (r["calibration_intercept"], r["calibration_slope"]) == (-0.05, 0.92)
    assert r["adjustment"] == "reduced case-mix" and r["variables"] == "age,sex" and r["status"] == "ok"
    assert r["suppressed"] is False


def test_status_rows_print_no_statistic_and_no_small_count(con) -> None:  # type: ignore[no-untyped-def]
    rows = _by(model_quality(con, LIB))
    m = rows["hip", "mortality"]
    assert m["status"] == "insufficient data"
    assert m["c_statistic"] is None and m["calibration_slope"] is None  # stored, but not supported
    assert m["events"] == MARK and m["reason"].startswith(f"{MARK} events")
    s = rows["hip", "survival"]
    assert s["status"] == "not estimable" and s["at_risk"] == MARK and s["n"] == 400.0
    assert s["reason"] == f"{MARK} of 400 patients still followed at '5 years'"


def test_counts_inside_reasons_are_scrubbed() -> None:
    assert scrub_text("4 of 21 patients still followed (8 censored before it); 0 of 9 events") == (
        f"{MARK} of 21 patients still followed ({MARK} censored before it); 0 of {MARK} events")


def test_ten_events_hide_the_model_statistics_but_keep_parameters(con) -> None:  # type: ignore[no-untyped-def]
    k = _by(model_quality(con, LIB))["knee", "complications"]
    assert k["suppressed"] is True and k["events"] == MARK
    assert k["c_statistic"] is None and k["events_per_parameter"] is None and k["parameters"] == 1


def test_in_sample_calibration_is_not_reported(con) -> None:  # type: ignore[no-untyped-def]
    p = _by(model_quality(con, LIB))["knee", "pain"]
    assert p["status"] == "ok" and p["calibration_intercept"] is None and p["calibration_slope"] is None
    assert p["events_per_parameter"] is None  # crude: no parameter to divide by


def test_calibration_points_pooled_golden(con) -> None:  # type: ignore[no-untyped-def]
    pts = calibration(con, LIB)
    assert {r["measure"] for r in pts} == {"complications"}  # not the insufficient comparison
    # deciles 1-5: n 200, observed 0+1+2+3+3 = 9 < 11; 1-6: observed 13, non-events 227 -> group 1
    # 7-8: observed 6+7 = 13 -> group 2; 9-10: 9+14 = 23 -> group 3
    assert [r["deciles"] for r in pts] == ["1–6", "7–8", "9–10"]
    assert [r["n"] for r in pts] == [240.0, 80.0, 80.0]
    assert [r["observed"] for r in pts] == [13.0, 13.0, 23.0]
    assert pts[0]["expected"] == pytest.approx(0.4 + 0.9 + 1.5 + 2.2 + 3.0 + 4.1)
    assert pts[1]["observed_rate"] == pytest.approx(13 / 80)
    assert pts[2]["expected_rate"] == pytest.approx((8.9 + 16.0) / 80)
    assert not any(r["suppressed"] for r in pts)


def test_short_remainder_joins_the_last_group() -> None:
    d = [{"decile": i, "n": 30, "observed": o, "expected": float(o), "validation": CV}
         for i, o in enumerate([12, 12, 3], start=1)]
    assert [(g["deciles"], g["observed"]) for g in _pooled(d)] == [("1", 12.0), ("2–3", 15.0)]
    assert _pooled([{"decile": 1, "n": 100, "observed": 10, "expected": 9.0}]) == []  # 10 events in all


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60)), min_size=1, max_size=10))
def test_pooled_groups_never_small_and_conserve_totals(cells: list[tuple[int, int]]) -> None:
    d = [{"decile": i, "n": a + b, "observed": a, "expected": a / 2} for i, (a, b) in enumerate(cells, start=1)]
    out = _pooled(d)
    total_n, total_o = sum(a + b for a, b in cells), sum(a for a, _ in cells)
    if not out:
        assert min(total_n, total_o, total_n - total_o) < 11 or total_n == 0
        return
    for g in out:
        assert g["n"] >= 11 and g["observed"] >= 11 and g["n"] - g["observed"] >= 11
    assert sum(g["n"] for g in out) == total_n and sum(g["observed"] for g in out) == total_o
