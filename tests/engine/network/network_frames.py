"""A hand-built network (three hospitals, one condition) for the scenario tests."""

from __future__ import annotations

import pandas as pd

from carevalue.engine.network.frames import NetworkFrames

COND = "cond-x"
YEAR = 2024


def make_frames(hub_unused_surgeon: float = 1_000.0, cycles: tuple[int, int, int] = (40, 10, 5)) -> NetworkFrames:
    """hub h0 (better, cheaper), spokes h1 (average) and h2 (worse, small). The hub's process needs
    100 surgeon minutes and 50 nurse minutes per cycle; spare capacity is set per test."""
    orgs = ("h0", "h1", "h2")
    cyc = pd.DataFrame({"condition": COND, "organization_id": orgs, "year": YEAR, "cycles": list(cycles),
                        "total_cost": [n * c for n, c in zip(cycles, (1000.0, 1500.0, 2000.0), strict=True)]})
    outcomes = pd.DataFrame([
        # event measure: observed, expected over n cycles (O/E, CI)
        {"condition": COND, "measure": "complications", "time_point": "90 days", "scale": None,
         "statistic": "O/E events", "organization_id": o, "n": n, "observed": obs, "expected": exp,
         "oe": obs / exp, "ci_low": lo, "ci_high": hi, "flag_95": flag}
        for o, n, obs, exp, lo, hi, flag in (("h0", 80, 2.0, 4.0, 0.06, 1.8, "better"),
                                             ("h1", 20, 1.0, 1.0, 0.03, 5.6, "as expected"),
                                             ("h2", 10, 3.0, 0.5, 1.2, 17.5, "worse"))
    ] + [
        {"condition": COND, "measure": "function", "time_point": "1 year", "scale": "score",
         "statistic": "O-E mean", "organization_id": o, "n": n, "observed": obs, "expected": exp,
         "oe": obs - exp, "ci_low": obs - exp - 2, "ci_high": obs - exp + 2, "flag_95": "as expected"}
        for o, n, obs, exp in (("h0", 80, 75.0, 70.0), ("h1", 20, 70.0, 70.0), ("h2", 10, 60.0, 66.0))
    ])
    costs = pd.DataFrame({"condition": COND, "organization_id": orgs, "n": [80, 20, 10],
                          "mean_cost": [1000.0, 1500.0, 2000.0], "sd_cost": [200.0, 300.0, 400.0]})
    process = pd.DataFrame([
        {"condition": COND, "cycle_organization_id": "h0", "facility_id": "h0", "role": "surgeon",
         "phase": "intervening", "year": YEAR, "minutes": 100.0 * 80, "labour_cost": 100.0 * 80 * 5},
        {"condition": COND, "cycle_organization_id": "h0", "facility_id": "h0", "role": "nurse",
         "phase": "monitoring-managing", "year": YEAR, "minutes": 50.0 * 80, "labour_cost": 50.0 * 80 * 2},
        {"condition": COND, "cycle_organization_id": "h1", "facility_id": "h1", "role": "nurse",
         "phase": "monitoring-managing", "year": YEAR, "minutes": 300.0, "labour_cost": 300.0 * 2},
    ])
    capacity = pd.DataFrame([
        {"organization_id": "h0", "role": "surgeon", "year": YEAR, "unused_minutes": hub_unused_surgeon,
         "used_minutes": 5000.0, "practical_capacity_minutes": 5000.0 + hub_unused_surgeon},
        {"organization_id": "h0", "role": "nurse", "year": YEAR, "unused_minutes": 10_000.0,
         "used_minutes": 4000.0, "practical_capacity_minutes": 14_000.0},
        {"organization_id": "h1", "role": "nurse", "year": YEAR, "unused_minutes": 1_000.0,
         "used_minutes": 300.0, "practical_capacity_minutes": 1_300.0},
    ])
    rates = pd.DataFrame({"organization_id": ["h0", "h0", "h1"], "role": ["surgeon", "nurse", "nurse"],
                          "rate_per_minute": [5.0, 2.0, 1.5]})
    homes = pd.DataFrame({"condition": COND, "organization_id": ["h1", "h2"], "year": YEAR,
                          "postal_code": ["A", "B"], "cycles": [cycles[1], cycles[2]]})
    return NetworkFrames(cyc, outcomes, costs, process, capacity, rates, homes)
