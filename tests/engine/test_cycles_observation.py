"""Observation periods (issue 10 item 4): golden arithmetic of the gap rule, and the property that
no chronic cycle and no segment interval lies outside an observation period."""

from __future__ import annotations

import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import cycles, observation, segments
from carevalue.ingest.store import Store

LIB = load()
RULES = load().get("record-rules", "default")
RULE = LIB.get("observation-periods", "default")  # collapse 548 days, persistence 60, death + 60
DIABETES = LIB.get("conditions", "type-2-diabetes")
HF = LIB.get("conditions", "heart-failure")
SNOMED = "http://snomed.info/sct"


def put(store: Store, table: str, **cols: Any) -> None:
    cols.setdefault("source", "fixture")
    store.con.execute(f'INSERT INTO "{table}" ({", ".join(cols)}) VALUES ({", ".join("?" for _ in cols)})',
                      list(cols.values()))


def _d(x: Any) -> str:
    return str(x)[:10]


def test_rule_numbers_are_the_documented_ones() -> None:
    assert (RULE.collapse_days, RULE.persistence_days, RULE.death_days) == (548, 60, 60)


def test_gap_rule_golden(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        put(s, "patients", patient_id="a", birth_date="1950-01-01")
        # 2019-01-10 and 2019-06-01 are 142 days apart: one period, ending 60 days after the last
        # (2019-07-31). 2019-06-01 -> 2021-12-01 is 914 days > 548: a new period, cut at the data's
        # last date 2022-01-15 (the last record anywhere), so still observed at the end.
        for i, d in enumerate(("2019-01-10", "2019-06-01", "2021-12-01", "2022-01-15")):
            put(s, "encounters", encounter_id=f"a{i}", patient_id="a", status="finished", start_ts=f"{d} 09:00")
        put(s, "encounters", encounter_id="a-x", patient_id="a", status="cancelled", start_ts="2020-06-01 09:00")
        put(s, "conditions", condition_id="a-dm", patient_id="a", encounter_id="a0", code_system=SNOMED,
            code="44054006", onset_ts="2019-01-10 09:00")
        # Died 2019-03-01: observed at most to death + 60 days = 2019-04-30; last record + 60 = 2019-03-11.
        put(s, "patients", patient_id="b", birth_date="1940-01-01", death_date="2019-03-01")
        put(s, "encounters", encounter_id="b0", patient_id="b", status="finished", start_ts="2019-01-10 09:00")
        # A claim observes too: service 2021-05-01..2021-05-03, + 60 days = 2021-07-02.
        put(s, "patients", patient_id="c", birth_date="1980-01-01")
        put(s, "claims", claim_id="c0", kind="Claim", patient_id="c", status="active",
            service_start="2021-05-01 00:00", service_end="2021-05-03 00:00")
    con = connect(path)
    observation.run(con, RULE, RULES)
    per = con.table("observation_periods").order_by(["patient_id", "period_start"]).execute()
    cycles.run(con, [DIABETES], RULES)
    cyc = con.table("care_cycles").order_by("start_ts").execute()
    con.disconnect()
    got = [(r.patient_id, _d(r.period_start), _d(r.period_end), bool(r.at_data_end), r.records)
           for r in per.itertuples()]
    assert got == [
        ("a", "2019-01-10", "2019-07-31", False, 2),  # the cancelled encounter observes nothing
        ("a", "2021-12-01", "2022-01-15", True, 2),
        ("b", "2019-01-10", "2019-03-11", False, 1),
        ("c", "2021-05-01", "2021-07-02", False, 1),
    ]
    # Diabetes from 2019-01-10: the first cycle-year is cut at the period's end (2019-07-31, so
    # end_ts 2019-08-01 exclusive); none covers 2019-08 .. 2021-11; the next restarts 2021-12-01.
    assert [(r.cycle_id, _d(r.start_ts), _d(r.end_ts)) for r in cyc.itertuples()] == [
        ("type-2-diabetes:a:2019", "2019-01-10", "2019-08-01"),
        ("type-2-diabetes:a:2021", "2021-12-01", "2022-01-16"),
    ]


def test_segments_are_cut_to_observation_periods(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        put(s, "patients", patient_id="a", birth_date="1950-01-01")
        for i, d in enumerate(("2015-01-10", "2015-03-01", "2020-01-01")):
            put(s, "encounters", encounter_id=f"a{i}", patient_id="a", status="finished", start_ts=f"{d} 09:00")
    con = connect(path)
    observation.run(con, RULE, RULES)
    segments.run(con, list(LIB.kind("segments").values()), LIB.kind("value-sets"), until=date(2020, 1, 1), rules=RULES)
    seg = con.table("segments").order_by("valid_from").execute()
    con.disconnect()
    # Without periods the history would run from birth (1950). With them: 2015-01-10 .. 2015-04-30
    # (03-01 + 60 days, exclusive end 2015-05-01), then from 2020-01-01, open (the data's end).
    rows = [(r.segment, _d(r.valid_from), None if pd.isna(r.valid_to) else _d(r.valid_to)) for r in seg.itertuples()]
    assert rows == [("healthy", "2015-01-10", "2015-05-01"), ("healthy", "2020-01-01", None)]


# ---------------------------------------------------------------- property: nothing outside a period

T0 = datetime(2012, 1, 1)
day = st.integers(min_value=0, max_value=10 * 365)
patient = st.fixed_dictionaries({
    "birth": st.integers(min_value=1925, max_value=2005),
    "death": st.one_of(st.none(), day),
    "encounters": st.lists(st.tuples(day, st.sampled_from(["finished", "cancelled", None])), max_size=7),
    "claims": st.lists(day, max_size=3),
    "conditions": st.lists(st.tuples(day, st.sampled_from(["44054006", "84114007", "38341003"]),
                                     st.sampled_from(["confirmed", "refuted", None])), max_size=3),
})
population = st.lists(patient, min_size=1, max_size=6)
SETTINGS = settings(max_examples=6, deadline=None, phases=[Phase.generate, Phase.target],
                    suppress_health_check=[HealthCheck.too_slow])


def make_store(path: Path, pop: list[dict[str, Any]]) -> None:
    with Store(path) as s:
        for i, p in enumerate(pop):
            pid = f"p{i}"
            death = None if p["death"] is None else (T0 + timedelta(days=p["death"])).date().isoformat()
            put(s, "patients", patient_id=pid, birth_date=f"{p['birth']}-03-15", death_date=death)
            for j, (d, status) in enumerate(p["encounters"]):
                put(s, "encounters", encounter_id=f"{pid}-e{j}", patient_id=pid, status=status, class_code="AMB",
                    start_ts=T0 + timedelta(days=d, hours=9))
            for j, d in enumerate(p["claims"]):
                put(s, "claims", claim_id=f"{pid}-k{j}", kind="Claim", patient_id=pid, status="active",
                    service_start=T0 + timedelta(days=d))
            for j, (d, code, ver) in enumerate(p["conditions"]):
                put(s, "conditions", condition_id=f"{pid}-c{j}", patient_id=pid, code_system=SNOMED, code=code,
                    verification_status=ver, onset_ts=T0 + timedelta(days=d, hours=9))


def _inside(start: pd.Timestamp, end: pd.Timestamp, periods: pd.DataFrame) -> bool:
    return bool(((periods.s <= start) & (end <= periods.e)).any())


@SETTINGS
@given(population)
def test_no_cycle_or_segment_interval_outside_an_observation_period(pop: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.duckdb"
        make_store(path, pop)
        con = connect(path)
        observation.run(con, RULE, RULES)
        cycles.run(con, [DIABETES, HF], RULES)
        segments.run(con, list(LIB.kind("segments").values()), LIB.kind("value-sets"), until=date(2030, 1, 1), rules=RULES)
        per = con.table("observation_periods").execute()
        cyc = con.table("care_cycles").execute()
        seg = con.table("segments").execute()
        enc = con.table("encounters").execute()
        con.disconnect()
    per["s"] = pd.to_datetime(per.period_start)
    per["e"] = pd.to_datetime(per.period_end) + pd.Timedelta(days=1)  # exclusive
    for pid, g in per.sort_values("s").groupby("patient_id"):
        assert (g.s.iloc[1:].values > g.e.iloc[:-1].values).all(), pid  # periods never overlap or touch
    # Every counted encounter is inside a period (the periods are built from them).
    for r in enc[enc.status.isna() | (enc.status == "finished")].itertuples():
        p = per[per.patient_id == r.patient_id]
        ts = pd.Timestamp(r.start_ts).normalize()
        assert _inside(ts, ts, p) or _died_before(pop, r.patient_id, ts), (r.encounter_id, ts)
    for r in cyc.itertuples():
        assert _inside(pd.Timestamp(r.start_ts), pd.Timestamp(r.end_ts), per[per.patient_id == r.patient_id]), r
    for r in seg.itertuples():
        p = per[per.patient_id == r.patient_id]
        start = pd.Timestamp(r.valid_from)
        if pd.isna(r.valid_to):
            hit = p[(p.s <= start) & (start < p.e)]
            assert len(hit) == 1 and bool(hit.at_data_end.iloc[0]), r  # open only while still observed
        else:
            assert _inside(start, pd.Timestamp(r.valid_to), p), r


def _died_before(pop: list[dict[str, Any]], pid: str, ts: pd.Timestamp) -> bool:
    """An encounter more than 60 days after death observes nothing (the period ends at death + 60)."""
    d = pop[int(pid[1:])]["death"]
    return d is not None and ts > pd.Timestamp(T0 + timedelta(days=d + RULE.death_days))


def test_tied_records_never_split_a_period(tmp_path: Path) -> None:
    """Many records of a patient on the same days (ties in the window order): each patient's
    periods are disjoint and their ids unique, whatever order the backend's parallel sorts give."""
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        s.con.execute("INSERT INTO patients (patient_id, birth_date, source) "
                      "SELECT 'p' || i, DATE '1960-01-01', 'fixture' FROM range(3000) t(i)")
        # per patient 100 encounters on 4 days (two of them 20 days apart, then a gap of 3 years)
        s.con.execute("""
            INSERT INTO encounters (encounter_id, patient_id, status, start_ts, end_ts, source)
            SELECT 'e' || i || '-' || k, 'p' || i, 'finished',
                   TIMESTAMP '2019-03-19 09:00' + INTERVAL (CASE k % 4 WHEN 0 THEN 0 WHEN 1 THEN 0
                       WHEN 2 THEN 20 ELSE 1100 END) DAY,
                   TIMESTAMP '2019-03-19 09:00' + INTERVAL (CASE k % 4 WHEN 0 THEN 0 WHEN 1 THEN 60
                       WHEN 2 THEN 20 ELSE 1100 END) DAY, 'fixture'
            FROM range(3000) a(i), range(100) b(k)""")
    con = connect(path)
    for _ in range(3):
        per = observation.observation_periods(con, RULE, RULES).execute()
        assert per.period_id.is_unique
        assert (per.groupby("patient_id").size() == 2).all()
        assert set(per.records) == {75, 25}
    con.disconnect()
