"""Part years: a provider observed for only some months of a year has its volume annualised
(count x 12 / observed months, stated as annualised with the observed period), and each standard is
checked on the period it states: G-BA on the calendar year (with the prognosis' rolling half years),
Leapfrog on the calendar year or the two-year annual average. Arithmetic written out."""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd
import pytest

from carevalue.definitions.loader import load
from carevalue.engine.network.standards import check, threshold_table
from carevalue.engine.network.volume import annualised, observation_windows, volume

CON = ibis.duckdb.connect()
_VOL = {"condition": "string", "level": "string", "unit_id": "string", "organization_id": "string", "year": "int64",
        "cycles": "int64", "patients": "int64", "cycles_first_half": "int64", "cycles_second_half": "int64",
        "observed_months": "int64", "annualised_cycles": "float64"}


@pytest.fixture(scope="module")
def thresholds() -> ibis.Table:
    return threshold_table(list(load().kind("standards").values()))


def _vol(rows: list[tuple[Any, ...]]) -> ibis.Table:
    """(condition, level, unit, year, cycles, first half, second half, observed months)."""
    out = [{"condition": c, "level": lv, "unit_id": u, "organization_id": u, "year": y, "cycles": n, "patients": n,
            "cycles_first_half": h1, "cycles_second_half": h2, "observed_months": m,
            "annualised_cycles": None if m is None else n * 12 / m} for c, lv, u, y, n, h1, h2, m in rows]
    return ibis.memtable(out, schema=_VOL)


def _null(x: Any) -> bool:
    return x is None or bool(pd.isna(x))


def _checks(vol: ibis.Table, thresholds: ibis.Table) -> dict[tuple[str, str, int], Any]:
    df = CON.execute(check(vol, thresholds))
    return {(r.threshold, r.unit_id, r.year): r for r in df.itertuples()}


def test_annualised_volume_of_a_part_year() -> None:
    # The organization's first encounter of 2024 is in June, its last in December: observed
    # months 12 - 6 + 1 = 7; 20 cycles annualise to 20 x 12 / 7 = 34.29.
    enc = ibis.memtable({"organization_id": ["o1", "o1", "o1", "o2"],
                         "start_ts": ["2024-06-03 10:00", "2024-09-01 10:00", "2024-12-30 10:00", "2024-01-02 10:00"]})
    enc = enc.mutate(start_ts=enc.start_ts.cast("timestamp"))
    w = CON.execute(observation_windows(enc)).set_index("organization_id")
    assert (w.loc["o1", "first_month"], w.loc["o1", "last_month"], w.loc["o1", "observed_months"]) == (6, 12, 7)
    assert w.loc["o2", "observed_months"] == 1
    months = [6] * 5 + [8] * 10 + [11] * 5          # 5 in the first half, 15 in the second
    idx = ibis.memtable({"cycle_id": [f"c{i}" for i in range(20)], "patient_id": [f"p{i}" for i in range(20)],
                         "condition": ["knee"] * 20, "year": [2024] * 20, "month": months,
                         "organization_id": ["o1"] * 20, "facility_id": ["l1"] * 20, "clinician_id": [None] * 20},
                        schema={"cycle_id": "string", "patient_id": "string", "condition": "string", "year": "int64",
                                "month": "int64", "organization_id": "string", "facility_id": "string",
                                "clinician_id": "string"})
    v = CON.execute(volume(idx, observation_windows(enc))).set_index("level")
    org = v.loc["organization"]
    assert (org.cycles, org.cycles_first_half, org.cycles_second_half, org.observed_months) == (20, 5, 15, 7)
    assert org.annualised_cycles == pytest.approx(20 * 12 / 7) == pytest.approx(34.2857, abs=1e-4)
    assert v.loc["facility"].observed_months == 7     # the site takes its organization's window
    assert annualised(20, 7) == pytest.approx(34.2857, abs=1e-4)


def test_a_part_year_below_the_minimum_is_not_assessable(thresholds: ibis.Table) -> None:
    by = _checks(_vol([("knee-osteoarthritis", "facility", "s1", 2024, 20, 5, 15, 7),
                       ("knee-osteoarthritis", "facility", "s2", 2024, 55, 25, 30, 7),
                       ("knee-osteoarthritis", "facility", "s3", 2024, 40, 20, 20, 12)]), thresholds)
    # G-BA knee: 50 per site and calendar year. s1 counted 20 in 7 months: not judged below
    # (the standard counts the whole year); annualised 20 x 12 / 7 = 34.3 is shown, not compared.
    s1 = by[("knee-tep", "s1", 2024)]
    assert _null(s1.meets)
    assert s1.basis == "not assessable: 7 of 12 months observed (annualised volume shown)"
    assert s1.annualised_cycles == pytest.approx(34.2857, abs=1e-4)
    assert _null(s1.permitted_next_year)
    # s2 reached 55 >= 50 within its 7 months: it meets whatever the rest of the year holds.
    s2 = by[("knee-tep", "s2", 2024)]
    assert (s2.meets, s2.basis, s2.shortfall) == (True, "calendar year (reached in 7 observed months)", 0)
    # s3, a full year: 40 < 50, shortfall 50 - 40 = 10, and under the prognosis rule (previous
    # calendar year below 50) it may not perform knee replacement in 2025.
    s3 = by[("knee-tep", "s3", 2024)]
    assert (s3.meets, s3.basis, s3.shortfall, s3.next_year_minimum, s3.permitted_next_year) == (
        False, "calendar year", 10, 50, False)


def test_gba_rolling_half_years_and_leapfrog_two_year_average(thresholds: ibis.Table) -> None:
    by = _checks(_vol([
        ("knee-osteoarthritis", "facility", "s1", 2024, 48, 18, 30, 12),
        ("knee-osteoarthritis", "facility", "s1", 2025, 40, 22, 18, 12),
        ("knee-osteoarthritis", "organization", "o1", 2024, 70, 35, 35, 12),
        ("knee-osteoarthritis", "organization", "o1", 2025, 44, 20, 24, 12),
        ("knee-osteoarthritis", "organization", "o2", 2024, 70, 35, 35, 7),
        ("knee-osteoarthritis", "organization", "o2", 2025, 44, 20, 24, 12)]), thresholds)
    # G-BA prognosis quarters for s1: July-December 2024 (30) + January-June 2025 (22) = 52, shown
    # beside the decisive 2024 count 48 < 50 (not permitted in 2025). 2025 has no 2026 row: null.
    g = by[("knee-tep", "s1", 2024)]
    assert (g.meets, g.permitted_next_year, g.prognosis_rolling_cycles) == (False, False, 52)
    assert _null(by[("knee-tep", "s1", 2025)].prognosis_rolling_cycles)
    # Leapfrog hospital knee 50: o1 2025 counts 44 < 50, but the annual average over 2024-2025 is
    # (70 + 44) / 2 = 57 >= 50, so it meets on the two-year average. Leapfrog has no prognosis rule.
    lf = by[("tkr-hospital", "o1", 2025)]
    assert (lf.meets, lf.basis, lf.two_year_average) == (True, "two-year average", 57.0)
    assert _null(lf.prognosis_rolling_cycles)
    # o2's 2024 was observed for 7 months only: no two-year average, so 2025's 44 < 50 is below.
    lf2 = by[("tkr-hospital", "o2", 2025)]
    assert (lf2.meets, lf2.basis, lf2.shortfall) == (False, "calendar year", 6)
    assert _null(lf2.two_year_average)
