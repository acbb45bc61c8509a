"""FHIR status semantics (issue 11 item 1): every status value of every resource type carevalue
reads is stored, and counts or not exactly as FHIR R4 defines it.

The expectations below are written from the R4 value-set definitions, independently of
content/record-rules/default.yaml: a content change that makes a refuted diagnosis or a cancelled
encounter count again fails here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from carevalue.backends import connect
from carevalue.definitions.loader import load
from carevalue.engine.record_filter import counting, excluded
from carevalue.ingest.fhir_resources import CONDITION_STATUS, STATUS
from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store

RULES = load().get("record-rules", "default")

SNOMED = "http://snomed.info/sct"
CC = {"coding": [{"system": SNOMED, "code": "44054006"}]}
SUBJECT = {"reference": "Patient/p1"}

# (resource type, element) -> {code: counts?}, from the R4 definitions of each code.
EXPECTED: dict[tuple[str, str], dict[str, bool]] = {
    ("Encounter", "status"): {"planned": False, "arrived": True, "triaged": True, "in-progress": True,
                              "onleave": True, "finished": True, "cancelled": False,
                              "entered-in-error": False, "unknown": True},
    ("Condition", "verificationStatus"): {"unconfirmed": True, "provisional": True, "differential": True,
                                          "confirmed": True, "refuted": False, "entered-in-error": False},
    ("Condition", "clinicalStatus"): {"active": True, "recurrence": True, "relapse": True, "inactive": True,
                                      "remission": True, "resolved": True},
    ("Procedure", "status"): {"preparation": False, "in-progress": True, "not-done": False, "on-hold": True,
                              "stopped": True, "completed": True, "entered-in-error": False, "unknown": True},
    ("Observation", "status"): {"registered": False, "preliminary": False, "final": True, "amended": True,
                                "corrected": True, "cancelled": False, "entered-in-error": False,
                                "unknown": True},
    ("MedicationRequest", "status"): {"active": True, "on-hold": True, "cancelled": False, "completed": True,
                                      "entered-in-error": False, "stopped": True, "draft": False,
                                      "unknown": True},
    ("MedicationRequest", "intent"): {"proposal": False, "plan": False, "order": True, "original-order": True,
                                      "reflex-order": True, "filler-order": True, "instance-order": True,
                                      "option": False},
    ("Immunization", "status"): {"completed": True, "entered-in-error": False, "not-done": False},
    ("Claim", "status"): {"active": True, "cancelled": False, "draft": False, "entered-in-error": False},
    ("ExplanationOfBenefit", "status"): {"active": True, "cancelled": False, "draft": False,
                                         "entered-in-error": False},
    ("CareTeam", "status"): {"proposed": True, "active": True, "suspended": True, "inactive": True,
                             "entered-in-error": False},
    ("QuestionnaireResponse", "status"): {"in-progress": False, "completed": True, "amended": True,
                                          "entered-in-error": False, "stopped": False},
    ("Questionnaire", "status"): {"draft": True, "active": True, "retired": True, "unknown": True},
}
TABLE = {"Encounter": "encounters", "Condition": "conditions", "Procedure": "procedures",
         "Observation": "observations", "MedicationRequest": "medications", "Immunization": "immunizations",
         "Claim": "claims", "ExplanationOfBenefit": "claims", "CareTeam": "care_teams",
         "QuestionnaireResponse": "questionnaire_responses", "Questionnaire": "questionnaires"}


def _resource(rtype: str, element: str, code: str, rid: str) -> dict[str, Any]:
    r: dict[str, Any] = {"resourceType": rtype, "id": rid}
    if rtype == "Encounter":
        r |= {"status": code, "subject": SUBJECT, "class": {"code": "AMB"},
              "period": {"start": "2022-01-01T10:00:00Z"}}
    elif rtype == "Condition":
        r |= {"subject": SUBJECT, "code": CC, "onsetDateTime": "2022-01-01T10:00:00Z",
              element: {"coding": [{"code": code}]}}
    elif rtype == "Procedure":
        r |= {"status": code, "subject": SUBJECT, "code": CC, "performedDateTime": "2022-01-01T10:00:00Z"}
    elif rtype == "Observation":
        r |= {"status": code, "subject": SUBJECT, "code": CC, "effectiveDateTime": "2022-01-01T10:00:00Z"}
    elif rtype == "MedicationRequest":
        r |= {"status": "active", "intent": "order", "subject": SUBJECT, "medicationCodeableConcept": CC,
              "authoredOn": "2022-01-01T10:00:00Z", element: code}
    elif rtype == "Immunization":
        r |= {"status": code, "patient": SUBJECT, "vaccineCode": CC, "occurrenceDateTime": "2022-01-01T10:00:00Z"}
    elif rtype in ("Claim", "ExplanationOfBenefit"):
        r |= {"status": code, "patient": SUBJECT, "billablePeriod": {"start": "2022-01-01T10:00:00Z"}}
    elif rtype == "CareTeam":
        r |= {"status": code, "subject": SUBJECT}
    elif rtype == "QuestionnaireResponse":
        r |= {"status": code, "subject": SUBJECT, "questionnaire": "http://example.org/q",
              "authored": "2022-01-01T10:00:00Z"}
    elif rtype == "Questionnaire":
        r |= {"status": code}
    return r


def _cases() -> list[tuple[str, str, str, bool, str]]:
    return [(rtype, el, code, counts, f"{rtype}-{el}-{code}".lower())
            for (rtype, el), codes in EXPECTED.items() for code, counts in codes.items()]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("status")
    lines = [{"resourceType": "Patient", "id": "p1", "birthDate": "1950-01-01", "gender": "female"}]
    lines += [_resource(rtype, el, code, rid) for rtype, el, code, _, rid in _cases()]
    (folder / "all.ndjson").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    path = folder / "store.duckdb"
    with Store(path) as s:
        report = ingest([folder / "all.ndjson"], s)
    f = report.files[0]
    assert (f.read, f.stored, f.quarantined) == (len(lines), len(lines), 0), f.reasons  # nothing lost
    return path


def test_the_expectations_cover_every_value_the_reader_accepts() -> None:
    accepted = {(k, "status"): v for k, v in STATUS.items() if "." not in k}
    accepted |= {tuple(k.split(".")): v for k, v in STATUS.items() if "." in k}  # type: ignore[misc]
    accepted |= {("Condition", k): v for k, v in CONDITION_STATUS.items()}
    assert {k: set(v) for k, v in accepted.items()} == {k: set(v) for k, v in EXPECTED.items()}


def test_every_rule_sorts_its_whole_value_set() -> None:
    rules = load().get("record-rules", "default")
    by_element = {(TABLE[rt], el) for rt, el in EXPECTED}
    for r in rules.statuses:
        rtype = r.element.split(".")[0]
        el = r.element.split(".")[1].split(" ")[0]
        assert (r.table, el) in by_element or r.table == "claims", r.element
        assert r.codes() == set(EXPECTED[(rtype, el)]), r.element
        assert r.source.startswith("http://hl7.org/fhir/R4/valueset-"), r.element


@pytest.mark.parametrize(("rtype", "element", "code", "counts", "rid"), _cases(),
                         ids=[c[4] for c in _cases()])
def test_status_value_counts_as_fhir_defines(store: Path, rtype: str, element: str, code: str,
                                             counts: bool, rid: str) -> None:
    con = connect(store)
    name = TABLE[rtype]
    key = {"encounters": "encounter_id", "conditions": "condition_id", "procedures": "procedure_id",
           "observations": "observation_id", "medications": "medication_id",
           "immunizations": "immunization_id", "claims": "claim_id", "care_teams": "care_team_id",
           "questionnaire_responses": "response_id", "questionnaires": "questionnaire_id"}[name]
    stored = con.table(name).filter(lambda t: t[key] == rid).count().execute()
    counted = counting(con, name, RULES).filter(lambda t: t[key] == rid).count().execute()
    why = excluded(con, name, RULES).filter(lambda t: t.record_id == rid).execute()
    con.disconnect()
    assert stored == 1  # always kept
    assert counted == (1 if counts else 0)
    if counts:
        assert why.empty
    else:
        assert code.replace("-", " ") in why.reason.iloc[0] or code in why.reason.iloc[0]


def test_a_resolved_condition_without_abatement_ends_when_recorded(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as s:
        s.con.execute("INSERT INTO patients (patient_id, source) VALUES ('p', 'x')")
        s.con.execute("""INSERT INTO conditions (condition_id, patient_id, code, clinical_status, onset_ts,
                         recorded_ts, abatement_ts, source) VALUES
                         ('r', 'p', '1', 'resolved', '2020-01-01', '2021-03-01', NULL, 'x'),
                         ('a', 'p', '1', 'active', '2020-01-01', '2021-03-01', NULL, 'x'),
                         ('k', 'p', '1', 'resolved', '2020-01-01', '2021-03-01', '2020-06-01', 'x')""")
    con = connect(tmp_path / "s.duckdb")
    ends = {r.condition_id: r.abatement_ts for r in counting(con, "conditions", RULES).execute().itertuples()}
    con.disconnect()
    assert str(ends["r"])[:10] == "2021-03-01"  # filled from recorded_ts
    assert ends["a"] is None or str(ends["a"]) in ("NaT", "None")  # active: stays open
    assert str(ends["k"])[:10] == "2020-06-01"  # the source's own abatement wins


def test_records_of_a_cancelled_encounter_do_not_count(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as s:
        s.con.execute("INSERT INTO patients (patient_id, source) VALUES ('p', 'x')")
        s.con.execute("""INSERT INTO encounters (encounter_id, patient_id, status, start_ts, source) VALUES
                         ('e-ok', 'p', 'finished', '2022-01-01', 'x'), ('e-no', 'p', 'cancelled', '2022-02-01', 'x')""")
        s.con.execute("""INSERT INTO observations (observation_id, patient_id, encounter_id, status, source) VALUES
                         ('o1', 'p', 'e-ok', 'final', 'x'), ('o2', 'p', 'e-no', 'final', 'x'),
                         ('o3', 'p', NULL, 'final', 'x')""")
    con = connect(tmp_path / "s.duckdb")
    ids = set(counting(con, "observations", RULES).execute().observation_id)
    why = excluded(con, "observations", RULES).execute()
    con.disconnect()
    assert ids == {"o1", "o3"}
    assert list(why.record_id) == ["o2"]
