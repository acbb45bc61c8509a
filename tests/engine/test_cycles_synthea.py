"""Cycles and segments on the Synthea CSV samples in ../shared/data (real-shaped, third-party data).

Expected numbers come from the source CSV files themselves (read here with pandas, independently
of the ingest): every patient with a chronic template's diagnosis gets chronic cycles, and acute
cycles exist only where the index procedure occurs.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import cycles, segments
from carevalue.ingest.store import Store

ingest_run = pytest.importorskip("carevalue.ingest.run")
LIB = load()
RULES = load().get("record-rules", "default")


@pytest.fixture(scope="module")
def unmc(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    src = shared_data / "synthea-csv" / "unmc-crane-v3.0"
    store = tmp_path_factory.mktemp("synthea") / "unmc.duckdb"
    with Store(store) as s:
        ingest_run.ingest([src], s)
    con = connect(store)
    cycles.run(con, list(LIB.kind("conditions").values()), RULES)
    segments.run(con, list(LIB.kind("segments").values()), LIB.kind("value-sets"), rules=RULES)
    con.disconnect()
    return store, src


def _df(store: Path, sql: str) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(sql).df()


def test_cycles_where_the_codes_occur(unmc: tuple[Path, Path]) -> None:
    store, src = unmc
    cond = pd.read_csv(src / "conditions.csv", dtype=str)
    proc = pd.read_csv(src / "procedures.csv", dtype=str)
    cyc = _df(store, "SELECT condition, cycle_type, patient_id FROM care_cycles")
    pats = cyc.groupby("condition").patient_id.nunique().to_dict()
    # Chronic templates: every patient with the diagnosis code (Synthea CODE column) has cycles.
    assert pats.get("type-2-diabetes") == cond[cond.CODE == "44054006"].PATIENT.nunique() == 5
    assert pats.get("heart-failure") == cond[cond.CODE.isin(["88805009", "84114007"])].PATIENT.nunique()
    # Acute templates: cycles only where the index procedure occurs (one kidney transplant, one
    # lumpectomy in this sample); osteoarthritis patients had no arthroplasty, so no OA cycle.
    assert pats.get("kidney-transplant") == proc[proc.CODE == "70536003"].PATIENT.nunique() == 1
    assert pats.get("breast-cancer") == 1
    assert "hip-osteoarthritis" not in pats and "knee-osteoarthritis" not in pats
    assert set(cyc[cyc.condition == "type-2-diabetes"].cycle_type) == {"chronic"}


def test_every_patient_segmented_without_gaps(unmc: tuple[Path, Path]) -> None:
    store, src = unmc
    pts = pd.read_csv(src / "patients.csv", dtype=str)
    seg = _df(store, "SELECT * FROM segments ORDER BY patient_id, valid_from")
    assert seg.patient_id.nunique() == len(pts)
    for _, g in seg.groupby("patient_id"):
        assert list(g.valid_to.iloc[:-1]) == list(g.valid_from.iloc[1:]) and g.valid_to.isna().iloc[-1]
