"""CMS-HCC V24 scores from the backend join equal hccpy's own per-patient ``HCCEngine.profile``.

The reference is hccpy 0.1.9 (the package whose CMS tables we ship), run on the same patients:
random ICD-10 codes drawn from the V24 mapping (plus unmapped codes, dotted codes, SNOMED codes
with the ICD-10 code as a second coding), random ages, sexes, segments, OREC and Medicaid status.
"""

from __future__ import annotations

import random
import re
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load as load_definitions
from carevalue.engine.riskscores import hcc, reference
from carevalue.engine.riskscores.crosswalk import from_library
from carevalue.ingest.store import Store

warnings.filterwarnings("ignore", category=DeprecationWarning)
hccpy_hcc = pytest.importorskip("hccpy.hcc")

AS_OF = date(2024, 6, 30)
LIB = load_definitions()
RULES = LIB.get("record-rules", "default")
XW = from_library(LIB)
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
SNOMED = "http://snomed.info/sct"
SEGMENTS = ("CNA", "CND", "CFA", "CFD", "CPA", "CPD", "INS")


def birth_for(age: int) -> str:
    """A birth date that makes the patient exactly ``age`` whole years old on AS_OF."""
    return date(AS_OF.year - age, 3, 15).isoformat()


def put(store: Store, table: str, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) by column name, in one statement."""
    if not rows:
        return
    batch = pa.Table.from_pylist([{**r, "source": "fixture"} for r in rows])  # noqa: F841 (used by SQL)
    store.con.execute(f'INSERT INTO "{table}" BY NAME SELECT * FROM batch')


def random_population(n: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    codes = sorted({r["icd10"] for r in reference.arrow("cms_hcc_v24", "dx_to_hcc").to_pylist()})
    edits = [r["icd10"] for r in reference.arrow("cms_hcc_v24", "age_sex_edits").to_pylist()]
    # CCs that take part in hierarchies and interactions, so that those paths are exercised often.
    busy = [r["icd10"] for r in reference.arrow("cms_hcc_v24", "dx_to_hcc").to_pylist()
            if r["hcc"] in {"HCC85", "HCC18", "HCC19", "HCC111", "HCC84", "HCC47", "HCC9", "HCC57",
                            "HCC135", "HCC96", "HCC55", "HCC59", "HCC2", "HCC158", "HCC188", "HCC114"}]
    people = []
    for i in range(n):
        k = rng.choice((0, 1, 2, 3, 4, 6, 9, 12, 15))
        dx = [rng.choice(codes) for _ in range(k)] + [rng.choice(busy) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.15:
            dx.append(rng.choice(edits))
        if rng.random() < 0.2:
            dx.append(rng.choice(("Z0000", "R69", "XYZ12")))  # valid-looking but unmapped
        people.append({
            "id": f"p{i:05d}", "dx": dx, "age": rng.randint(0, 104),
            "sex": rng.choice(("male", "female")), "segment": rng.choice(SEGMENTS),
            "orec": rng.choice(("0", "1", "2", "3")), "medicaid": rng.random() < 0.3,
        })
    return people


def load(path: Path, people: list[dict[str, Any]], seed: int) -> None:
    rng = random.Random(seed + 1)
    pats, conds, codings = [], [], []
    for p in people:
        pats.append({"patient_id": p["id"], "birth_date": birth_for(p["age"]), "sex": p["sex"]})
        for j, code in enumerate(p["dx"]):
            cid = f"{p['id']}-c{j}"
            shown = code[:3] + "." + code[3:] if len(code) > 3 and rng.random() < 0.5 else code
            onset = f"{AS_OF.year - rng.randint(0, 5)}-01-10 00:00:00"
            if rng.random() < 0.5:  # ICD-10 as the condition's own code
                conds.append({"condition_id": cid, "patient_id": p["id"], "code_system": ICD10,
                              "code": shown, "onset_ts": onset})
            else:  # SNOMED first, ICD-10 as the second coding (as synthetic FHIR writes it)
                conds.append({"condition_id": cid, "patient_id": p["id"], "code_system": SNOMED,
                              "code": "44054006", "onset_ts": onset})
                codings.append({"record_table": "conditions", "record_id": cid, "seq": 2,
                                "code_system": ICD10, "code": shown})
    with Store(path) as s:
        put(s, "patients", pats)
        put(s, "conditions", conds)
        put(s, "codings", codings)
        enrolment = pa.Table.from_pylist([  # noqa: F841 (used by SQL)
            {"patient_id": p["id"], "segment": p["segment"], "orec": p["orec"], "medicaid": p["medicaid"]}
            for p in people])
        s.con.execute("CREATE TABLE enrolment AS SELECT * FROM enrolment")


def backend_scores(path: Path, enrolment: bool = True) -> dict[str, tuple[float, int]]:
    con = connect(path)
    expr = hcc.hcc_scores(con.table("conditions"), con.table("codings"), con.table("patients"), AS_OF,
                          lookback_days=None, enrolment=con.table("enrolment") if enrolment else None)
    df = expr.execute()
    con.disconnect()
    return {r.patient_id: (float(r.score), int(r.hcc_count)) for r in df.itertuples()}


@pytest.fixture(scope="module")
def engine() -> Any:
    return hccpy_hcc.HCCEngine("24")


def test_backend_equals_hccpy_on_1200_random_patients(tmp_path: Path, engine: Any) -> None:
    people = random_population(1200, seed=7)
    load(tmp_path / "s.duckdb", people, seed=7)
    got = backend_scores(tmp_path / "s.duckdb")
    assert len(got) == len(people)
    nonzero_hccs = 0
    for p in people:
        ref = engine.profile(p["dx"], age=p["age"], sex=p["sex"], elig=p["segment"], orec=p["orec"],
                             medicaid=p["medicaid"])
        score, count = got[p["id"]]
        assert score == pytest.approx(ref["risk_score"], abs=1e-9), (p, ref["details"])
        assert count == sum(re.fullmatch(r"HCC\d+", v) is not None for v in ref["hcc_lst"]), p
        nonzero_hccs += count > 0
    assert nonzero_hccs > 900  # the comparison is not carried by demographics alone


def test_default_segment_is_aged_from_65_else_disabled(tmp_path: Path, engine: Any) -> None:
    people = random_population(200, seed=11)
    load(tmp_path / "s.duckdb", people, seed=11)
    got = backend_scores(tmp_path / "s.duckdb", enrolment=False)
    for p in people:
        aged = p["age"] >= 65
        ref = engine.profile(p["dx"], age=p["age"], sex=p["sex"], elig="CNA" if aged else "CND",
                             orec="0" if aged else "1")
        assert got[p["id"]][0] == pytest.approx(ref["risk_score"], abs=1e-9), p


def test_worked_example_by_hand(tmp_path: Path) -> None:
    """Woman aged 74, CNA: E11.9 (HCC19) + I50.9 (HCC85) + E11.22 (HCC18, drops HCC19).
    V24hcccoefn.csv: CNA_F70_74 0.386 + CNA_HCC18 0.302 + CNA_HCC85 0.331 + CNA_DIABETES_CHF 0.121
    + CNA_D2 0 = 1.140."""
    with Store(tmp_path / "s.duckdb") as s:
        put(s, "patients", [{"patient_id": "a", "birth_date": birth_for(74), "sex": "female"}])
        put(s, "conditions", [
            {"condition_id": f"c{i}", "patient_id": "a", "code_system": ICD10, "code": c}
            for i, c in enumerate(("E11.9", "I50.9", "E11.22"))])
    con = connect(tmp_path / "s.duckdb")
    row = hcc.hcc_scores(con.table("conditions"), None, con.table("patients"), AS_OF).execute().iloc[0]
    assert row.score == pytest.approx(1.140, abs=1e-9)
    assert row.hcc_count == 2
    assert row.model == "cms-hcc-v24"


def test_window_refuted_and_missing_birth_date(tmp_path: Path) -> None:
    """Only conditions present in the look-back year count; refuted ones never (the library's
    record rules); no birth date, no score."""
    with Store(tmp_path / "s.duckdb") as s:
        put(s, "patients", [{"patient_id": "a", "birth_date": birth_for(70), "sex": "male"},
                            {"patient_id": "b", "birth_date": None, "sex": "male"}])
        put(s, "conditions", [
            {"condition_id": "old", "patient_id": "a", "code_system": ICD10, "code": "I50.9",
             "onset_ts": "2020-01-01 00:00:00", "abatement_ts": "2021-01-01 00:00:00",
             "verification_status": None},
            {"condition_id": "future", "patient_id": "a", "code_system": ICD10, "code": "J44.9",
             "onset_ts": "2024-07-01 00:00:00", "abatement_ts": None, "verification_status": None},
            {"condition_id": "refuted", "patient_id": "a", "code_system": ICD10, "code": "C34.90",
             "onset_ts": "2024-01-01 00:00:00", "abatement_ts": None, "verification_status": "refuted"},
            {"condition_id": "ok", "patient_id": "a", "code_system": ICD10, "code": "E11.9",
             "onset_ts": "2019-01-01 00:00:00", "abatement_ts": None, "verification_status": "confirmed"},
            {"condition_id": "b1", "patient_id": "b", "code_system": ICD10, "code": "E11.9",
             "onset_ts": None, "abatement_ts": None, "verification_status": None},
        ])
    con = connect(tmp_path / "s.duckdb")
    out = hcc.run(con, AS_OF, rules=RULES, crosswalk=None)
    assert out == {"table": "patient_risk_scores", "rows": 2}
    df = con.table("patient_risk_scores").order_by("patient_id").execute()
    assert list(df.columns) == list(hcc.SCORE_COLUMNS)
    a, b = df.iloc[0], df.iloc[1]
    # CNA_M70_74 0.394 + CNA_HCC19 0.105 + CNA_D1 0 (V24hcccoefn.csv)
    assert a.score == pytest.approx(0.499, abs=1e-9) and a.hcc_count == 1
    assert b.score != b.score and b.hcc_count == 1  # NaN score, the diagnosis still counted


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown risk model"):
        hcc.MODELS["cms-hcc-v24"]  # noqa: B018 (the known one exists)
        hcc._folder("cms-hcc-v99")


def test_term_by_term_explanation_adds_up_to_the_score(tmp_path: Path) -> None:
    """hcc_variables (the row-by-row path that explains a score) sums to the bit-mask score."""
    people = random_population(300, seed=5)
    load(tmp_path / "s.duckdb", people, seed=5)
    con = connect(tmp_path / "s.duckdb")
    enrol = con.table("enrolment")
    dx = hcc.icd10_diagnoses(con.table("conditions"), con.table("codings"), AS_OF, None)
    terms = hcc.hcc_variables(dx, hcc.people(con.table("patients"), AS_OF, enrolment=enrol))
    sums = terms.group_by("patient_id").aggregate(s=terms.coefficient.sum()).execute()
    got = backend_scores(tmp_path / "s.duckdb")
    explained = {r.patient_id: round(r.s, 4) for r in sums.itertuples()}
    assert len(explained) > 250  # the rest have no cell for their age in their segment and no HCC
    for p in people:
        assert explained.get(p["id"], 0.0) == pytest.approx(got[p["id"]][0], abs=1e-9), p["id"]


# --------------------------------------------------------------------------- SNOMED-coded data, death
def _tables(conds: list[tuple[str, str, str, str, str]], pts: list[tuple[str, str, str | None]]):  # type: ignore[no-untyped-def]
    import datetime as dt

    import ibis

    c = ibis.memtable(
        [{"condition_id": cid, "patient_id": pid, "code_system": sys, "code": code,
          "onset_ts": dt.datetime.fromisoformat(onset), "recorded_ts": None, "abatement_ts": None,
          "verification_status": None} for cid, pid, sys, code, onset in conds],
        schema={"condition_id": "string", "patient_id": "string", "code_system": "string", "code": "string",
                "onset_ts": "timestamp", "recorded_ts": "timestamp", "abatement_ts": "timestamp",
                "verification_status": "string"})
    p = ibis.memtable(
        [{"patient_id": pid, "birth_date": dt.date.fromisoformat(b), "sex": "female",
          "death_date": dt.date.fromisoformat(d) if d else None} for pid, b, d in pts],
        schema={"patient_id": "string", "birth_date": "date", "sex": "string", "death_date": "date"})
    return c, p


def test_snomed_only_conditions_score_through_the_crosswalk() -> None:
    # SNOMED 44054006 (type 2 diabetes) -> E11.9 -> HCC19; 84114007 (heart failure) -> I50.9 -> HCC85.
    c, p = _tables([("c1", "P1", SNOMED, "44054006", "2024-01-10"), ("c2", "P1", "SNOMED-CT", "84114007", "2024-02-01"),
                    ("c3", "P2", ICD10, "E11.9", "2024-01-10")],
                   [("P1", birth_for(70), None), ("P2", birth_for(70), None)])
    with_xw = hcc.hcc_scores(c, None, p, AS_OF, crosswalk=XW).execute().set_index("patient_id")
    without = hcc.hcc_scores(c, None, p, AS_OF, crosswalk=None).execute().set_index("patient_id")
    assert with_xw.loc["P1", "hcc_count"] == 2 and without.loc["P1", "hcc_count"] == 0
    assert with_xw.loc["P1", "score"] > without.loc["P1", "score"]
    # P2's own ICD-10 code scores the same either way.
    assert with_xw.loc["P2", "score"] == without.loc["P2", "score"]


def test_deceased_scored_as_of_death_never_older() -> None:
    # P1 was born 1930-03-15 and died 2020-01-01 aged 89; scoring in 2024 must use 2020 and age 89
    # (the HCC demographic cell of 85-89), and the diagnosis of 2019 is inside the year before death.
    c, p = _tables([("c1", "P1", ICD10, "I50.9", "2019-06-01")], [("P1", "1930-03-15", "2020-01-01")])
    s = hcc.hcc_scores(c, None, p, AS_OF).execute().iloc[0]
    assert s["deceased"] and str(s["as_of"])[:10] == "2020-01-01" and s["hcc_count"] == 1
    person = hcc.people(p, AS_OF).execute().iloc[0]
    assert person["age"] == 89


def test_fast_path_equals_row_by_row_path_with_codings_crosswalk_and_odd_spellings(tmp_path: Path) -> None:
    """The score (codes looked up once per distinct code, edits and counts as lookups) equals the
    sum of hcc_variables over diagnosis_codes (code cleaned per record, CCs row by row) on data
    that exercises what the bit-mask path special-cases: ICD-10 systems and codes in odd spellings,
    SNOMED CT codes whose ICD-10 coding is mapped, unmapped or absent (the crosswalk counts only
    then), codings in other systems, ages from before birth to 125, no birth date, death."""
    rng = random.Random(11)
    mapped = sorted({r["icd10"] for r in reference.arrow("cms_hcc_v24", "dx_to_hcc").to_pylist()})
    edits = sorted({r["icd10"] for r in reference.arrow("cms_hcc_v24", "age_sex_edits").to_pylist()})
    assert XW is not None
    xw = [r["snomed_code"] for r in XW.to_pylist() if r["icd10"] in set(mapped)]
    systems = (ICD10, "ICD-10-CM", "icd10", "HTTP://HL7.ORG/FHIR/SID/ICD-10-CM")
    pats, conds, codings = [], [], []
    for i in range(400):
        pid = f"q{i:04d}"
        age = rng.choice((-1, 0, 5, 12, 17, 30, 64, 65, 70, 88, 99, 110, 125))
        died = rng.random() < 0.1
        pats.append({"patient_id": pid, "birth_date": None if rng.random() < 0.05 else birth_for(age),
                     "sex": rng.choice(("male", "female", "unknown")),
                     "death_date": "2024-01-31" if died else None})
        for j in range(rng.randint(0, 8)):
            cid = f"{pid}-{j}"
            onset = rng.choice(("2023-03-01 00:00:00", "2024-03-01 00:00:00", None))
            code = rng.choice(mapped + edits * 20 + ["Z0000", "R69"])
            shown = rng.choice((code, code[:3] + "." + code[3:], " " + code.lower() + " "))
            kind = rng.random()
            if kind < 0.4:
                conds.append({"condition_id": cid, "patient_id": pid, "code_system": rng.choice(systems),
                              "code": shown, "onset_ts": onset})
                continue
            conds.append({"condition_id": cid, "patient_id": pid, "code_system": SNOMED,
                          "code": rng.choice(xw + ["73211009", "444814009"]), "onset_ts": onset})
            if kind < 0.6:
                codings.append({"record_table": "conditions", "record_id": cid, "seq": 2,
                                "code_system": rng.choice(systems), "code": shown})
            elif kind < 0.7:
                codings.append({"record_table": "conditions", "record_id": cid, "seq": 2,
                                "code_system": ICD10, "code": "Z0000"})  # unmapped: stops the crosswalk
            elif kind < 0.8:
                codings.append({"record_table": "conditions", "record_id": cid, "seq": 2,
                                "code_system": "http://example.org/local", "code": code})  # not ICD-10
    with Store(tmp_path / "s.duckdb") as s:
        put(s, "patients", pats)
        put(s, "conditions", conds)
        put(s, "codings", codings)
    con = connect(tmp_path / "s.duckdb")
    c, k, p = con.table("conditions"), con.table("codings"), con.table("patients")
    fast = hcc.hcc_scores(c, k, p, AS_OF, crosswalk=XW, code_pairs=c).execute().set_index("patient_id")
    dx = hcc.icd10_diagnoses(c, k, AS_OF, 365, crosswalk=XW, patients=p)
    terms = hcc.hcc_variables(dx, hcc.people(p, AS_OF)).execute()
    slow = terms.groupby("patient_id").coefficient.sum().round(4)
    counts = terms[terms.variable.str.fullmatch(r"HCC\d+")].groupby("patient_id").size()
    assert len(fast) == len(pats) and (fast.hcc_count > 0).sum() > 200
    for q in pats:
        row = fast.loc[q["patient_id"]]
        assert row.hcc_count == counts.get(q["patient_id"], 0), q
        if q["birth_date"] is None:
            assert row.score != row.score  # no birth date: no score
        else:
            assert row.score == pytest.approx(slow.get(q["patient_id"], 0.0), abs=1e-9), q


def test_run_leaves_the_connections_duckdb_settings_as_they_were(tmp_path: Path) -> None:
    """hcc.run switches DuckDB's build-side optimizer off for its one statement only."""
    with Store(tmp_path / "s.duckdb") as s:
        put(s, "patients", [{"patient_id": "a", "birth_date": birth_for(74), "sex": "female"}])
        put(s, "conditions", [{"condition_id": "c", "patient_id": "a", "code_system": ICD10, "code": "I50.9"}])
    con = connect(tmp_path / "s.duckdb")
    con.raw_sql("SET disabled_optimizers = 'top_n'")
    assert hcc.run(con, AS_OF, rules=RULES, crosswalk=XW)["rows"] == 1
    assert con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchone()[0] == "top_n"
