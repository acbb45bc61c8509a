"""Every query on a synthetic store: rows JSON accepts unchanged, no shown count of 1..10, patient
counts read from the stored tables, and a clear error (listing what exists) for what matches nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from carevalue.queries import costs, data, organise, outcomes, value
from carevalue.queries.base import QueryError
from carevalue.queries.privacy import MARK, is_small

pytestmark = pytest.mark.slow

COUNT_WORDS = ("patients", "events", "censored", "cycles", "transitions", "values", "scores", "n")


def _queries() -> list[tuple[Callable[..., Any], dict[str, Any]]]:
    return [(data.reconciliation, {}), (data.quarantine_reasons, {}), (data.data_as_of, {}),
            (organise.cycles_by_facility, {}), (organise.segment_counts, {}), (organise.segment_transitions, {}),
            (costs.provider_costs, {}), (costs.phase_waterfall, {"condition": "type-2-diabetes"}),
            (costs.minutes_coverage, {}), (costs.resource_utilisation, {}), (costs.capacity, {}),
            (costs.opportunities, {"top": 10}), (costs.opportunity_totals, {}),
            (outcomes.all_comparisons, {}), (outcomes.headline, {}), (outcomes.value_summary, {}),
            (outcomes.prom_summary, {}), (value.value_rows, {})]


@pytest.mark.parametrize("query,kw", _queries(), ids=lambda q: getattr(q, "__name__", ""))
def test_rows_are_json_and_no_small_count_is_shown(synthetic_workspace, query, kw) -> None:  # type: ignore[no-untyped-def]
    rows = synthetic_workspace.ask(query, **kw)
    assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
    assert json.loads(json.dumps(rows, allow_nan=False)) == rows  # serialises unchanged
    for r in rows:
        for k, v in r.items():
            if k in COUNT_WORDS or k.endswith("_patients"):
                assert v == MARK or not is_small(v), (query.__name__, k, r)
        if any(k == "patients" or k.endswith("_patients") for k in r):
            assert "suppressed" in r, query.__name__


def test_comparison_reads_the_declared_columns_and_hides_few_events(synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = synthetic_workspace
    rows = ws.outcomes("type-2-diabetes", "mortality")
    assert {"oe", "ci_low", "ci_high", "flag_998", "patients"} <= set(rows[0])
    assert not {"oe_ratio", "oe_lower", "flag_99_8"} & set(rows[0])
    stored = ws.con.table("outcome_comparison").execute()
    stored = stored[(stored.condition == "type-2-diabetes") & (stored.measure == "mortality")
                    & stored.organization_id.notna()].set_index("organization_id")
    for r in rows:
        if r["organization_id"] is None:
            continue
        s = stored.loc[r["organization_id"]]
        if r["suppressed"]:
            assert r["observed"] is None and r["oe"] is None
        else:  # shown as stored: the same patients, events 0 or >= 11
            assert r["patients"] == s.patients and r["oe"] == pytest.approx(s.oe)
            assert r["observed"] == 0 or r["observed"] >= 11


def test_value_rows_are_the_stored_value_table(synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = synthetic_workspace
    rows = ws.value()
    stored = ws.con.table("value").execute()
    assert len(rows) == len(stored)
    shown = [r for r in rows if not r["suppressed"]]
    idx = stored.set_index(["condition", "organization_id", "measure", "time_point"])
    for r in shown:
        s = idx.loc[(r["condition"], r["organization_id"], r["measure"], r["time_point"])]
        s = s.iloc[0] if hasattr(s, "iloc") and s.ndim > 1 else s
        assert r["patients"] == s.patients and r["cost_per_cycle"] == pytest.approx(s.cost_per_cycle)
        assert r["currency"] == "USD"


def test_waterfall_total_row_is_the_sum(synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    w = synthetic_workspace.ask(costs.phase_waterfall, condition="type-2-diabetes")
    assert w[-1]["phase"] == "total"
    if not w[-1]["suppressed"]:
        assert w[-1]["cost_per_cycle"] == pytest.approx(sum(r["cost_per_cycle"] for r in w[:-1]))


def test_censored_survival_is_not_a_mean_of_the_uncensored(synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    rows = synthetic_workspace.ask(outcomes.value_summary)
    cens = [r for r in rows if r["value_type"] == "binary" and r["method"] != "mean"]
    assert cens, "the synthetic store has censored binary measures"
    assert all(r["method"] in ("Kaplan-Meier", "not estimable") for r in cens)


@pytest.mark.parametrize("call,words", [
    (lambda ws: ws.outcomes("hip", "mortality"), "compared:"),
    (lambda ws: ws.outcomes("type-2-diabetes", "bogus"), "measures:"),
    (lambda ws: ws.outcomes("type-2-diabetes", "mortality", time_point="7 years"), "time points:"),
    (lambda ws: ws.costs("hip"), "costed:"),
    (lambda ws: ws.cost_opportunities(top=-1), "at least 1"),
    (lambda ws: ws.ask(organise.segment_counts, on="not-a-date"), "YYYY-MM-DD"),
])
def test_what_matches_nothing_says_so(synthetic_workspace, call, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match=words):
        call(synthetic_workspace)
