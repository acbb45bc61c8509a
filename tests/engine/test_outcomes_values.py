"""Outcome values per care cycle on a hand-built store: every number below is worked out from the
records inserted here (days counted from the index operation at 08:00 on the index date), with
the hip template's outcome set (content/conditions/hip-osteoarthritis.yaml)."""

from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import outcomes
from carevalue.ingest.store import Store

RULES = load().get("record-rules", "default")

TPL = "hip-osteoarthritis"
SCT = "http://snomed.info/sct"


def _insert(db: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, object]]) -> None:
    cols = list(rows[0])
    db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                   [[r[c] for c in cols] for r in rows])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    warnings.filterwarnings("ignore")
    path = Path(tmp_path_factory.mktemp("outcomes")) / "store.duckdb"
    with Store(path):
        pass
    db = duckdb.connect(str(path))
    _insert(db, "patients", [
        {"patient_id": "p1", "birth_date": "1950-01-10", "death_date": "2024-02-20", "sex": "female", "source": "t"},
        {"patient_id": "p2", "birth_date": "1960-03-01", "death_date": None, "sex": "male", "source": "t"},
        {"patient_id": "p3", "birth_date": "1955-06-01", "death_date": None, "sex": "female", "source": "t"},
    ])
    enc = [("e1", "p1", "IMP", "2024-01-10 07:00", "2024-01-13 10:00"),   # index stay: 3 midnights
           ("e1r", "p1", "IMP", "2024-01-25 09:00", "2024-01-28 09:00"),  # 12 days after discharge
           ("e2", "p2", "AMB", "2024-03-01 07:00", "2024-03-01 15:00"),   # day case
           ("e2r", "p2", "IMP", "2024-04-15 09:00", "2024-04-17 09:00"),  # 45 days: not within 30
           ("e3", "p3", "IMP", "2025-12-01 07:00", "2025-12-03 07:00"),
           ("end", "p2", "AMB", "2025-12-31 10:00", "2025-12-31 10:10")]  # the data end
    _insert(db, "encounters", [{"encounter_id": e, "patient_id": p, "class_code": c, "start_ts": s,
                                "end_ts": t, "organization_id": "org-x", "source": "t"} for e, p, c, s, t in enc])
    _insert(db, "procedures", [
        {"procedure_id": "rev2", "patient_id": "p2", "code_system": SCT, "code": "179344006",
         "start_ts": "2024-09-17 08:00", "source": "t"}])  # revision 200 days after the index
    _insert(db, "conditions", [
        {"condition_id": "c1", "patient_id": "p1", "code_system": SCT, "code": "433202001",
         "onset_ts": "2024-01-20 08:00", "source": "t"},   # SSI on day 10
        {"condition_id": "c2", "patient_id": "p2", "code_system": SCT, "code": "128053003",
         "onset_ts": "2024-06-29 08:00", "source": "t"},   # DVT on day 120: outside 90 days
        {"condition_id": "dm", "patient_id": "p1", "code_system": SCT, "code": "44054006",
         "onset_ts": "2015-01-01 00:00", "source": "t"},   # comorbidity, active at the index
    ])
    _insert(db, "observations", [
        {"observation_id": "asa1", "patient_id": "p1", "code_system": "https://carevalue.org/fhir/CodeSystem/case-mix",
         "code": "asa-class", "effective_ts": "2023-12-15 09:00", "value_num": 3.0, "source": "t"}])
    db.close()
    con = connect(path)
    # care cycles as the cycle builder writes them (columns of CONTRACTS.md), index = the operation
    cyc = pd.DataFrame({
        "cycle_id": ["k1", "k2", "k3"], "patient_id": ["p1", "p2", "p3"], "condition": TPL,
        "cycle_type": "acute", "start_ts": pd.to_datetime(["2023-06-01", "2023-08-01", "2025-06-01"]),
        "end_ts": pd.to_datetime(["2025-01-10", "2025-03-01", "2026-12-01"]),
        "trigger_table": "procedures", "trigger_id": ["x1", "x2", "x3"], "organization_id": "org-x",
        "ipu_id": pd.Series([None] * 3, dtype="string"), "period_label": pd.Series([None] * 3, dtype="string"),
        "index_ts": pd.to_datetime(["2024-01-10 08:00", "2024-03-01 08:00", "2025-12-01 08:00"])})
    con.raw_sql("DROP TABLE IF EXISTS care_cycles")
    import ibis
    con.create_table("care_cycles", ibis.memtable(cyc))
    scores = pd.DataFrame({"response_id": ["r0", "r6"], "patient_id": "p2", "instrument": "hoos-ps",
                           "scale": "score", "score": [55.0, 88.5], "band": pd.Series([None] * 2, dtype="string"), "items_answered": 5,
                           "status": "scored",
                           "authored_ts": pd.to_datetime(["2024-02-10 10:00", "2024-09-02 10:00"])})
    con.create_table("prom_scores", ibis.memtable(scores))
    lib = load()
    outcomes.run_values(con, [lib.get("conditions", TPL)], lib.kind("value-sets"), RULES)
    yield con
    con.disconnect()


def _value(con, cycle: str, measure: str, time_point: str) -> pd.Series:  # type: ignore[no-untyped-def]
    v = con.table("outcome_values")
    rows = v.filter((v.cycle_id == cycle) & (v.measure == measure) & (v.time_point == time_point)).to_pandas()
    assert len(rows) == 1, rows
    return rows.iloc[0]


def _evidence(con, cycle: str, measure: str) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    e = con.table("outcome_evidence")
    rows = e.filter((e.cycle_id == cycle) & (e.measure == measure)).to_pandas()
    return set(zip(rows.evidence_table, rows.evidence_id, strict=True))


