"""Scenario invariants on a hand-built network (network_frames.py): cycles conserved, capacity
respected (refused when exceeded), the projection arithmetic, and moving zero cycles changes nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network_frames import COND, YEAR, make_frames  # noqa: E402

from carevalue.definitions.ipu_facts import IpuFacts  # noqa: E402
from carevalue.engine.network.distance import Geography, haversine_km  # noqa: E402
from carevalue.engine.network.scenarios import consolidate, shift_phases  # noqa: E402

DIRS = {"complications": "lower-better", "function": "higher-better"}


def test_consolidation_conserves_cycles_and_projects_by_indirect_standardisation() -> None:
    r = consolidate(make_frames(hub_unused_surgeon=5_000), "s", COND, YEAR, ["h2"], "h0", DIRS)
    s = r.summary
    assert s["status"] == "feasible"
    assert s["moved_cycles"] == 5
    assert s["cycles_before"] == s["cycles_after"] == 55
    v = r.volumes.set_index("organization_id")
    assert (v.loc["h0", "cycles_after"], v.loc["h2", "cycles_after"]) == (45, 0)
    # cost: 5 cycles x hub mean 1000 = 5000 vs h2's actual 5 x 2000 = 10000; interval 1000 +- 1.96*200/sqrt(80)
    assert s["projected_cost"] == pytest.approx(5000.0)
    assert s["current_cost"] == pytest.approx(10_000.0)
    assert s["projected_cost_low"] == pytest.approx(5 * (1000 - 1.959963984540054 * 200 / 80 ** 0.5))
    o = r.outcomes.set_index("measure")
    # events: h2 rate now 3/10 = 0.30; expected per cycle 0.5/10 = 0.05, x hub O/E 0.5 = 0.025 (CI 0.05 x 0.06 .. x 1.8)
    assert o.loc["complications", "current"] == pytest.approx(0.30)
    assert o.loc["complications", "projected"] == pytest.approx(0.025)
    assert o.loc["complications", "projected_high"] == pytest.approx(0.05 * 1.8)
    assert bool(o.loc["complications", "better"])
    # means: h2 now 60; expected 66 + hub O-E (75 - 70 = 5) = 71 (CI 69..73)
    assert o.loc["function", "projected"] == pytest.approx(71.0)
    assert (o.loc["function", "projected_low"], o.loc["function", "projected_high"]) == (pytest.approx(69.0), pytest.approx(73.0))
    # capacity: 5 cycles x 100 surgeon minutes = 500 needed at h0
    cap = r.capacity.set_index("role")
    assert cap.loc["surgeon", "needed_minutes"] == pytest.approx(500.0)
    assert not cap.exceeds.any()


def test_consolidation_refused_when_practical_capacity_would_be_exceeded() -> None:
    r = consolidate(make_frames(hub_unused_surgeon=400), "s", COND, YEAR, ["h1", "h2"], "h0", DIRS)
    assert r.summary["status"] == "refused"
    assert "surgeon at h0 needs 1,500 min, 400 unused" in str(r.summary["message"])
    assert r.summary["cycles_before"] == r.summary["cycles_after"]


@settings(max_examples=25, deadline=None)
@given(c0=st.integers(0, 200), c1=st.integers(0, 50), unused=st.floats(0, 1e5))
def test_moving_zero_cycles_changes_nothing(c0: int, c1: int, unused: float) -> None:
    fr = make_frames(hub_unused_surgeon=unused, cycles=(c0, c1, 0))
    r = consolidate(fr, "zero", COND, YEAR, ["h2"], "h0", DIRS)
    s = r.summary
    assert s["moved_cycles"] == 0
    assert (r.volumes.cycles_before == r.volumes.cycles_after).all()
    assert s["current_cost"] == 0.0 and s["projected_cost"] == 0.0 and s["cost_change"] == 0.0
    assert s["status"] == "feasible"
    assert (r.capacity.needed_minutes == 0).all()
    assert (r.outcomes.change == 0).all()


@settings(max_examples=25, deadline=None)
@given(c=st.tuples(st.integers(0, 100), st.integers(0, 100), st.integers(0, 100)),
       senders=st.sets(st.sampled_from(["h0", "h1", "h2"])), unused=st.floats(0, 1e5))
def test_cycles_are_conserved_and_feasible_means_within_capacity(c: tuple[int, int, int], senders: set[str],
                                                                 unused: float) -> None:
    r = consolidate(make_frames(hub_unused_surgeon=unused, cycles=c), "p", COND, YEAR, sorted(senders), "h0", DIRS)
    assert r.summary["cycles_before"] == r.summary["cycles_after"] == sum(c)
    assert r.volumes.cycles_after.sum() == r.volumes.cycles_before.sum()
    if r.summary["status"] == "feasible":
        assert (r.capacity.needed_minutes <= r.capacity.unused_minutes + 1e-9).all()
    else:
        assert r.capacity.exceeds.any()


def test_phase_shift_prices_at_receiver_rates_and_refuses_missing_roles() -> None:
    fr = make_frames()
    r = shift_phases(fr, "ps", COND, YEAR, "h0", "h1", ["monitoring-managing"])
    # 4000 nurse minutes: now 4000 x 2.0 = 8000, at h1 4000 x 1.5 = 6000; h1 has 1000 unused -> refused
    assert r.summary["current_cost"] == pytest.approx(8000.0)
    assert r.summary["projected_cost"] == pytest.approx(6000.0)
    assert r.summary["status"] == "refused"
    m = r.volumes.set_index("organization_id")
    assert m.minutes_before.sum() == pytest.approx(m.minutes_after.sum())
    r2 = shift_phases(fr, "ps2", COND, YEAR, "h0", "h1", ["intervening"])
    assert r2.summary["status"] == "refused" and "surgeon" in str(r2.summary["message"])


def test_travel_distance_from_facts_coordinates() -> None:
    # one degree of latitude on the mean sphere: 6371.0088 x pi / 180 = 111.195 km
    assert haversine_km(0, 0, 1, 0) == pytest.approx(111.195, abs=1e-3)
    facts = IpuFacts.model_validate({
        "sites": [{"organization_id": o, "latitude": lat, "longitude": 0.0} for o, lat in (("h0", 0.0), ("h1", 1.0), ("h2", 2.0))],
        "postal_areas": [{"postal_code": "A", "latitude": 1.0, "longitude": 0.0}, {"postal_code": "B", "latitude": 2.0, "longitude": 0.0}]})
    r = consolidate(make_frames(hub_unused_surgeon=1e5), "t", COND, YEAR, ["h1", "h2"], "h0", DIRS, Geography(facts))
    # now everyone is treated at home (0 km); at h0: 10 cycles x 111.2 + 5 x 222.4 over 15
    assert r.summary["current_travel_km"] == pytest.approx(0.0, abs=1e-9)
    assert r.summary["projected_travel_km"] == pytest.approx((10 * 111.195 + 5 * 222.39) / 15, abs=1e-2)
