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
