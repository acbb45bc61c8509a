"""The one privacy module: primary suppression of 1..10, complementary suppression within groups
(one or several groupings), secondary cells, and message text; hypothesis properties that no shown
count is 1..10 and that no hidden cell can be recovered from a shown group total."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from carevalue.queries.privacy import (
    MARK,
    count_columns,
    is_small,
    keep_large,
    scrub_text,
    suppress,
)


def test_primary_suppression_masks_counts_and_numeric_values() -> None:
    rows = [{"org": "a", "patients": 10, "cost": 1234.5}, {"org": "b", "patients": 11, "cost": 2000.0},
            {"org": "c", "patients": 0, "cost": None}, {"org": "d", "patients": None, "cost": 50.0}]
    out = suppress(rows)
    assert out[0] == {"org": "a", "patients": MARK, "cost": None, "suppressed": True}
    assert out[1] == {**rows[1], "suppressed": False}  # 11 is shown
    assert out[2]["patients"] == 0 and not out[2]["suppressed"]  # 0 describes no one
    assert out[3]["cost"] == 50.0  # no count: not a patient-level row
    assert [r["org"] for r in keep_large(out)] == ["b", "c", "d"]


def test_complementary_suppression_pulls_in_the_next_smallest_of_the_group() -> None:
    # Condition x: providers 5, 12, 40 patients and a shown total of 57: 5 = 57 - 12 - 40 unless 12
    # is hidden too. Condition y has two small providers already: nothing more to hide.
    rows = [{"condition": "x", "org": o, "patients": n} for o, n in (("a", 5), ("b", 12), ("c", 40))]
    rows += [{"condition": "y", "org": o, "patients": n} for o, n in (("a", 3), ("b", 4), ("c", 30))]
    out = suppress(rows, group_by=["condition"])
    assert [r["suppressed"] for r in out] == [True, True, False, True, True, False]
    assert out[1]["condition"] == "x" and out[1]["patients"] == MARK  # labels of the group stay


def test_cross_table_suppression_repeats_until_rows_and_columns_are_safe() -> None:
    # from x to: a 5 (small), b 20; from y to: a 30, b 40. Hiding (x,a) pulls (x,b) [row x] and
    # (y,a) [column a]; then column b and row y each hide exactly one: (y,b) goes too.
    rows = [{"f": f, "t": t, "patients": n} for f, t, n in (("x", "a", 5), ("x", "b", 20),
                                                            ("y", "a", 30), ("y", "b", 40))]
    out = suppress(rows, group_by=[["f"], ["t"]])
    assert all(r["suppressed"] for r in out)


def test_extra_small_and_secondary_cells() -> None:
    rows = [{"m": "x", "patients": 50, "events": 47, "censored": 3},
            {"m": "y", "patients": 50, "events": 20, "censored": 12}]
    out = suppress(rows, ("patients", "events"), extra_small=[True, False], cells=("censored",))
    assert out[0]["suppressed"] and out[0]["events"] == MARK  # e.g. 3 non-events
    assert out[1]["censored"] == 12 and not out[1]["suppressed"]
    out = suppress([{"patients": 40, "censored": 4}], cells=("censored",))
    assert out[0]["censored"] == MARK and out[0]["patients"] == 40


def test_counts_come_from_the_declared_schema() -> None:
    assert count_columns("value") == ("outcome_patients", "cost_patients", "patients")
    assert count_columns("outcome_comparison") == ("patients",)


def test_scrub_text() -> None:
    assert scrub_text("never observed in 6 patients") == "never observed in <11 patients"
    assert scrub_text("1 event, 10 cycles, 110 patients, 0 deaths") == "<11 event, <11 cycles, 110 patients, 0 deaths"
    assert scrub_text(None) == ""
    # a total of 1..10 is a small cell too, wherever it stands
    assert scrub_text("4 of 10 patients; 4 of 21 patients; 12 of 1,200 cycles") == (
        "<11 of <11 patients; <11 of 21 patients; 12 of 1,200 cycles")


counts = st.one_of(st.integers(0, 60), st.none())
tables = st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from("pqr"), counts), min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(tables, st.booleans())
def test_no_small_count_is_shown_and_no_hidden_cell_is_recoverable(cells: list, two_way: bool) -> None:
    rows = [{"g": g, "h": h, "patients": n} for g, h, n in cells]
    groupings = [("g",), ("h",)] if two_way else [("g",)]
    out = suppress(rows, group_by=[list(k) for k in groupings])
    for r in out:  # primary: nothing shown is 1..10
        assert r["patients"] == MARK or not is_small(r["patients"])
    for keys in groupings:
        for key in {tuple(r[k] for k in keys) for r in rows}:
            idx = [i for i, r in enumerate(rows) if tuple(r[k] for k in keys) == key]
            hidden = [i for i in idx if out[i]["suppressed"]]
            # A lone hidden cell beside shown ones would be the group total minus the shown cells.
            assert len(idx) == 1 or len(hidden) != 1, (rows, out, keys)