def test_mortality_death_on_day_41(store) -> None:  # type: ignore[no-untyped-def]
    r = _value(store, "k1", "mortality-90d", "90 days")
    assert (r.value, r.event, r.time_days, r.censored) == (1.0, 1, 41.0, False)
    assert r.tier == 1 and r.level == 1 and r.value_type == "binary"
    assert _evidence(store, "k1", "mortality-90d") == {("patients", "p1")}


def test_alive_with_full_follow_up_is_not_censored(store) -> None:  # type: ignore[no-untyped-def]
    r = _value(store, "k2", "mortality-90d", "90 days")
    assert (r.value, r.event, r.time_days, r.censored) == (0.0, 0, 90.0, False)


def test_follow_up_shorter_than_time_point_is_censored(store) -> None:  # type: ignore[no-untyped-def]
    # index 2025-12-01 08:00, data end (last encounter start) 2025-12-31 10:00: 30.08 days of 90
    r = _value(store, "k3", "mortality-90d", "90 days")
    assert pd.isna(r.value) and r.event == 0 and r.censored
    assert r.time_days == pytest.approx(30 + 2 / 24, abs=1e-6)


def test_complication_within_90_days_traces_to_its_condition(store) -> None:  # type: ignore[no-untyped-def]
    r = _value(store, "k1", "complications-90d", "90 days")
    assert (r.value, r.event, r.time_days) == (1.0, 1, 10.0)
    assert _evidence(store, "k1", "complications-90d") == {("conditions", "c1")}
    r2 = _value(store, "k2", "complications-90d", "90 days")
    assert (r2.value, r2.event) == (0.0, 0)


def test_length_of_stay_and_day_case(store) -> None:  # type: ignore[no-untyped-def]
    assert _value(store, "k1", "length-of-stay", "discharge").value == 3.0
    assert _evidence(store, "k1", "length-of-stay") == {("encounters", "e1")}
    assert _value(store, "k2", "length-of-stay", "discharge").value == 0.0
    assert _evidence(store, "k2", "length-of-stay") == {("procedures", "x2")}


def test_readmission_counts_days_from_discharge(store) -> None:  # type: ignore[no-untyped-def]
    r = _value(store, "k1", "readmission-30d", "30 days")
    # discharge 2024-01-13 10:00 -> readmitted 2024-01-25 09:00 = 11.96 days later
    assert r.value == 1.0 and r.time_days == pytest.approx(11 + 23 / 24, abs=1e-6)
    assert _evidence(store, "k1", "readmission-30d") == {("encounters", "e1r")}
    assert _value(store, "k2", "readmission-30d", "30 days").value == 0.0  # day 45 is too late


def test_revision_free_survival_by_time_point(store) -> None:  # type: ignore[no-untyped-def]
    r1 = _value(store, "k2", "revision-2y", "1 year")
    assert (r1.value, r1.time_days) == (1.0, 200.0)
    r2 = _value(store, "k1", "revision-2y", "2 years")
    # p1 died on day 41 without a revision: known (no revision), time stops at death
    assert r2.value == 0.0 and not r2.censored and r2.time_days == pytest.approx(41 - 8 / 24, abs=1e-6)


def test_prom_scores_at_their_time_points(store) -> None:  # type: ignore[no-untyped-def]
    base = _value(store, "k2", "physical-function", "baseline")
    assert base.value == 55.0 and base.scale == "score" and base.value_type == "continuous"
    six = _value(store, "k2", "physical-function", "6 months")
    assert six.value == 88.5
    assert _evidence(store, "k2", "physical-function") == {("questionnaire_responses", "r0"),
                                                            ("questionnaire_responses", "r6")}
    v = store.table("outcome_values")
    assert v.filter((v.cycle_id == "k2") & (v.time_point == "1 year") & (v.measure == "physical-function")).count().execute() == 0


def test_case_mix_variables(store) -> None:  # type: ignore[no-untyped-def]
    cm = store.table("casemix_values").to_pandas().set_index(["cycle_id", "variable"])
    assert cm.loc[("k1", "asa-class"), "value_num"] == 3.0
    assert cm.loc[("k1", "comorbidities"), "value_num"] == 1.0  # diabetes active at the index
    assert cm.loc[("k2", "comorbidities"), "value_num"] == 0.0
    assert cm.loc[("k1", "age"), "value_num"] == pytest.approx(74.0, abs=0.01)
    assert cm.loc[("k2", "sex"), "value_text"] == "male"
    assert cm.loc[("k2", "baseline-function"), "value_num"] == 55.0


def test_cli_table_suppresses_small_providers(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import json

    from typer.testing import CliRunner

    from carevalue.cli import app

    lib = load()
    outcomes.run_comparison(store, [lib.get("conditions", TPL)])
    path = store.raw_sql("PRAGMA database_list").fetchall()[0][2]
    store.raw_sql("CHECKPOINT")
    store.disconnect()  # the CLI opens the store itself (read-only); one process, one handle per file
    res = CliRunner().invoke(app, ["outcomes", "--store", path, "--condition", TPL,
                                   "--measure", "length-of-stay", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.output)
    # one provider with 3 cycles: nothing to compare it with, so no provider numbers at all
    (row,) = rows
    assert row["status"] == "insufficient data" and row["organization_id"] is None
    assert row["oe"] is None and row["ci_low"] is None and row["n"] == "<11"
    bad = CliRunner().invoke(app, ["outcomes", "--store", path, "--condition", TPL, "--measure", "nope"])
    assert bad.exit_code == 2 and "unknown measure" in bad.output
