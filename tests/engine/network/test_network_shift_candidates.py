"""The default phase shift prices every receiver in one frame (scenarios.shift_candidates); the
receiver it picks and the scenario it writes must be those of building a full shift_phases scenario
for every facility and choosing among them (the per-receiver loop it replaced)."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))
from network_frames import COND, YEAR, make_frames  # noqa: E402

from carevalue.engine.network import scenarios  # noqa: E402
from carevalue.engine.network.frames import NetworkFrames  # noqa: E402
from carevalue.pipeline.network_stage import _cheapest_receiver  # noqa: E402

PHASES = ("intervening", "monitoring-managing")
RECEIVERS = ("h1", "h2", "h3", "h4")
ROLES = ("surgeon", "nurse")


def _loop_choice(fr: NetworkFrames, hub: str) -> str | None:
    """The choice as the per-receiver loop made it: a full scenario per facility, feasible first."""
    tried = [scenarios.shift_phases(fr, f"x-{o}", COND, YEAR, hub, o, PHASES)
             for o in sorted(set(fr.rates.organization_id) - {hub})]
    priced = [r for r in tried if r.summary["projected_cost"] is not None and r.summary["moved_minutes"]]
    pool = [r for r in priced if r.summary["status"] == "feasible"] or priced
    return str(min(pool, key=lambda r: float(r.summary["projected_cost"] or 0.0)).summary["to_unit"]) if pool else None


rate = st.one_of(st.none(), st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0, 5.0]))
unused = st.sampled_from([0.0, 1_000.0, 5_000.0, 10_000.0])


@settings(max_examples=40, deadline=None)
@given(rates=st.lists(st.tuples(rate, rate), min_size=len(RECEIVERS), max_size=len(RECEIVERS)),
       caps=st.lists(st.tuples(unused, unused), min_size=len(RECEIVERS), max_size=len(RECEIVERS)))
def test_one_frame_picks_the_receiver_the_scenario_loop_picked(rates: list[tuple[float | None, float | None]],
                                                              caps: list[tuple[float, float]]) -> None:
    fr = make_frames()
    rr = [{"organization_id": "h0", "role": "surgeon", "rate_per_minute": 5.0},
          {"organization_id": "h0", "role": "nurse", "rate_per_minute": 2.0}]
    cc = [r for r in fr.capacity.to_dict("records") if r["organization_id"] == "h0"]
    for org, rs, us in zip(RECEIVERS, rates, caps, strict=True):
        for role, r, u in zip(ROLES, rs, us, strict=True):
            rr.append({"organization_id": org, "role": role, "rate_per_minute": r})
            cc.append({"organization_id": org, "role": role, "year": YEAR, "unused_minutes": u,
                       "used_minutes": 100.0, "practical_capacity_minutes": u + 100.0})
    fr.rates, fr.capacity = pd.DataFrame(rr), pd.DataFrame(cc)
    want = _loop_choice(fr, "h0")
    got = _cheapest_receiver(fr, COND, YEAR, "h0", PHASES)
    assert (got.summary["to_unit"] if got else None) == want
    if got is not None:
        full = scenarios.shift_phases(fr, "x", COND, YEAR, "h0", str(want), PHASES).summary
        assert got.summary["projected_cost"] == full["projected_cost"]
        assert got.summary["moved_minutes"] == full["moved_minutes"]


def test_candidates_flag_a_missing_role_and_capacity_exceeded() -> None:
    """h1 has a nurse rate only (surgeon minutes cannot be priced there); h0's surgeon minutes
    (8,000) exceed h1's nurse-only capacity; the nurse minutes (4,000) exceed h1's 1,000 unused."""
    c = scenarios.shift_candidates(make_frames(), COND, YEAR, "h0", ["h1"], PHASES).loc["h1"]
    assert bool(c.missing_role) and bool(c.exceeds)
    assert c.moved_minutes == 100.0 * 80 + 50.0 * 80
    n = scenarios.shift_candidates(make_frames(), COND, YEAR, "h0", ["h1"], ["monitoring-managing"]).loc["h1"]
    assert not bool(n.missing_role) and bool(n.exceeds)
    assert n.projected_cost == 50.0 * 80 * 1.5
