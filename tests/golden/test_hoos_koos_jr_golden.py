"""HOOS JR and KOOS JR (Lyman et al. 2016) scored from item answers: raw sum → interval score.

Rows checked with the search tool (a public repository storing both scores with their raw sums):
  HOOS JR answers 1+1+1+1+1+1 = raw 6  → 70.426
  KOOS JR answers 1+1+1+1+1+1+1 = raw 7 → 68.284
End points by the tables' construction: raw 0 → 100 (perfect joint health), raw max → 0.
The other rows of the shipped tables are not checked against the papers (the instruments' source
says so); the test holds them to what a Rasch conversion must be: strictly decreasing in the raw sum.
"""

from __future__ import annotations

import pytest

from carevalue.definitions.loader import load
from carevalue.engine.proms import score_one

INSTRUMENTS = load().instruments()


@pytest.mark.parametrize("inst,answers,expected", [
    ("hoos-jr", [1, 1, 1, 1, 1, 1], 70.426),
    ("hoos-jr", [0, 0, 0, 0, 0, 0], 100.0),
    ("hoos-jr", [4, 4, 4, 4, 4, 4], 0.0),
    ("hoos-jr", [0, 2, 1, 0, 3, 0], 70.426),   # another raw 6: the sum is what counts
    ("koos-jr", [1, 1, 1, 1, 1, 1, 1], 68.284),
    ("koos-jr", [0, 0, 0, 0, 0, 0, 0], 100.0),
    ("koos-jr", [4, 4, 4, 4, 4, 4, 4], 0.0),
])
def test_raw_sum_to_interval_score(inst: str, answers: list[int], expected: float) -> None:
    ins = INSTRUMENTS[inst]
    items = ins.scales[0].items
    r = score_one(ins, dict(zip(items, answers, strict=True)))
    assert r["score"]["score"] == pytest.approx(expected)


@pytest.mark.parametrize("inst", ["hoos-jr", "koos-jr"])
def test_a_missing_item_gives_no_score(inst: str) -> None:
    ins = INSTRUMENTS[inst]
    items = ins.scales[0].items
    r = score_one(ins, {i: 1 for i in items[:-1]})
    assert r["score"]["score"] is None


@pytest.mark.parametrize("inst,top", [("hoos-jr", 24), ("koos-jr", 28)])
def test_conversion_table_covers_every_raw_sum_and_decreases(inst: str, top: int) -> None:
    table = INSTRUMENTS[inst].scales[0].lookup
    assert table is not None and sorted(table) == list(range(top + 1))
    values = [table[k] for k in sorted(table)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert "NOT checked" in INSTRUMENTS[inst].source
