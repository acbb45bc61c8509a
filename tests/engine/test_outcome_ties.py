"""Ties never depend on row order: two index stays admitted at the same minute, two PROM responses
authored at the same time and two case-mix observations at the same time give the same outcome
values, evidence and case-mix values whichever order the records were stored in (the lower record
id wins a tie; for case-mix values, which carry no evidence, the lower value)."""

from __future__ import annotations

import warnings
from pathlib import Path

import duckdb
import ibis
import pandas as pd
import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import outcomes
from carevalue.ingest.store import Store

TPL = "hip-osteoarthritis"
CASE_MIX = "https://carevalue.org/fhir/CodeSystem/case-mix"


def _insert(db: duckdb.DuckDBPyConnection, table: str, rows: list[dict[str, object]], reverse: bool) -> None:
    rows = rows[::-1] if reverse else rows
    cols = list(rows[0])
    db.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                   [[r[c] for c in cols] for r in rows])


def _run(folder: Path, reverse: bool):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _tied_store_outcomes(folder, reverse)


def _tied_store_outcomes(folder: Path, reverse: bool):  # type: ignore[no-untyped-def]
    path = folder / "store.duckdb"
    with Store(path):
        pass
    db = duckdb.connect(str(path))
    _insert(db, "patients", [{"patient_id": "p1", "birth_date": "1950-01-10", "sex": "female", "source": "t"}],
            reverse)
    stays = [("s-a", "IMP", "2024-01-10 07:00", "2024-01-12 10:00"),   # 2 midnights
             ("s-b", "IMP", "2024-01-10 07:00", "2024-01-14 10:00"),   # same admission, 4 midnights
             ("end", "AMB", "2025-12-31 10:00", "2025-12-31 10:10")]
    _insert(db, "encounters", [{"encounter_id": e, "patient_id": "p1", "class_code": c, "start_ts": s,
                                "end_ts": t, "organization_id": "org-x", "source": "t"} for e, c, s, t in stays],
            reverse)
    _insert(db, "observations", [
        {"observation_id": i, "patient_id": "p1", "code_system": CASE_MIX, "code": "asa-class",
         "effective_ts": "2023-12-15 09:00", "value_num": v, "source": "t"} for i, v in (("o-a", 3.0), ("o-b", 2.0))],
        reverse)
    db.close()
    con = connect(path)
    cyc = pd.DataFrame({
        "cycle_id": ["k1"], "patient_id": ["p1"], "condition": TPL, "cycle_type": "acute",
        "start_ts": pd.to_datetime(["2023-06-01"]), "end_ts": pd.to_datetime(["2025-01-10"]),
        "trigger_table": "procedures", "trigger_id": ["x1"], "organization_id": "org-x",
        "ipu_id": pd.Series([None], dtype="string"), "period_label": pd.Series([None], dtype="string"),
        "index_ts": pd.to_datetime(["2024-01-10 08:00"])})
    con.create_table("care_cycles", ibis.memtable(cyc))
    scores = pd.DataFrame({"response_id": ["r-a", "r-b"], "patient_id": "p1", "instrument": "hoos-ps",
                           "scale": "score", "score": [80.0, 70.0], "band": pd.Series([None] * 2, dtype="string"),
                           "items_answered": 5, "status": "scored",
                           "authored_ts": pd.to_datetime(["2024-07-10 10:00"] * 2)})
    con.create_table("prom_scores", ibis.memtable(scores.iloc[::-1] if reverse else scores))
    lib = load()
    outcomes.run_values(con, [lib.get("conditions", TPL)], lib.kind("value-sets"),
                        lib.get("record-rules", "default"))
    values = con.table("outcome_values").to_pandas()
    evidence = con.table("outcome_evidence").to_pandas()
    casemix = con.table("casemix_values").to_pandas()
    con.disconnect()
    return values, evidence, casemix


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return [_run(Path(tmp_path_factory.mktemp(f"ties-{r}")), r) for r in (False, True)]


def _one(values: pd.DataFrame, measure: str, time_point: str) -> pd.Series:
    rows = values[(values.measure == measure) & (values.time_point == time_point)]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_index_stay_tie_takes_the_lower_stay_id(both) -> None:  # type: ignore[no-untyped-def]
    for values, evidence, _ in both:
        assert _one(values, "length-of-stay", "discharge").value == 2.0
        los = evidence[evidence.measure == "length-of-stay"]
        assert set(zip(los.evidence_table, los.evidence_id, strict=True)) == {("encounters", "s-a")}


def test_prom_tie_takes_the_lower_response_id(both) -> None:  # type: ignore[no-untyped-def]
    for values, evidence, _ in both:
        assert _one(values, "physical-function", "6 months").value == 80.0
        pf = evidence[evidence.measure == "physical-function"]
        assert set(pf.evidence_id) == {"r-a"}


def test_case_mix_tie_takes_the_lower_value(both) -> None:  # type: ignore[no-untyped-def]
    for _, _, casemix in both:
        asa = casemix[(casemix.cycle_id == "k1") & (casemix.variable == "asa-class")]
        assert asa.value_num.tolist() == [2.0]


def test_every_table_is_the_same_in_either_order(both) -> None:  # type: ignore[no-untyped-def]
    (v1, e1, c1), (v2, e2, c2) = both
    for a, b in ((v1, v2), (e1, e2), (c1, c2)):
        key = list(a.columns)
        pd.testing.assert_frame_equal(a.sort_values(key, na_position="first").reset_index(drop=True),
                                      b.sort_values(key, na_position="first").reset_index(drop=True))
