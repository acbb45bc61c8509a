"""Every stage uses only what counts (issue 11 item 1), through the real path: FHIR -> ingest ->
Workspace.run with the library's record rules. Table-driven over the status values: a refuted or
entered-in-error diagnosis gives no HCC and no Charlson points; a cancelled encounter's activities
are not costed; an entered-in-error observation is neither a case-mix value nor an outcome; a
stopped or in-progress questionnaire is not scored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fhir_bed import FhirBed

VER = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
HEART_FAILURE = "84114007"  # SNOMED CT -> I50.9 (crosswalk) -> CMS-HCC 85; Charlson CHF, weight 2 (Quan 2011)


def _verification(code: str | None) -> dict[str, Any]:
    return {"verificationStatus": {"coding": [{"system": VER, "code": code}]}} if code else {}


# --------------------------------------------------------------------------- risk scores
VERIFICATION = [("confirmed", 1, 2), (None, 1, 2), ("unconfirmed", 1, 2),
                ("refuted", 0, 0), ("entered-in-error", 0, 0)]


def test_refuted_or_erroneous_diagnosis_gives_no_hcc_and_no_charlson_points(tmp_path: Path) -> None:
    bed = FhirBed(tmp_path)
    for i, (status, _, _) in enumerate(VERIFICATION):
        p = bed.patient(f"p{i}", born="1950-01-01", sex="female")
        e = bed.encounter(p, "2024-03-01")
        bed.condition(p, HEART_FAILURE, "2024-03-01", encounter=e, **_verification(status))
    bed.run(["risk-scores"])
    for i, (status, hccs, charlson) in enumerate(VERIFICATION):
        (h,) = bed.rows("patient_risk_scores", patient_id=f"p{i}")
        (c,) = bed.rows("patient_charlson", patient_id=f"p{i}")
        assert (h["hcc_count"], c["chf"], c["score"]) == (hccs, min(hccs, 1), charlson), status


# --------------------------------------------------------------------------- costing
ENCOUNTER_STATUS = [("finished", True), ("in-progress", True), ("cancelled", False),
                    ("entered-in-error", False), ("planned", False)]


def test_activities_of_an_encounter_that_does_not_count_are_not_costed(tmp_path: Path) -> None:
    bed = FhirBed(tmp_path)
    src = tmp_path / "fhir"
    src.mkdir()
    (src / "resources.csv").write_text(
        "resource_id,name,resource_type,role,organization_id,annual_cost,practical_capacity_minutes\n"
        "gp-1,GP,person,physician,org-1,120000,60000\n", encoding="utf-8")
    acts = ["activity_id,patient_id,encounter_id,resource_id,step_code,start_ts,minutes"]
    p = bed.patient("p1")
    for i, (status, _) in enumerate(ENCOUNTER_STATUS):
        e = bed.encounter(p, f"2024-0{i + 1}-10", status=status, id_=f"e-{status}")
        acts.append(f"a-{status},{p},{e},gp-1,,2024-0{i + 1}-10 09:00:00,20")
    (src / "activities.csv").write_text("\n".join(acts) + "\n", encoding="utf-8")
    bed.run(["observation", "cycles", "segments", "costing"])
    costed = {r["activity_id"] for r in bed.rows("activity_costs")}
    assert costed == {f"a-{s}" for s, counts in ENCOUNTER_STATUS if counts}
    # every activity is still stored: nothing lost, only not counted
    assert len(bed.rows("activities")) == len(ENCOUNTER_STATUS)


# --------------------------------------------------------------------------- case mix and outcomes
OBSERVATION_STATUS = [("final", True), ("amended", True), ("preliminary", False),
                      ("cancelled", False), ("entered-in-error", False)]


def _hip_patient(bed: FhirBed, pid: str, status: str) -> None:
    p = bed.patient(pid, born="1950-01-01", sex="male")
    bed.condition(p, "239872002", "2024-01-20")  # osteoarthritis of hip
    e = bed.encounter(p, "2024-02-01", cls="IMP", days=3, org="org-a")
    bed.procedure(p, "52734007", "2024-02-01", encounter=e)  # total hip replacement
    bed.observation(p, "39156-5", "2024-02-01", 31.0, "kg/m2", encounter=e, status=status)  # BMI
    # pulmonary embolism coded as an observation on day 5: a CMS complication within 30 days
    bed.observation(p, "59282003", "2024-02-06", system="sct", status=status)


def test_an_observation_that_does_not_count_is_no_casemix_value_and_no_outcome(tmp_path: Path) -> None:
    bed = FhirBed(tmp_path)
    for i, (status, _) in enumerate(OBSERVATION_STATUS):
        _hip_patient(bed, f"p{i}", status)
    bed.run(["observation", "cycles", "proms", "outcomes"])
    for i, (status, counts) in enumerate(OBSERVATION_STATUS):
        (cyc,) = bed.rows("care_cycles", patient_id=f"p{i}", condition="hip-osteoarthritis")
        bmi = bed.rows("casemix_values", cycle_id=cyc["cycle_id"], variable="bmi")
        assert [r["value_num"] for r in bmi] == ([31.0] if counts else []), status
        (comp,) = bed.rows("outcome_values", cycle_id=cyc["cycle_id"], measure="cms-complications")
        assert comp["event"] == (1 if counts else 0), status


# --------------------------------------------------------------------------- PROM scores
HOOS = ["HOOS-A1", "HOOS-A13", "HOOS-A14", "HOOS-SP2", "HOOS-SP3"]
RESPONSE_STATUS = [("completed", True), ("amended", True), ("in-progress", False), ("stopped", False),
                   ("entered-in-error", False)]


def test_only_finished_questionnaires_are_scored(tmp_path: Path) -> None:
    bed = FhirBed(tmp_path)
    p = bed.patient("p1")
    for status, _ in RESPONSE_STATUS:
        bed.add({"resourceType": "QuestionnaireResponse", "id": f"qr-{status}", "status": status,
                 "questionnaire": "https://carevalue.org/fhir/Questionnaire/hoos-ps",
                 "subject": {"reference": f"Patient/{p}"}, "authored": "2024-01-10T09:00:00Z",
                 "item": [{"linkId": link, "answer": [{"valueInteger": 2}]} for link in HOOS]})
    bed.run(["proms"])
    scored = {r["response_id"] for r in bed.rows("prom_scores") if r["status"] == "scored"}
    assert scored == {f"qr-{s}" for s, counts in RESPONSE_STATUS if counts}
    assert len(bed.rows("questionnaire_responses")) == len(RESPONSE_STATUS)


def test_a_partial_response_is_excluded_with_its_reason(tmp_path: Path) -> None:
    from carevalue.engine.record_filter import excluded

    bed = FhirBed(tmp_path)
    p = bed.patient("p1")
    for status in ("stopped", "in-progress"):
        bed.add({"resourceType": "QuestionnaireResponse", "id": status, "status": status,
                 "questionnaire": "https://carevalue.org/fhir/Questionnaire/hoos-ps",
                 "subject": {"reference": f"Patient/{p}"}, "authored": "2024-01-10T09:00:00Z"})
    bed.run(["proms"])
    assert bed.ws is not None
    why = excluded(bed.ws.con, "questionnaire_responses", bed.ws.library.get("record-rules", "default")).execute()
    reasons = dict(zip(why.record_id, why.reason, strict=True))
    assert reasons == {
        "stopped": "QuestionnaireResponse.status stopped: the answers were partially filled out and then abandoned",
        "in-progress": "QuestionnaireResponse.status in progress: the answers are partial and changes or "
                       "additions are still expected"}
