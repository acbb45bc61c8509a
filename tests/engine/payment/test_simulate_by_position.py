"""The vectorised simulation matches warranty events to ledger rows by position: the sums per cycle
equal settle_warranty's group-by on cycle ids, and the ledger keeps its string columns."""

from __future__ import annotations

import numpy as np
import pandas as pd

from carevalue.engine.payment.simulate import WARRANTY_SUMS, _settle_by_position, settle_warranty


def _events() -> pd.DataFrame:
    return pd.DataFrame({
        "cycle_id": ["c2", "c0", "c2", "cX"], "encounter_id": ["e1", "e2", "e3", "e4"], "warranty": "w",
        "day": [400.0, 30.0, 800.0, 500.0], "in_cycle": [False, True, False, False],
        "extended": [False, False, True, False], "covered_days": 730, "extended_days": 1826,
        "cost": [9000.0, 500.0, 7000.0, 100.0], "charges": [20000.0, 800.0, 15000.0, 200.0]})


def test_sums_by_position_equal_the_group_by_on_cycle_ids() -> None:
    led = pd.DataFrame({"cycle_id": ["c0", "c1", "c2"]}, index=[10, 11, 12])
    ev = _events()
    ev["_pos"] = pd.Index(led["cycle_id"]).get_indexer(ev["cycle_id"])
    got = _settle_by_position(led, ev, pd.Series(True, index=led.index), 91, None)
    want = settle_warranty(ev[ev.cycle_id != "cX"], 91).set_index("cycle_id").reindex(led.cycle_id)
    want = want.astype("float64").fillna(0.0).set_axis(led.index)
    pd.testing.assert_frame_equal(got[list(WARRANTY_SUMS)], want[list(WARRANTY_SUMS)], check_dtype=False)
    # c2: day 400 covered (2 years), day 800 covered by the 5-year extension; neither in the cycle
    assert got.loc[12, "covered_cost"] == 16000 and got.loc[12, "uncovered_charges_out"] == 0
    assert np.all(got.loc[11].to_numpy() == 0)


def test_rows_outside_the_bundle_get_no_events() -> None:
    led = pd.DataFrame({"cycle_id": ["c0", "c1", "c2"]})
    ev = _events()
    ev["_pos"] = pd.Index(led["cycle_id"]).get_indexer(ev["cycle_id"])
    got = _settle_by_position(led, ev, pd.Series([True, True, False]), 91, None)
    assert got.loc[2, "warranty_events"] == 0 and got.loc[0, "warranty_events"] == 1
