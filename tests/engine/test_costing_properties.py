"""Property tests of TDABC arithmetic (hypothesis): invariances any correct costing must keep."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from costing_store import memory_backend
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carevalue.definitions.loader import load_library
from carevalue.definitions.process_map import CostingPolicy
from carevalue.engine.capacity import capacity_use
from carevalue.engine.costing import build

RULES = load_library().get("record-rules", "default")
POLICY = CostingPolicy(id="p", title="p")
RESOURCES = [("R1", "surgeon", 500_000.0, 100_000.0), ("R2", "nurse", 90_000.0, 90_000.0),
             ("R3", "operating-room", 600_000.0, 30_000.0)]
T0 = datetime(2024, 1, 1)
SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# An activity: (cycle 0/1, resource index, whole minutes, day of year)
activity = st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(1, 400), st.integers(0, 360))


def _world(acts: list[tuple[int, int, float, int]], resources=RESOURCES) -> dict:  # type: ignore[no-untyped-def]
    rows = [{"activity_id": f"A{i}", "patient_id": f"P{c}", "encounter_id": f"E{c}", "resource_id": resources[r][0],
             "step_code": "s", "start_ts": T0 + timedelta(days=d), "minutes": float(m)}
            for i, (c, r, m, d) in enumerate(acts)]
    return {
        "patients": [{"patient_id": "P0"}, {"patient_id": "P1"}],
        "resources": [{"resource_id": rid, "resource_type": "person", "role": role, "organization_id": "O",
                       "annual_cost": cost, "practical_capacity_minutes": cap} for rid, role, cost, cap in resources],
        "encounters": [{"encounter_id": f"E{c}", "patient_id": f"P{c}", "start_ts": T0} for c in (0, 1)],
        "activities": rows,
        "care_cycles": [{"cycle_id": f"C{c}", "patient_id": f"P{c}", "condition": "x", "cycle_type": "acute",
                         "organization_id": "O"} for c in (0, 1)],
        "cycle_events": [{"cycle_id": f"C{c}", "patient_id": f"P{c}", "condition": "x", "event_table": "encounters",
                          "event_id": f"E{c}", "encounter_id": f"E{c}", "phase": "intervening",
                          "cost_bearing": True} for c in (0, 1)],
    }


def _cycle_totals(acts: list[tuple[int, int, float, int]]) -> dict[str, float]:
    be = memory_backend(_world(acts))
    t = build(be, maps=[], policy=POLICY, rules=RULES)["cycle_cost_totals"].execute()
    t = t[t.cost_source != "not-costed"]   # a cycle without activities has no cost (null), not 0
    return dict(zip(t.cycle_id, t.labour_cost, strict=True))


@SETTINGS
@given(acts=st.lists(activity, min_size=1, max_size=12), cuts=st.lists(st.integers(1, 399), max_size=12))
def test_total_cost_invariant_to_splitting_rows(acts, cuts) -> None:  # type: ignore[no-untyped-def]
    # Split activity i into two rows at minute cuts[i] (when it fits): same resource, same cycle.
    split = []
    for i, (c, r, m, d) in enumerate(acts):
        k = cuts[i] if i < len(cuts) else 0
        if 0 < k < m:
            split += [(c, r, k, d), (c, r, m - k, d)]
        else:
            split.append((c, r, m, d))
    whole, parts = _cycle_totals(acts), _cycle_totals(split)
    assert whole.keys() == parts.keys()
    for k in whole:
        assert parts[k] == pytest.approx(whole[k], rel=1e-12)


@SETTINGS
@given(acts=st.lists(activity, min_size=1, max_size=12))
def test_doubling_minutes_doubles_labour_cost(acts) -> None:  # type: ignore[no-untyped-def]
    base = _cycle_totals(acts)
    doubled = _cycle_totals([(c, r, 2 * m, d) for c, r, m, d in acts])
    assert doubled.keys() == base.keys()
    for k in base:
        assert doubled[k] == pytest.approx(2 * base[k], rel=1e-12)


@SETTINGS
@given(acts=st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2), st.integers(1, 20_000), st.integers(0, 360)),
                     min_size=1, max_size=15),
       caps=st.lists(st.integers(1_000, 60_000), min_size=3, max_size=3))
def test_allocated_cost_within_capacity_unless_over_capacity(acts, caps) -> None:  # type: ignore[no-untyped-def]
    resources = [(rid, role, cost, float(cap)) for (rid, role, cost, _), cap in zip(RESOURCES, caps, strict=True)]
    be = memory_backend(_world(acts, resources))
    ex = build(be, maps=[], policy=POLICY, rules=RULES)
    use = capacity_use(ex["activity_costs"], ex["capacity_cost_rates"]).execute()
    assert len(use) > 0
    for row in use.itertuples():
        if not row.over_capacity:
            assert row.allocated_cost <= row.capacity_cost * (1 + 1e-9)
        else:
            assert row.used_minutes > row.practical_capacity_minutes
    # and the property is not vacuous: heavy use does get reported as over capacity
    if any(m > 60_000 for _, _, m, _ in acts):
        assert use.over_capacity.any()
