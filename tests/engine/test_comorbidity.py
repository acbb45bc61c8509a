"""Charlson and Elixhauser indices: hand-checked patients and a plain-loop re-implementation.

Expected values are worked by hand from the shipped Quan (2005) ICD-10 prefix lists and the
published weights (Quan 2011 / Charlson 1987 for Charlson, van Walraven 2009 for Elixhauser),
which are comorbidipy 0.5.0's tables. comorbidipy itself does not import under pandas 3, so the
random-population check re-implements its algorithm (prefix match, assign0, weighted sum) as a
Python loop, except that a code in two categories counts in both (Quan; comorbidipy keeps one).
"""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from carevalue.backends import connect
from carevalue.engine.riskscores import comorbidity as cm
from carevalue.engine.riskscores import reference
from carevalue.ingest.store import Store

AS_OF = date(2024, 6, 30)
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"


def put(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    batch = pa.Table.from_pylist([{**r, "source": "fixture"} for r in rows])  # noqa: F841 (used by SQL)
    store.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM batch')


HAND = {
    # id: (age, ICD-10 codes)
    "a": (74, ["I21.0", "I50.9", "E11.9", "E11.22"]),   # ami, chf, diab, diabwc
    "b": (58, ["C34.90", "C78.00", "K70.30"]),          # canc, metacanc, mld (+ Elixhauser alcohol, ld)
    "c": (85, []),                                      # nothing coded
    "d": (45, ["F03.90"]),                              # dementia, given as a second coding
    "e": (66, ["I10", "I11.0", "E66.9", "F32.9"]),      # Elixhauser: hypunc, hypc + chf, obes, depre
}


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        put(s, "patients", [{"patient_id": k, "birth_date": date(AS_OF.year - age, 1, 1), "sex": "female"}
                            for k, (age, _) in HAND.items()])
        conds, cods = [], []
        for k, (_, codes) in HAND.items():
            for i, c in enumerate(codes):
                cid = f"{k}{i}"
                if k == "d":
                    conds.append({"condition_id": cid, "patient_id": k, "code_system": SNOMED, "code": "52448006"})
                    cods.append({"record_table": "conditions", "record_id": cid, "seq": 2,
                                 "code_system": ICD10, "code": c})
                else:
                    conds.append({"condition_id": cid, "patient_id": k, "code_system": ICD10, "code": c})
        put(s, "conditions", conds)
        put(s, "codings", cods)
    return path


def scores(path: Path, index: str, weighting: str | None = None) -> dict[str, dict[str, Any]]:
    con = connect(path)
    df = cm.comorbidity_scores(con.table("conditions"), con.table("codings"), con.table("patients"),
                               AS_OF, index=index, weighting=weighting).execute()
    con.disconnect()
    return {r["patient_id"]: r for r in df.to_dict("records")}


def test_charlson_by_hand(store: Path) -> None:
    q = scores(store, "charlson")
    a, b, c, d = q["a"], q["b"], q["c"], q["d"]
    assert (a["ami"], a["chf"], a["diab"], a["diabwc"]) == (1, 1, 1, 1)
    # Quan 2011: ami 0 + chf 2 + diabwc 1 (diab dominated) = 3; age 74 adds (74-40)//10 = 3.
    assert a["score"] == 3 and a["age_adjusted_score"] == 6
    # metacanc 6 (canc dominated) + mld 2 = 8; age 58 adds 1.
    assert (b["canc"], b["metacanc"], b["mld"]) == (1, 1, 1)
    assert b["score"] == 8 and b["age_adjusted_score"] == 9
    assert c["score"] == 0 and c["age_adjusted_score"] == 4 and sum(c[k] for k in cm.categories("charlson")) == 0
    assert d["dementia"] == 1 and d["score"] == 2  # found through the second coding
    orig = scores(store, "charlson", "charlson")
    # Charlson 1987: ami 1 + chf 1 + diabwc 2 = 4; metacanc 6 + mld 1 = 7.
    assert orig["a"]["score"] == 4 and orig["b"]["score"] == 7


def test_elixhauser_by_hand(store: Path) -> None:
    q = scores(store, "elixhauser")
    e, b = q["e"], q["b"]
    assert (e["hypunc"], e["hypc"], e["chf"], e["obes"], e["depre"]) == (1, 1, 1, 1, 1)
    # van Walraven: chf 7 + hypc 0 (hypunc dominated) + obes -4 + depre -3 = 0 (negative weights kept).
    assert e["score"] == 0
    # solidtum dominated by metacanc 12; K70.30 is both alcohol (0) and liver disease (11) = 23.
    assert (b["alcohol"], b["ld"], b["solidtum"], b["metacanc"]) == (1, 1, 1, 1)
    assert b["score"] == 23
    assert "age_adjusted_score" not in e
    assert scores(store, "elixhauser", "swiss")["e"]["score"] == 13 - 3 - 6 - 3  # chf, hypc, obes, depre


def test_unknown_index_or_weighting(store: Path) -> None:
    with pytest.raises(ValueError, match="unknown comorbidity index"):
        cm.categories("nope")
    with pytest.raises(ValueError, match="unknown weighting"):
        scores(store, "charlson", "vw")


def loop_reference(codes: list[str], age: int, index: str, weighting: str) -> tuple[dict[str, int], int]:
    prefixes = reference.arrow("comorbidity", f"{index}_icd10_quan").to_pylist()
    weights = {r["category"]: r["weight"] for r in reference.arrow("comorbidity", f"{index}_weights").to_pylist()
               if r["weighting"] == weighting}
    hier = reference.arrow("comorbidity", f"{index}_hierarchy").to_pylist()
    flags = {c: 0 for c in cm.categories(index)}
    for code in codes:
        code = code.replace(".", "").upper()
        for r in prefixes:
            if code.startswith(r["prefix"]):
                flags[r["category"]] = 1
    use = dict(flags)
    for r in hier:
        if flags[r["category"]]:
            use[r["drops"]] = 0
    return flags, sum(weights[c] * v for c, v in use.items())


@pytest.mark.parametrize("index,weighting", [("charlson", "quan"), ("elixhauser", "vw")])
def test_equals_a_plain_loop_on_400_random_patients(tmp_path: Path, index: str, weighting: str) -> None:
    rng = random.Random(3)
    pool = [r["prefix"] for r in reference.arrow("comorbidity", f"{index}_icd10_quan").to_pylist()]
    people = {f"p{i}": (rng.randint(20, 99), [rng.choice(pool) + rng.choice(["", "0", "9", "1.2", "X"])
                                              for _ in range(rng.randint(0, 8))]
                        + [rng.choice(["Z000", "R69", "I10"])]) for i in range(400)}
    path = tmp_path / "s.duckdb"
    with Store(path) as s:
        put(s, "patients", [{"patient_id": k, "birth_date": date(AS_OF.year - a, 1, 1)} for k, (a, _) in people.items()])
        put(s, "conditions", [{"condition_id": f"{k}-{i}", "patient_id": k, "code_system": ICD10, "code": c}
                              for k, (_, cs) in people.items() for i, c in enumerate(cs)])
    got = scores(path, index, weighting)
    for k, (age, codes) in people.items():
        flags, score = loop_reference(codes, age, index, weighting)
        assert {c: got[k][c] for c in flags} == flags, k
        assert got[k]["score"] == score, k


def test_deceased_charlson_as_of_death_and_snomed_mapped() -> None:
    import datetime as dt

    import ibis

    from carevalue.engine.riskscores.comorbidity import comorbidity_scores

    c = ibis.memtable([{"condition_id": "c1", "patient_id": "P1", "code_system": "http://snomed.info/sct",
                        "code": "84114007", "onset_ts": dt.datetime(2019, 6, 1), "recorded_ts": None,
                        "abatement_ts": None, "verification_status": None}],
                      schema={"condition_id": "string", "patient_id": "string", "code_system": "string",
                              "code": "string", "onset_ts": "timestamp", "recorded_ts": "timestamp",
                              "abatement_ts": "timestamp", "verification_status": "string"})
    p = ibis.memtable([{"patient_id": "P1", "birth_date": dt.date(1930, 3, 15), "sex": "male",
                        "death_date": dt.date(2020, 1, 1)}])
    from carevalue.definitions.loader import load
    from carevalue.engine.riskscores.crosswalk import from_library

    r = comorbidity_scores(c, None, p, dt.date(2024, 6, 30), crosswalk=from_library(load())).execute().iloc[0]
    # Heart failure (SNOMED 84114007 -> I50.9) is Charlson CHF, weight 2 in Quan 2011; aged 89 at
    # death: 4 age points (capped), so age-adjusted 6. Alive at 94 would also be 4 points, but the
    # diagnosis of 2019 would have left the one-year window.
    assert r["chf"] == 1 and r["score"] == 2 and r["age_adjusted_score"] == 6
    assert r["deceased"] and str(r["as_of"])[:10] == "2020-01-01"
