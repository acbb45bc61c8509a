"""Golden test: the Swedish volume table of seeds/000 (Porter, "Fragmentation of Services: Hospital
Services in Sweden", from the National Board of Health and Welfare DRG statistics, 2009),
recomputed by the volume engine from its inputs.

Inputs per DRG: number of admitting providers N and average admissions per provider per year A
(so national admissions = N x A). The derived columns are

    average share of national admissions = mean over providers of (own / national) = 1 / N
    average admissions per provider per week = A / 52, printed as a whole number ('<1' below 0.5)

Worked rows (share printed to 0.1 percentage point, half up):
    Knee procedure   N=68  A=55   share 100/68 = 1.470..% -> 1.5%   week 55/52  = 1.06 -> 1
    Diabetes > 35    N=80  A=96   share 100/80 = 1.25%    -> 1.3%   week 96/52  = 1.85 -> 2
    Kidney failure   N=80  A=97   share 1.25% -> 1.3%               week 97/52  = 1.87 -> 2
    MS / ataxia      N=78  A=28   share 100/78 = 1.282..% -> 1.3%   week 28/52  = 0.54 -> 1
    IBD              N=73  A=66   share 100/73 = 1.370..% -> 1.4%   week 66/52  = 1.27 -> 1
    Pacemaker        N=51  A=124  share 100/51 = 1.961..% -> 2.0%   week 124/52 = 2.38 -> 2
    Splenectomy > 17 N=37  A=3    share 100/37 = 2.703..% -> 2.7% (printed 2.6)  week 3/52 = 0.06 -> <1
    Cleft lip/palate N=7   A=83   share 100/7 = 14.286..% -> 14.3% (printed 14.2) week 83/52 = 1.60 -> 2
    Heart transplant N=6   A=12   share 100/6 = 16.667..% -> 16.7% (printed 16.6) week 12/52 = 0.23 -> <1

The last three printed shares are 0.1 point below 1/N (they look truncated, or computed over
slightly more providers); the test asserts the six exact matches and |difference| <= 0.1 for those three.
Providers in the test data do not all have the same volume (the averages do not depend on it).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import ibis
import pytest

from carevalue.engine.network.volume import display_per_week, profile, volume

# (DRG, providers, printed share %, admissions/provider/year, printed per week)
SWEDEN_2009 = [
    ("knee-procedure", 68, "1.5", 55, "1"),
    ("diabetes-age-over-35", 80, "1.3", 96, "2"),
    ("kidney-failure", 80, "1.3", 97, "2"),
    ("multiple-sclerosis-cerebellar-ataxia", 78, "1.3", 28, "1"),
    ("inflammatory-bowel-disease", 73, "1.4", 66, "1"),
    ("cardiac-pacemaker-implantation", 51, "2.0", 124, "2"),
    ("splenectomy-age-over-17", 37, "2.6", 3, "<1"),
    ("cleft-lip-palate-repair", 7, "14.2", 83, "2"),
    ("heart-transplant", 6, "16.6", 12, "<1"),
]
NOT_EXACT = {"splenectomy-age-over-17", "cleft-lip-palate-repair", "heart-transplant"}


def _index_rows() -> list[dict[str, object]]:
    """One row per admission: provider i of N gets A, except the first two get A+k and A-k."""
    rows: list[dict[str, object]] = []
    for drg, n, _share, a, _week in SWEDEN_2009:
        counts = [a] * n
        k = min(a - 1, 2)
        counts[0], counts[1] = a + k, a - k
        assert sum(counts) == n * a
        for i, c in enumerate(counts):
            for j in range(c):
                rows.append({"cycle_id": f"{drg}-{i}-{j}", "patient_id": f"{drg}-{i}-{j}", "condition": drg,
                             "year": 2009, "month": 1 + j % 12, "organization_id": f"{drg}-h{i}", "facility_id": None,
                             "clinician_id": None})
    return rows


@pytest.fixture(scope="module")
def table() -> dict[str, dict[str, object]]:
    con = ibis.duckdb.connect()
    idx = ibis.memtable(_index_rows(), schema={
        "cycle_id": "string", "patient_id": "string", "condition": "string", "year": "int64", "month": "int64",
        "organization_id": "string", "facility_id": "string", "clinician_id": "string"})
    prof = con.execute(profile(volume(idx)))
    prof = prof[prof.level == "organization"]
    return {r["condition"]: r for r in prof.to_dict("records")}


@pytest.mark.parametrize("drg,n,share,a,week", SWEDEN_2009)
def test_swedish_row(table: dict[str, dict[str, object]], drg: str, n: int, share: str, a: int, week: str) -> None:
    row = table[drg]
    assert row["providers"] == n
    assert row["total_cycles"] == n * a
    assert row["mean_per_year"] == pytest.approx(a)
    assert row["mean_share"] == pytest.approx(1 / n)
    assert display_per_week(float(row["mean_per_week"])) == week
    printed = Decimal(f"{100 * float(row['mean_share']):.6f}").quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if drg in NOT_EXACT:
        assert abs(printed - Decimal(share)) <= Decimal("0.1")
    else:
        assert printed == Decimal(share)
