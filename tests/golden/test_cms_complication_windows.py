"""Golden test: the CMS THA/TKA complication measure's per-complication windows (issue 10, item 5).

Index operation at 08:00 on 2024-01-10 (day 0) for every patient; one record each, hand-placed:
  pneumonia day 5 -> 1 (7-day window)           pneumonia day 10 -> 0 (outside 7 days)
  PE day 25 -> 1 (30-day window)                DVT day 3 -> 0 (DVT is not a CMS component)
  SSI day 80 -> 1 (90-day window)               death day 20 -> 1 (30-day window)
  death day 40 -> 0 (death after 30 days)       AMI day 8 -> 0 (outside 7 days)
  dislocation of the prosthesis day 60 -> 1     hip fracture at the index + pneumonia day 2 -> excluded
The carevalue 'complications-90d' set counts DVT (day 3) and SSI, and no deaths or pneumonia.
"""

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

RULES = load().get("record-rules", "default")

TPL = "hip-osteoarthritis"
SCT = "http://snomed.info/sct"
ICD = "http://hl7.org/fhir/sid/icd-10-cm"
DAY0 = pd.Timestamp("2024-01-10 08:00")
# patient: (code system, code, day of the record or None, day of death or None, expected CMS value)
CASES = {
    "pneu5": (SCT, "233604007", 5, None, 1.0),
    "pneu10": (SCT, "233604007", 10, None, 0.0),
    "pe25": (ICD, "I26.99", 25, None, 1.0),
    "dvt3": (SCT, "128053003", 3, None, 0.0),
    "ssi80": (SCT, "433202001", 80, None, 1.0),
    "died20": (None, None, None, 20, 1.0),
    "died40": (None, None, None, 40, 0.0),
    "ami8": (ICD, "I21.4", 8, None, 0.0),
    "disl60": (ICD, "T84.020A", 60, None, 1.0),
    "frac": (ICD, "S72.001A", 0, None, None),
}


@pytest.fixture(scope="module")
def values(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    warnings.filterwarnings("ignore")
    path = Path(tmp_path_factory.mktemp("cms")) / "store.duckdb"
    with Store(path):
        pass
    db = duckdb.connect(str(path))
    for pid, (_s, _c, _d, death, _v) in CASES.items():
        db.execute("INSERT INTO patients (patient_id, birth_date, death_date, sex, source) VALUES (?,?,?,?,?)",
                   [pid, "1950-01-01", None if death is None else (DAY0 + pd.Timedelta(days=death)).date(),
                    "female", "t"])
    rows = [(f"c-{pid}", pid, system, code, DAY0 + pd.Timedelta(days=day, hours=-1 if day == 0 else 0))
            for pid, (system, code, day, _x, _v) in CASES.items() if code]
    rows.append(("c-frac-pneu", "frac", SCT, "233604007", DAY0 + pd.Timedelta(days=2)))
    db.executemany("INSERT INTO conditions (condition_id, patient_id, code_system, code, onset_ts, source) "
                   "VALUES (?,?,?,?,?, 't')", [list(r) for r in rows])
    db.execute("INSERT INTO encounters (encounter_id, patient_id, class_code, start_ts, end_ts, organization_id,"
               " source) VALUES ('end', 'pneu5', 'AMB', '2025-06-30 10:00', '2025-06-30 10:10', 'org', 't')")
    db.close()
    con = connect(path)
    n = len(CASES)
    cyc = pd.DataFrame({
        "cycle_id": [f"k-{p}" for p in CASES], "patient_id": list(CASES), "condition": TPL,
        "cycle_type": "acute", "start_ts": DAY0 - pd.Timedelta(days=240), "end_ts": DAY0 + pd.Timedelta(days=365),
        "trigger_table": "procedures", "trigger_id": [f"x-{p}" for p in CASES], "organization_id": "org",
        "ipu_id": pd.Series([None] * n, dtype="string"), "period_label": pd.Series([None] * n, dtype="string"),
        "index_ts": DAY0})
    con.raw_sql("DROP TABLE IF EXISTS care_cycles")
    con.create_table("care_cycles", ibis.memtable(cyc))
    lib = load()
    outcomes.run_values(con, [lib.get("conditions", TPL)], lib.kind("value-sets"), RULES)
    v = con.table("outcome_values").to_pandas()
    con.disconnect()
    return v


def test_each_complication_counts_only_within_its_own_window(values: pd.DataFrame) -> None:
    cms = values[values.measure == "cms-complications"].set_index("patient_id")
    for pid, (*_x, want) in CASES.items():
        if want is None:
            continue
        assert cms.loc[pid, "value"] == want, pid
    # 5 of the 9 eligible cycles have a CMS complication
    assert cms["value"].sum() == 5 and len(cms) == 9


def test_hip_fracture_at_the_index_excludes_the_cycle(values: pd.DataFrame) -> None:
    cms = values[values.measure == "cms-complications"]
    assert "frac" not in set(cms.patient_id)
    # the other measure has no such exclusion: the fracture patient is still there
    assert "frac" in set(values[values.measure == "complications-90d"].patient_id)


def test_event_time_is_the_first_counted_complication(values: pd.DataFrame) -> None:
    cms = values[values.measure == "cms-complications"].set_index("patient_id")
    assert cms.loc["pneu5", "time_days"] == pytest.approx(5.0)
    assert cms.loc["died20", "time_days"] == pytest.approx(20 - 8 / 24, abs=1e-6)  # death dated at midnight
    assert cms.loc["pneu10", "time_days"] == pytest.approx(90.0) and not cms.loc["pneu10", "censored"]


def test_the_carevalue_set_is_a_different_honestly_named_measure(values: pd.DataFrame) -> None:
    own = values[values.measure == "complications-90d"].set_index("patient_id")
    assert own.loc["dvt3", "value"] == 1.0 and own.loc["pneu5", "value"] == 0.0
    assert own.loc["died20", "value"] == 0.0
    tpl = load().get("conditions", TPL)
    titles = {m.id: m.title for m in tpl.outcomes}
    assert "not CMS" in titles["complications-90d"]
    cms = next(m for m in tpl.outcomes if m.id == "cms-complications")
    assert {c.id: c.within_days for c in cms.components} == {
        "ami": 7, "pneumonia": 7, "sepsis-shock": 7, "bleeding": 30, "pulmonary-embolism": 30,
        "death": 30, "mechanical": 90, "joint-wound-infection": 90}
    assert all(c.source for c in cms.components) and all(x.source for x in cms.exclusions)
