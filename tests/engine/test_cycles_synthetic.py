"""End to end on the synthetic population: synth -> FHIR/CSV ingest -> cycles + segments, compared
with the planted truth (truth/segments.csv, truth/care_cycles.csv written by carevalue.synth).

Acute cycles match the truth on (patient, condition, trigger id); chronic cycles on (patient,
condition) and the date the first period starts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine import cycles, segments
from carevalue.ingest.store import Store

RULES = load().get("record-rules", "default")

synth = pytest.importorskip("carevalue.synth")
ingest_run = pytest.importorskip("carevalue.ingest.run")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("synthpop")
    synth.generate(1500, 11, root / "pop")
    store = root / "store.duckdb"
    with Store(store) as s:
        ingest_run.ingest([root / "pop" / "source"], s)
    lib = load()
    con = connect(store)
    cycles.run(con, list(lib.kind("conditions").values()), RULES)
    segments.run(con, list(lib.kind("segments").values()), lib.kind("value-sets"), rules=RULES)
    con.disconnect()
    return store, root / "pop" / "truth"


def _read(store: Path, sql: str, params: list[object] | None = None) -> pd.DataFrame:
    import duckdb

    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute(sql, params or []).df()


@pytest.mark.slow
def test_segments_agree_with_truth(built: tuple[Path, Path]) -> None:
    store, truth = built
    t = pd.read_csv(truth / "segments.csv")
    as_of = t.as_of.iloc[0]
    ours = _read(store, "SELECT patient_id, segment FROM segments WHERE valid_from <= ?::DATE "
                        "AND (valid_to IS NULL OR valid_to > ?::DATE)", [as_of, as_of])
    m = t.merge(ours, on="patient_id", how="left", suffixes=("_true", "_ours"))
    agreement = (m.segment_true == m.segment_ours).mean()
    assert agreement >= 0.95, pd.crosstab(m.segment_true, m.segment_ours.fillna("none"))


@pytest.mark.slow
def test_planted_cycles_found_with_their_facility(built: tuple[Path, Path]) -> None:
    store, truth = built
    t = pd.read_csv(truth / "care_cycles.csv")
    ours = _read(store, "SELECT * FROM care_cycles")
    for kind, key in (("acute", ["patient_id", "condition", "trigger_id"]), ("chronic", ["patient_id", "condition"])):
        tk = t[t.cycle_type == kind]
        ok = ours[ours.cycle_type == kind].sort_values("start_ts").drop_duplicates(key)
        j = tk.merge(ok, on=key, how="outer", indicator=True, suffixes=("_t", "_o"))
        both = j[j._merge == "both"]
        recall, precision = len(both) / len(tk), len(both) / len(ok)
        assert recall >= 0.99, (kind, recall, j[j._merge == "left_only"].condition.value_counts())
        assert precision >= 0.95, (kind, precision, j[j._merge == "right_only"].condition.value_counts())
        assert (both.organization_id_t == both.organization_id_o).mean() >= 0.95
        assert (both.ipu_id_t.fillna("") == both.ipu_id_o.fillna("")).mean() >= 0.95
        if kind == "chronic":
            start_t = pd.to_datetime(both.start_ts_t).dt.tz_localize(None).dt.normalize()
            assert (start_t == pd.to_datetime(both.index_ts).dt.normalize()).mean() >= 0.99


@pytest.mark.slow
def test_condition_pathway_activities_land_in_their_cycle(built: tuple[Path, Path]) -> None:
    """The synthetic process steps of a pathway (step codes 'hip-*', 'knee-*' ...) are costed through
    cost-bearing encounters of that condition's cycles; primary-care steps ('pc-*') mostly are not."""
    store, _ = built
    df = _read(store, """
        WITH ce AS (SELECT encounter_id, condition FROM cycle_events
                    WHERE event_table = 'encounters' AND cost_bearing)
        SELECT split_part(a.step_code, '-', 1) AS prefix,
               avg((ce.encounter_id IS NOT NULL)::INT) AS in_cycle
        FROM activities a LEFT JOIN ce USING (encounter_id) GROUP BY 1""")
    share = dict(zip(df.prefix, df.in_cycle, strict=True))
    for prefix in ("hip", "knee", "brca", "hnc", "t2d", "hf", "mig", "ktx"):
        if prefix in share:
            assert share[prefix] >= 0.9, (prefix, share[prefix])
    assert share.get("pc", 0) < 0.2
