"""Issue 15 acceptance on the synthetic population (3,000 patients, seed 7): the planted low-volume
poor provider (Lakeside, org-ch4) falls below the knee standards, consolidating its knee cycles into
the academic centre's IPU projects better outcomes at lower cost within capacity, and the academic
centre's IPUs score above the community hospitals' services."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CONTENT = Path(__file__).resolve().parents[3] / "docs" / "examples" / "content"  # network-facts/
AC, CH4 = "org-ac", "org-ch4"
COMMUNITY = ("org-ch1", "org-ch2", "org-ch3", "org-ch4")


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from carevalue import synth
    from carevalue.workspace import Workspace

    warnings.filterwarnings("ignore")
    out = Path(tmp_path_factory.mktemp("synth-network"))
    synth.generate(3000, 7, out)
    ws = Workspace.open(out / "store.duckdb", content=[CONTENT], must_exist=False)
    ws.ingest([out / "source"])
    res = ws.run()
    assert res.status == "published", res.as_dict()
    yield ws.con
    ws.close()


def test_low_volume_provider_falls_below_the_knee_standards(con) -> None:  # type: ignore[no-untyped-def]
    chk = con.table("network_standard_checks").execute()
    ch4 = chk[(chk.unit_id.isin([CH4, "loc-org-ch4"])) & (chk.condition == "knee-osteoarthritis")]
    assert set(ch4.threshold) >= {"knee-tep", "tkr-hospital"}
    assert not ch4.meets.any()
    assert not ch4[ch4.threshold == "knee-tep"].permitted_next_year.any()
    org = chk[(chk.threshold == "tkr-hospital") & (chk.year == 2024)].set_index("unit_id")
    assert org.cycles.idxmin() == CH4


def test_consolidation_projects_better_outcomes_at_lower_cost(con) -> None:  # type: ignore[no-untyped-def]
    sc = con.table("network_scenarios").execute().set_index("scenario")
    s = sc.loc["consolidate-knee-osteoarthritis-org-ch4"]
    assert s.status == "feasible"
    assert s.cycles_before == s.cycles_after
    assert s.outcomes_better > s.outcomes_worse
    assert s.projected_cost <= s.current_cost
    assert s.projected_travel_km is not None
    out = con.table("network_scenario_outcomes").execute()
    pf = out[(out.scenario == "consolidate-knee-osteoarthritis-org-ch4") & (out.measure == "physical-function")
             & (out.time_point == "1 year")]
    assert bool(pf.better.iloc[0]) and pf.projected_low.iloc[0] > pf.current.iloc[0]


def test_every_scenario_conserves_cycles_and_respects_capacity(con) -> None:  # type: ignore[no-untyped-def]
    sc = con.table("network_scenarios").execute()
    cap = con.table("network_capacity_checks").execute()
    cons = sc[sc.kind == "consolidation"]
    assert (cons.cycles_before == cons.cycles_after).all()
    for r in sc.itertuples():
        c = cap[cap.scenario == r.scenario]
        if r.status == "feasible":
            assert not c.exceeds.any(), r.scenario
        if r.status == "refused" and r.kind == "consolidation":
            assert c.exceeds.any(), r.scenario


def test_academic_centre_ipus_score_above_community_services(con) -> None:  # type: ignore[no-untyped-def]
    a = con.table("network_ipu_assessment").execute()
    tot = a.groupby(["condition", "organization_id"]).score.sum()
    compared = 0
    for (cond, org), score in tot.items():
        if org in COMMUNITY:
            assert tot[(cond, AC)] > score, (cond, org)
            compared += 1
    assert compared >= 5
    assert a.groupby(["condition", "organization_id"]).size().eq(10).all()
    assert a.evidence.notna().all()


def test_every_written_column_is_declared(con) -> None:  # type: ignore[no-untyped-def]
    from carevalue.model.network import COUNTS, TABLES

    for t in TABLES:
        assert list(con.table(t.name).columns) == t.column_names, t.name
        assert set(COUNTS[t.name]) <= set(t.column_names), t.name
