"""Patients like you: the person's expected result is the refitted case-mix prediction plus each
provider's risk-adjusted effect (fixture stay = 1 + 0.05 age + 0.5 ASA + provider effect)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
import dashboard_fixture as fx  # noqa: E402

from carevalue.queries import like_you as ly  # noqa: E402
from carevalue.queries.base import QueryError  # noqa: E402
from carevalue.workspace import Workspace  # noqa: E402


@pytest.fixture(scope="module")
def ws() -> Workspace:
    return Workspace.on_connection(fx.build())


def test_expected_stay_for_one_person(ws: Workspace) -> None:
    rows = ws.ask(ly.like_you, condition=fx.CONDITION, person={"age": 70, "asa-class": 2})
    stay = {r["organization_id"]: r for r in rows if r["measure"] == "length-of-stay"}
    # Average provider: 1 + 0.05 × 70 + 0.5 × 2 = 5.5, plus the patient-weighted mean provider
    # effect (60 × 0 + 60 × 1.5 + 60 × −1 + 5 × 0) / 185 = 0.162.
    base = stay["org-b"]["baseline"]
    assert base == pytest.approx(5.5 + 0.162, abs=0.1)
    comp = {r["organization_id"]: r for r in ws.con.table("outcome_comparison").execute().to_dict("records")
            if r["measure"] == "length-of-stay"}
    for org in ("org-b", "org-c"):
        assert stay[org]["expected"] == pytest.approx(base + comp[org]["oe"])
        assert stay[org]["low"] == pytest.approx(base + comp[org]["ci_low"])
    assert stay["org-tiny"]["status"] == "too little data" and stay["org-tiny"]["expected"] is None
    assert stay["org-b"]["assumed"] is None


def test_missing_variables_are_assumed_and_named(ws: Workspace) -> None:
    rows = ws.ask(ly.like_you, condition=fx.CONDITION, person={"age": 70})
    stay = next(r for r in rows if r["measure"] == "length-of-stay" and r["status"] == "ok")
    assert stay["assumed"] == "asa-class"


def test_measure_without_comparison_says_not_estimable(ws: Workspace) -> None:
    rows = ws.ask(ly.like_you, condition=fx.CONDITION, person={"age": 70})
    death = [r for r in rows if r["measure"] == "mortality-90d"]
    assert len(death) == 1 and death[0]["status"] == "not estimable" and death[0]["reason"]


def test_bad_number_is_a_query_error(ws: Workspace) -> None:
    with pytest.raises(QueryError, match="needs a number"):
        ws.ask(ly.like_you, condition=fx.CONDITION, person={"age": "old"})


def test_form_lists_template_variables(ws: Workspace) -> None:
    form = {f["variable"]: f for f in ws.ask(ly.like_you_form, condition=fx.CONDITION)}
    assert form["sex"]["input"] == "category" and set(form["sex"]["levels"]) == {"female", "male"}
    assert form["age"]["input"] == "number" and 50 <= form["age"]["typical"] <= 85
    assert not form["bmi"]["known"]  # not in this store: the form says so


def test_costs_complementary_cell_is_too_little_data(ws: Workspace) -> None:
    rows = {r["organization_id"]: r for r in ws.ask(ly.like_you_costs, condition=fx.CONDITION)}
    assert rows["org-tiny"]["status"] == rows["org-a"]["status"] == "too little data"
    assert rows["org-c"]["cost_per_cycle"] == 7500.0 and rows["org-c"]["bundle_price"] is None
