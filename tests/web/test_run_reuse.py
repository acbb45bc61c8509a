"""What the dashboard reuses between requests, and when it must not: the like-you case-mix models
are fitted once per published run and refitted for a new one; pages are computed once per run;
a provider's page, the cycle list and the timeline give the rows of the old, unfiltered path."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import dashboard_fixture as fx
import pytest

from carevalue.pipeline.runs import RunStore
from carevalue.queries import like_you as ly
from carevalue.queries import scorecard as sc
from carevalue.queries import timeline as tl
from carevalue.queries.base import rows_of
from carevalue.web import pages
from carevalue.workspace import Workspace

C = fx.CONDITION
PERSON = {"age": 70, "asa-class": 2}


def _stay(rows: list[dict[str, Any]], org: str) -> dict[str, Any]:
    return next(r for r in rows if r["measure"] == "length-of-stay" and r["time_point"] == "discharge"
                and r["organization_id"] == org)


def _republish(store: Path, extra_days: float) -> str:
    """A new run of the fixture with every stay ``extra_days`` longer (same comparison rows)."""
    runs = RunStore(store)
    rec, con = runs.begin([], "fixture, longer stays")
    fx.build(con)
    con.raw_sql(f"UPDATE outcome_values SET value = value + {extra_days} WHERE measure = 'length-of-stay'")
    runs.publish(rec, con)
    return rec.run_id


@pytest.fixture()
def fits(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every case-mix fit "patients like you" makes, by outcome column."""
    done: list[str] = []
    real = ly.fit_casemix

    def counted(frame: Any, outcome: str, *a: Any, **kw: Any) -> Any:
        done.append(outcome)
        return real(frame, outcome, *a, **kw)

    monkeypatch.setattr(ly, "fit_casemix", counted)
    return done


def test_models_are_fitted_once_per_run_and_again_for_a_new_run(tmp_path: Path, fits: list[str]) -> None:
    store = fx.publish(tmp_path)
    with Workspace.open(store) as first:
        before = first.ask(ly.like_you, condition=C, person=PERSON)
    assert fits, "the first person of a run fits the models"
    n = len(fits)
    with Workspace.open(store) as second:  # another connection to the same run: no refit, same rows
        again = second.ask(ly.like_you, condition=C, person=PERSON)
        assert second.ask(ly.fit_models, condition=C) > 0
    assert len(fits) == n and again == before

    _republish(store, 1.0)
    with Workspace.open(store) as third:
        after = third.ask(ly.like_you, condition=C, person=PERSON)
    assert len(fits) > n, "a new run refits its models"
    # docs/dashboard.md: at org-b 5.66 + 1.39 days; the new run's stays are 1 day longer
    old, new = _stay(before, "org-b"), _stay(after, "org-b")
    assert new["baseline"] == pytest.approx(old["baseline"] + 1.0, abs=1e-6)
    assert new["expected"] == pytest.approx(old["expected"] + 1.0, abs=1e-6)


def test_cached_models_give_todays_rows(tmp_path: Path) -> None:
    store = fx.publish(tmp_path)
    with Workspace.open(store) as ws:
        ly._MODELS.clear()
        fresh = ws.ask(ly.like_you, condition=C, person=PERSON)
        cached = ws.ask(ly.like_you, condition=C, person=PERSON)
    assert cached == fresh
    b = _stay(fresh, "org-b")  # the worked example of docs/dashboard.md
    assert b["baseline"] == pytest.approx(5.66, abs=0.01) and b["expected"] == pytest.approx(7.06, abs=0.01)


def test_pages_are_reused_within_a_run_and_not_across_runs(tmp_path: Path) -> None:
    store = fx.publish(tmp_path)
    with Workspace.open(store) as ws:
        first = pages.like_you(ws, C, {"age": "70", "asa-class": "2"})
        hits = pages.MEMO.hits
        assert pages.like_you(ws, C, {"asa-class": "2", "age": "70"}) is first  # same person, any order
        assert pages.MEMO.hits == hits + 1
    _republish(store, 2.0)
    with Workspace.open(store) as ws:
        later = pages.like_you(ws, C, {"age": "70", "asa-class": "2"})
    assert later is not first
    assert _stay(later["rows"], "org-b")["expected"] == pytest.approx(_stay(first["rows"], "org-b")["expected"] + 2.0)


