"""The comparison's model frames (issue 12): fetched once for every measure, they must hold the same
rows and case-mix columns the backend join of ``outcomes.measure_rows`` builds, and a comparison
must not depend on the order the backend returned the rows in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

KEYS = ["cycle_id", "time_point", "scale", "organization_id"]


@pytest.fixture(scope="module")
def reader(synthetic_store: Path) -> Any:
    from carevalue.definitions.loader import load_library
    from carevalue.engine.outcome_frames import ModelFrames
    from carevalue.pipeline.runs import RunStore

    con = RunStore(synthetic_store).open_reader()
    tpls = [t for t in load_library().conditions() if t.outcomes]
    yield con, tpls, ModelFrames.fetch(con, tpls)
    con.disconnect()


def _sorted(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = df[columns].copy()
    for c in out.columns:
        if not pd.api.types.is_numeric_dtype(out[c]):
            out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.sort_values(columns, na_position="first", kind="mergesort").reset_index(drop=True)


def _numbers(z: pd.Series) -> np.ndarray | None:
    try:  # object columns hold numbers beside the status rows' nulls
        return np.asarray(pd.to_numeric(z.astype(object).where(z.notna(), None)), dtype=float)
    except (ValueError, TypeError):
        return None


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert len(a) == len(b)
    for c in a.columns:
        x, y = a[c], b[c]
        xf, yf = _numbers(x), _numbers(y)
        if xf is not None and yf is not None:
            assert np.allclose(xf, yf, rtol=1e-9, atol=0, equal_nan=True), c
        else:
            assert x.astype(object).where(x.notna(), None).tolist() == \
                y.astype(object).where(y.notna(), None).tolist(), c


def test_model_frames_hold_the_rows_the_backend_join_builds(reader: Any) -> None:
    from carevalue.engine import outcomes

    con, tpls, frames = reader
    checked = 0
    for tpl in tpls:
        for m in tpl.outcomes:
            ours, variables, text, notes = frames.measure_rows([tpl], m.id)
            rows, v2, t2, n2 = outcomes.measure_rows(con, [tpl], m.id)
            assert (variables, text, notes) == (v2, t2, n2), m.id
            cols = [*KEYS, "value", "event", "time_days", *variables]
            _assert_same(_sorted(ours, cols), _sorted(rows.to_pandas(), cols))
            checked += bool(variables) and len(ours) > 0
    assert checked >= 3  # measures with rows and case-mix variables were compared


def test_pooled_templates_add_the_condition_as_a_variable(reader: Any) -> None:
    _con, tpls, frames = reader
    by_measure: dict[str, list[Any]] = {}
    for t in tpls:
        for m in t.outcomes:
            by_measure.setdefault(m.id, []).append(t)
    measure, pool = next((k, v) for k, v in sorted(by_measure.items()) if len(v) > 1)
    rows, variables, text, _ = frames.measure_rows(pool, measure)
    assert variables[-1] == "pooled_condition" and "pooled_condition" in text
    assert set(rows["pooled_condition"]) <= {t.id for t in pool}
    assert len(rows) == sum(len(frames.rows(t.id, measure)) for t in pool)


def test_comparison_does_not_depend_on_row_order(reader: Any) -> None:
    from carevalue.engine import outcomes
    from carevalue.engine.outcome_frames import ModelFrames

    con, tpls, frames = reader
    shuffled = ModelFrames({k: v.sample(frac=1.0, random_state=1).reset_index(drop=True)
                            for k, v in frames.values.items()}, frames.wides)
    ok = 0
    for tpl in tpls:
        for m in tpl.outcomes:
            a = outcomes.compare_measure(con, [tpl], m.id, frames=frames)
            b = outcomes.compare_measure(con, [tpl], m.id, frames=shuffled)
            key = ["time_point", "scale", "organization_id", "status"]
            _assert_same(_sorted(a, list(a.columns)) if a.empty else a.sort_values(key).reset_index(drop=True),
                         b.sort_values(key).reset_index(drop=True))
            assert a.attrs["calibration"] == b.attrs["calibration"] or np.allclose(
                pd.DataFrame(a.attrs["calibration"])[["n", "observed", "expected"]].to_numpy(float),
                pd.DataFrame(b.attrs["calibration"])[["n", "observed", "expected"]].to_numpy(float), rtol=1e-9)
            ok += int((a.status == "ok").sum() > 0 and a.c_statistic.notna().any())
    assert ok >= 1  # a comparison with a fitted, cross-validated model was checked (400-patient store)
