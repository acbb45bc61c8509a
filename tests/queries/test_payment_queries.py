"""Payment read-outs never give a small count away: a complication rate over 1..10 events (or
non-events) is hidden, since rate × cycles would reveal the count."""

from __future__ import annotations

import ibis

from carevalue.backends import connect
from carevalue.definitions.loader import load_library
from carevalue.queries.payment import MODELS, provider_comparison


def _ledger(spec: dict[str, tuple[int, int]]) -> ibis.Table:
    rows = []
    for org, (cycles, events) in spec.items():
        for i in range(cycles):
            rows.append({"patient_id": f"{org}-{i}", "condition": "c", "organization_id": org,
                         "cost": 100.0, "complication": float(i < events), "bundle_eligible": True,
                         **{f"{m}_paid": 90.0 for m in MODELS}})
    return ibis.memtable(rows)


def test_complication_rate_hidden_behind_small_event_counts() -> None:
    # A: 3 of 20 events; B: 15 of 20 (5 non-events); C: 12 of 30 — only C's rate can be shown
    rows = provider_comparison(connect(), load_library(), ledger=_ledger({"A": (20, 3), "B": (20, 15), "C": (30, 12)}))
    rate = {r["organization_id"]: r["complication_rate"] for r in rows}
    assert rate == {"A": None, "B": None, "C": 0.4}
    assert all(r["patients"] >= 11 and r["bundle_margin_per_cycle"] == -10.0 for r in rows)
    assert not any(k.startswith("_") for r in rows for k in r)


def test_complication_margins_per_bundle_and_their_suppression() -> None:
    """30 eligible cycles, 12 with a complication: cost 100 without, 300 with; FFS pays 150 without and
    320 with (the readmission is paid again), the bundle 200 either way. Margin per cycle:
    FFS 150 − 100 = +50 and 320 − 300 = +20; bundle 200 − 100 = +100 and 200 − 300 = −100.
    A second bundle with 5 complicated cycles shows <11 for both of its rows (complementary)."""
    from carevalue.queries.payment import complication_margins

    rows = []
    for b, n, k in (("hip", 30, 12), ("hnc", 20, 5)):
        for i in range(n):
            comp = i < k
            rows.append({"patient_id": f"{b}-{i}", "bundle_id": b, "complication": float(comp),
                         "cost": 300.0 if comp else 100.0, **{f"{m}_paid": 200.0 for m in MODELS},
                         "ffs_paid": 320.0 if comp else 150.0})
    out = complication_margins(connect(), load_library(), ledger=ibis.memtable(rows))
    hip = {r["complication"]: r for r in out if r["bundle_id"] == "hip"}
    assert hip[0.0]["cycles"] == 18 and hip[1.0]["cycles"] == 12
    assert (hip[0.0]["ffs_margin_per_cycle"], hip[1.0]["ffs_margin_per_cycle"]) == (50.0, 20.0)
    assert (hip[0.0]["bundle_margin_per_cycle"], hip[1.0]["bundle_margin_per_cycle"]) == (100.0, -100.0)
    hnc = [r for r in out if r["bundle_id"] == "hnc"]
    assert all(r["patients"] == "<11" and r["bundle_margin_per_cycle"] is None for r in hnc)