def test_a_connection_without_a_run_file_is_never_reused() -> None:
    con = fx.build()  # in memory: nothing names what it reads
    ws = Workspace.on_connection(con)
    assert pages.overview(ws) is not pages.overview(ws)


def test_provider_pages_are_the_old_provider_filter(dashboard_ws: Workspace) -> None:
    con, lib = dashboard_ws.con, dashboard_ws.library
    for org in fx.PROVIDERS:
        page = pages.condition(dashboard_ws, C, org)
        # the old path: the outcome query's own provider filter, the sections filtered to the provider
        assert page["outcomes"] == sc.scorecard_outcomes(con, lib, condition=C, provider=org)
        for name, fn in (("costs", sc.scorecard_costs), ("phases", sc.scorecard_phases),
                         ("trend", sc.scorecard_trend)):
            assert page[name] == [r for r in fn(con, lib, condition=C) if r["organization_id"] == org]
        for c, whole in zip(page["composites"], sc.library_composites(lib, C), strict=True):
            assert c["rows"] == [r for r in sc.composite(con, lib, definition=whole) if r["organization_id"] == org]
        assert page["provider"] == org and page["measures"] == pages.condition(dashboard_ws, C)["measures"]


def test_cycle_list_counts_outcomes_as_before(dashboard_ws: Workspace) -> None:
    con, lib = dashboard_ws.con, dashboard_ws.library
    ov = con.table("outcome_values")
    every = {r["cycle_id"]: r["n"] for r in rows_of(ov.group_by("cycle_id").aggregate(n=ov.count()))}
    for org in fx.PROVIDERS:
        rows = tl.provider_cycles(con, lib, condition=C, provider=org)
        assert rows and all(r["outcome_values"] == every.get(r["cycle_id"]) for r in rows)


def test_timeline_phase_costs_as_before(dashboard_ws: Workspace) -> None:
    con, lib = dashboard_ws.con, dashboard_ws.library
    (cycle,) = tl.patient_timeline(con, lib, patient="p62")
    cc = con.table("cycle_costs")
    old = rows_of(cc.filter(cc.cycle_id.isin([cycle["cycle_id"]])).group_by("phase")
                  .aggregate(total_cost=cc.total_cost.sum(), minutes=cc.minutes.sum()))
    assert {r["phase"]: pytest.approx(r["total_cost"]) for r in old} == \
        {r["phase"]: r["total_cost"] for r in cycle["phase_costs"]}
    assert sum(r["total_cost"] for r in cycle["phase_costs"]) == pytest.approx(8250.0)


def test_prepare_fits_every_model_before_the_first_person(tmp_path: Path, fits: list[str]) -> None:
    store = fx.publish(tmp_path)
    with Workspace.open(store) as ws:
        assert pages.prepare(ws) == {C: 2}  # length of stay and 30-day readmission are compared
        n = len(fits)
        assert n == 2
        rows = ws.ask(ly.like_you, condition=C, person=PERSON)
    assert len(fits) == n and _stay(rows, "org-b")["expected"] == pytest.approx(7.06, abs=0.01)


def test_pages_of_other_content_folders_are_not_shared(dashboard_store: Path, tmp_path: Path) -> None:
    (tmp_path / "extra").mkdir()
    with Workspace.open(dashboard_store) as plain, Workspace.open(dashboard_store, [tmp_path / "extra"]) as own:
        assert pages.overview(plain) is pages.overview(plain)
        assert pages.overview(own) is not pages.overview(plain)


def test_the_served_app_fits_the_models_at_start(tmp_path: Path, fits: list[str]) -> None:
    """`carevalue serve` builds its app with prepare=True: the fits happen before any like-you page."""
    from carevalue.api.app import create_app

    store = fx.publish(tmp_path)
    create_app(store, prepare=False)
    assert fits == []
    create_app(store, prepare=True)
    for _ in range(600):
        if len(fits) == 2:
            break
        time.sleep(0.1)
    assert len(fits) == 2
