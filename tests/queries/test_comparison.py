"""Provider comparison: tiers from the SRTR posterior (arithmetic written out), bands, ranks with
intervals, and privacy (small cells and their complement get no value, band or rank)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
import dashboard_fixture as fx  # noqa: E402

from carevalue.queries import comparison as cmp  # noqa: E402
from carevalue.workspace import Workspace  # noqa: E402


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return Workspace.on_connection(fx.build())


def test_tier_golden_arithmetic() -> None:
    # O = 20, E = 10: posterior Gamma(22, rate 12); P(HR > 1.2) = 0.963 > 0.75 -> tier 1.
    p = stats.gamma(a=22, scale=1 / 12).sf(1.2)
    assert p == pytest.approx(0.963, abs=0.001)
    assert cmp.tier_of(20, 10, higher_better=False) == 1
    # O = 14, E = 10: Gamma(16, rate 12); P(HR > 1.2) = 0.629 (< 0.75), P(HR > 1) = 0.844 -> tier 2.
    assert stats.gamma(a=16, scale=1 / 12).sf(1.2) == pytest.approx(0.629, abs=0.001)
    assert stats.gamma(a=16, scale=1 / 12).sf(1.0) == pytest.approx(0.844, abs=0.001)
    assert cmp.tier_of(14, 10, higher_better=False) == 2
    # O = E: the posterior mean is exactly 1, so no tier but 3 at any size.
    assert all(cmp.tier_of(e, e, higher_better=False) == 3 for e in (0.5, 3, 30, 300))
    # Mirror: few events where more is better is tier 1.
    assert cmp.tier_of(2, 10, higher_better=True) == 1
    assert cmp.tier_of(2, 10, higher_better=False) == 5


@settings(max_examples=60, deadline=None)
@given(e=st.floats(0.5, 200), o1=st.integers(0, 300), o2=st.integers(0, 300))
def test_tier_never_improves_with_more_adverse_events(e: float, o1: int, o2: int) -> None:
    lo, hi = sorted((o1, o2))
    assert cmp.tier_of(hi, e, higher_better=False) <= cmp.tier_of(lo, e, higher_better=False)


def test_rank_intervals_contain_rank_and_order() -> None:
    draws = np.random.default_rng(0).normal([0.0, 5.0, 10.0], 0.1, size=(500, 3))
    point, low, high = cmp.rank_intervals(draws, higher_better=False)
    assert list(point) == [1, 2, 3]
    assert all(low <= point) and all(point <= high)


def test_comparison_bands_ranks_and_privacy(ws: Workspace) -> None:
    rows = ws.ask(cmp.provider_comparison, condition=fx.CONDITION, measure="length-of-stay")
    by = {r["organization_id"]: r for r in rows}
    # org-b stays 1.5 days longer than its case mix predicts, org-c 1 day shorter (fixture).
    assert by["org-b"]["band"] == "worse" and by["org-c"]["band"] == "better"
    assert by["org-c"]["rank"] == 1 and by["org-b"]["rank"] == 2
    assert by["org-b"]["oe"] == pytest.approx(1.5 - 0.162, abs=0.2)
    # 5 patients: suppressed, and org-a (the next smallest) is the complementary cell.
    for org in ("org-tiny", "org-a"):
        assert by[org]["suppressed"] and by[org]["patients"] == "<11"
        assert by[org]["oe"] is None and by[org]["rank"] is None and by[org]["band"] == "suppressed"
        assert by[org]["flag_95"] is None and by[org]["ci_low"] is None
    assert by["org-b"]["providers_ranked"] == 2
    assert by["org-b"]["tier"] is None  # scores are banded, not tiered


def test_measure_without_comparison_says_why(ws: Workspace) -> None:
    measures = ws.ask(cmp.comparison_measures, condition=fx.CONDITION)
    death = next(m for m in measures if m["measure"] == "mortality-90d")
    assert death["ok"] == 0 and "fewer than 10" in death["reason"]
    assert ws.ask(cmp.provider_comparison, condition=fx.CONDITION, measure="mortality-90d") == []


def test_methods_text_names_srtr_prior_and_cut_points() -> None:
    assert "Gamma(shape 2, rate 2)" in " ".join(cmp.METHODS.split()) and "0.75" in cmp.METHODS
    assert "srtr.org" in cmp.METHODS
