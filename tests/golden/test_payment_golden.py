"""Golden payment arithmetic, worked by hand: the primary-care PMPM example of Porter, Pabo & Lee
(Health Affairs 2013, seeds/004) and TEAM/CJR reconciliations for three hospitals."""

from __future__ import annotations

import pandas as pd
import pytest

from carevalue.definitions.loader import load
from carevalue.engine.payment.episode import reconcile, target_price, weighted_baseline
from carevalue.engine.payment.timebased import panel_payment, time_based

LIB = load()


def test_pmpm_panel_of_2500_is_about_600k_a_year() -> None:
    """$5 healthy / $10 at-risk / $25 chronic / $100 complex per member per month.

    The article's Appendix with the segment shares is not in the seeds, so the shares are stated
    here (assumed): healthy 40%, at-risk 30%, chronic 20%, complex 10%.
      healthy  2,500 × 0.40 = 1,000 patients × $5   × 12 =  $60,000
      at-risk  2,500 × 0.30 =   750 patients × $10  × 12 =  $90,000
      chronic  2,500 × 0.20 =   500 patients × $25  × 12 = $150,000
      complex  2,500 × 0.10 =   250 patients × $100 × 12 = $300,000
      total                                               = $600,000  ("about $600,000 per year")
    """
    rates = {r.applies_to: r.amount for r in LIB.get("time-based-payments", "porter-primary-care-pmpm").rates}
    shares = {"healthy": 0.40, "at-risk": 0.30, "chronic": 0.20, "complex": 0.10}
    total, lines = panel_payment(shares, rates, panel=2500)
    assert {line.segment: line.per_year for line in lines} == {
        "healthy": 60_000, "at-risk": 90_000, "chronic": 150_000, "complex": 300_000}
    assert total == 600_000


def test_time_based_per_cycle_with_hcc_and_outlier() -> None:
    """Two chronic patients, HCC 0.5 and 1.5 (mean 1.0): $300 × 0.5 = $150 and $300 × 1.5 = $450.
    Outlier: the second's FFS-equivalent spending $3,000 is $1,000 over the $2,000 threshold, the payer
    adds 80% of it = $800, so $1,250. A segment without a rate (frail) is not paid time-based."""
    defn = LIB.get("time-based-payments", "porter-primary-care-pmpm-hcc")
    cycles = pd.DataFrame({"condition": ["chronic", "chronic", "frail-elderly-disabled"],
                           "months": [12, 12, 12], "hcc_score": [0.5, 1.5, 3.0],
                           "ffs_paid": [100.0, 3000.0, 9000.0]})
    out = time_based(cycles, defn)
    assert out.tb_paid.iloc[0] == pytest.approx(150.0)
    assert out.tb_paid.iloc[1] == pytest.approx(450.0 + 800.0)
    assert pd.isna(out.tb_paid.iloc[2]) and out.tb_outlier.iloc[2] == 0


def test_team_lejr_reconciliation_for_three_hospitals() -> None:
    """Regional LEJR baseline per episode: 2022 $20,000, 2023 $21,000, 2024 $22,000, weighted 17/33/50:
      0.17 × 20,000 + 0.33 × 21,000 + 0.50 × 22,000 = 3,400 + 6,930 + 11,000 = $21,330
    TEAM LEJR discount 2%: 21,330 × 0.98 = $20,903.40 per episode (regional: hospital blend 0).

    A (track 3, 100 episodes, case mix 1.0, spending $1,900,000, quality 0.8):
      target 2,090,340; raw +190,340; quality cut 10% × (1 − 0.8) = 2% → 186,533.20;
      stop-gain 20% × 2,090,340 = 418,068 not reached → paid $186,533.20
    B (track 3, 50 episodes, case mix 1.1, spending $1,500,000, quality 0.5):
      per episode 22,993.74; target 1,149,687; raw −350,313; repayment cut 10% × 0.5 = 5% → −332,797.35;
      stop-loss 20% × 1,149,687 = 229,937.40 → repays $229,937.40
    C (track 1, 40 episodes, case mix 0.9, spending $600,000, quality 1.0):
      per episode 18,813.06; target 752,522.40; raw +152,522.40; no quality cut at quality 1;
      stop-gain 10% × 752,522.40 = 75,252.24 → paid $75,252.24
    """
    team = LIB.get("episode-models", "cms-team")
    lejr = team.category_of("hip-osteoarthritis")
    assert lejr is not None and lejr.discount == 0.02
    regional = weighted_baseline({2022: 20_000, 2023: 21_000, 2024: 22_000}, team.baseline_weights)
    assert regional == pytest.approx(21_330)
    per_episode = target_price(None, regional, team.hospital_blend, lejr.discount)
    assert per_episode == pytest.approx(20_903.40)

    a = reconcile(100 * per_episode * 1.0, 1_900_000, team.track("track-3"), quality=0.8)
    assert (a.target, a.raw) == (pytest.approx(2_090_340), pytest.approx(190_340))
    assert a.capped == pytest.approx(186_533.20) and a.limit_applied == ""

    b = reconcile(50 * per_episode * 1.1, 1_500_000, team.track("track-3"), quality=0.5)
    assert b.target == pytest.approx(1_149_687)
    assert b.quality_adjusted == pytest.approx(-332_797.35)
    assert b.capped == pytest.approx(-229_937.40) and b.limit_applied == "stop-loss"

    c = reconcile(40 * per_episode * 0.9, 600_000, team.track("track-1"), quality=1.0)
    assert c.target == pytest.approx(752_522.40)
    assert c.capped == pytest.approx(75_252.24) and c.limit_applied == "stop-gain"

    # Track 1 has no downside: B's overspending under track 1 repays nothing.
    assert reconcile(b.target, 1_500_000, team.track("track-1"), quality=0.5).capped == 0


def test_cjr_blend_and_discount() -> None:
    """CJR PY1-2 blend: 0.6667 × hospital $24,000 + 0.3333 × regional $21,000 = 16,000.80 + 6,999.30
    = $23,000.10; 3% discount → 23,000.10 × 0.97 = $22,310.097 per episode. 10 episodes spending
    $240,000 against $223,100.97 → raw −16,899.03; PY1 has no repayment → 0; PY4-5 (20%) → −16,899.03."""
    cjr = LIB.get("episode-models", "cms-cjr")
    per_episode = target_price(24_000, 21_000, cjr.hospital_blend, cjr.categories[0].discount)
    assert per_episode == pytest.approx(22_310.097)
    assert reconcile(10 * per_episode, 240_000, cjr.track("py1"), quality=1.0).capped == 0
    assert reconcile(10 * per_episode, 240_000, cjr.track("py4-5"), quality=1.0).capped == pytest.approx(-16_899.03)
    # A hospital without a baseline of its own gets the regional price.
    assert target_price(None, 21_000, cjr.hospital_blend, 0.03) == pytest.approx(20_370)
