"""Patients report outcomes: PROMs due from the template, a QuestionnaireResponse validated, scored at
once with the published algorithm, kept in the inbox, drained into the store once through ingest,
and scored the same by the next run."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from carevalue.api.app import create_app
from carevalue.definitions.instrument import load_instruments
from carevalue.engine.proms import score_one

F = "/api/v1/fhir"
PHQ9 = load_instruments()["phq-9"]


def phq9(patient: str, ident: str, answer_index: int = 1, authored: str = "2025-03-01T10:00:00Z",
         items: int = 9) -> dict[str, Any]:
    return {"resourceType": "QuestionnaireResponse", "identifier": {"system": "urn:test", "value": ident},
            "questionnaire": "https://carevalue.org/fhir/Questionnaire/phq-9", "status": "completed",
            "subject": {"reference": f"Patient/{patient}"}, "authored": authored,
            "item": [{"linkId": i.link_id, "answer": [{"valueCoding": {"system": "http://loinc.org",
                                                                       "code": i.options[answer_index].code}}]}
                     for i in PHQ9.items[:items]]}


def stored(sql, response_id: str) -> tuple[int, int]:
    (n,), = sql(f"SELECT count(*) FROM questionnaire_responses WHERE response_id = '{response_id}'")
    (a,), = sql(f"SELECT count(*) FROM questionnaire_answers WHERE response_id = '{response_id}'")
    return n, a


def test_a_response_is_scored_at_once_and_a_resubmission_is_stored_once(client, as_, people, sql) -> None:
    qr = phq9(people["patient"], "once")
    r = client.post(f"{F}/QuestionnaireResponse", json=qr, headers=as_("pat"))
    assert r.status_code == 201, r.text
    body = r.json()
    # PHQ-9: nine items answered "several days" (1 point each): total 9, band "mild" (5-9)
    assert body["scores"] == [{"scale": "total", "score": 9.0, "band": "mild", "items_answered": 9, "status": "scored"}]
    expected = score_one(PHQ9, {i.link_id: i.options[1].code for i in PHQ9.items})["total"]
    assert body["scores"][0]["score"] == expected["score"] and body["duplicate"] is False
    again = client.post(f"{F}/QuestionnaireResponse", json=qr, headers=as_("pat"))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["response_id"] == body["response_id"]
    state = client.app.state.carevalue
    assert stored(sql, body["response_id"]) == (0, 0)  # in the inbox until the drain
    assert state.prom_inbox.get(body["response_id"])["drained_ts"] is None
    (batch,) = [b for b in state.drain() if b.responses]
    assert batch.stored >= 1 and batch.quarantined == 0
    assert stored(sql, body["response_id"]) == (1, 9)
    other = client.post(f"{F}/QuestionnaireResponse", json=phq9(people["patient"], "once", answer_index=2),
                        headers=as_("pat"))
    assert other.status_code == 409 and "different response" in other.json()["detail"]
    again = client.post(f"{F}/QuestionnaireResponse", json=qr, headers=as_("pat"))  # after the drain too
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert state.drain() == []
    assert stored(sql, body["response_id"]) == (1, 9)


@pytest.mark.parametrize(("change", "field", "words"), [
    (lambda q: q["item"][0]["answer"][0]["valueCoding"].update(code="LA9999-9"), "item[0].answer[0]", "unknown answer code"),
    (lambda q: q["item"].append({"linkId": "nope", "answer": [{"valueInteger": 1}]}), "item[9].linkId", "not an item"),
    (lambda q: q.update(item=q["item"][:5]), "scale total", "unanswered"),
    (lambda q: q.pop("identifier"), "identifier", "identifier.value"),
    (lambda q: q.update(status="in-progress"), "status", "completed"),
    (lambda q: q.update(questionnaire="https://example.org/Questionnaire/x"), "questionnaire", "not a PROM"),
    (lambda q: q["item"][1]["answer"].append({"valueInteger": 0}), "item[1].answer", "one answer"),
    (lambda q: q.update(authored="yesterday"), "authored", ""),
])
def test_an_invalid_or_incomplete_response_gets_field_errors_and_nothing_is_kept(
        client, as_, people, change, field, words) -> None:
    qr = phq9(people["patient"], f"bad-{field}")
    change(qr)
    before = client.app.state.carevalue.prom_inbox.counts()["accepted"]
    r = client.post(f"{F}/QuestionnaireResponse", json=qr, headers=as_("pat"))
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    errors = r.json()["errors"]
    assert any(e["field"] == field and words in e["message"] for e in errors), errors
    assert client.app.state.carevalue.prom_inbox.counts()["accepted"] == before
    log = client.app.state.carevalue.audit.entries(limit=10_000)
    assert any(e["action"] == "submit PROM" and e["outcome"] == "rejected" for e in log)


def test_a_patient_cannot_answer_for_another_patient(client, as_, people) -> None:
    r = client.post(f"{F}/QuestionnaireResponse", json=phq9(people["neighbour"], "theirs"), headers=as_("pat"))
    assert r.status_code == 403
    log = client.app.state.carevalue.audit.entries(patient_id=people["neighbour"], limit=1000)
    assert any(e["action"] == "submit PROM" and e["outcome"] == "denied" for e in log)


def test_proms_due_come_from_the_template_and_an_answer_closes_one(client, as_, people) -> None:
    due = client.get(f"{F.rsplit('/', 1)[0]}/proms/due?as_of=2020-01-01", headers=as_("pat")).json()
    assert due and all(d["status"] in ("answered", "upcoming") for d in due)
    open_ = next(d for d in due if d["status"] == "upcoming" and d["instrument"] != "eq-5d-5l")
    inst = load_instruments()[open_["instrument"]]
    qr = {"resourceType": "QuestionnaireResponse", "identifier": {"system": "urn:test", "value": "due-1"},
          "questionnaire": open_["questionnaire"], "status": "completed",
          "subject": {"reference": f"Patient/{people['patient']}"}, "authored": f"{open_['due']}T09:00:00Z",
          "item": [{"linkId": i.link_id, "answer": [{"valueCoding": {"code": i.options[0].code}} if i.options[0].code
                                                    else {"valueInteger": int(i.options[0].value)}]}
                   for i in inst.items if i.options]}
    r = client.post(f"{F}/QuestionnaireResponse", json=qr, headers=as_("pat"))
    assert r.status_code == 201, r.text
    after = client.get(f"{F.rsplit('/', 1)[0]}/proms/due?as_of={open_['due']}", headers=as_("pat")).json()
    same = next(d for d in after if (d["cycle_id"], d["measure"], d["time_point"]) ==
                (open_["cycle_id"], open_["measure"], open_["time_point"]))
    assert same["status"] == "answered" and r.json()["response_id"] in same["response_ids"]
    client.app.state.carevalue.drain()  # stored now, not waiting: still answered, listed once
    after = client.get(f"{F.rsplit('/', 1)[0]}/proms/due?as_of={open_['due']}", headers=as_("pat")).json()
    same = next(d for d in after if (d["cycle_id"], d["measure"], d["time_point"]) ==
                (open_["cycle_id"], open_["measure"], open_["time_point"]))
    assert same["status"] == "answered" and same["response_ids"].count(r.json()["response_id"]) == 1


def test_accepted_answers_are_scored_the_same_by_the_next_run(client, as_, people, sql) -> None:
    r = client.post(f"{F}/QuestionnaireResponse", json=phq9(people["patient"], "run", answer_index=3), headers=as_("pat"))
    assert r.status_code == 201
    rid, score = r.json()["response_id"], r.json()["scores"][0]["score"]
    assert score == 27.0  # nine items "nearly every day" = 3 points each
    client.app.state.carevalue.drain()
    with client.app.state.carevalue.reading() as ws:
        ws.run(only=["proms"])
    rows = sql(f"SELECT scale, score, band FROM prom_scores WHERE response_id = '{rid}'")
    assert rows == [("total", 27.0, "severe")]


def test_an_unknown_patient_gets_a_404_and_nothing_is_kept(client, as_) -> None:
    r = client.post(f"{F}/QuestionnaireResponse", json=phq9("pt-nobody", "nobody"), headers=as_("ada"))
    assert r.status_code == 404 and r.json()["errors"][0]["field"] == "subject"
    assert all(w["response_id"] != "nobody" for w in client.app.state.carevalue.prom_inbox.waiting())


def test_responses_kept_before_a_crash_are_drained_once_by_the_next_process(client, store, people, tmp_path) -> None:
    """Accepted, then the server died: before the drain, and after a drain's ingest but before it
    marked its batch. The next drain stores each exactly once."""
    state = client.app.state.carevalue
    state.drain()
    ops = tmp_path / "ops"
    first = create_app(store, ops=ops, dashboard=False).state.carevalue
    first.users.add("pat2", "correct horse battery", "patient", patient_id=people["patient"])
    for i in range(3):
        with first.prom_inbox.db.connect() as con:
            first.prom_inbox.put(con, f"prom-crash-{i}", phq9(people["patient"], f"crash-{i}"),
                                 patient_id=people["patient"], instrument="phq-9", scores={})
    # a drain that claimed a batch and ingested it, then died before marking it drained
    batch = first.prom_inbox._claim(2)
    assert batch is not None
    with first.reading() as ws:
        ws.close()
    state.workspace.close()  # one read-write connection per store file in a process (DuckDB)
    path, n = first.prom_inbox._write(batch)
    first.workspace.ingest([path])
    first.workspace.close()
    del first
    again = create_app(store, ops=ops, dashboard=False).state.carevalue
    assert again.prom_inbox.counts() == {"accepted": 3, "drained": 0, "waiting": 3}
    reports = again.drain()
    assert [r.responses for r in reports] == [2, 1] and again.prom_inbox.counts()["waiting"] == 0
    with again.reading() as ws:
        rows = ws.con.raw_sql("SELECT response_id, count(*) FROM questionnaire_responses "
                              "WHERE response_id LIKE 'prom-crash-%' GROUP BY 1 ORDER BY 1").fetchall()
        (answers,), = ws.con.raw_sql("SELECT count(*) FROM questionnaire_answers "
                                     "WHERE response_id LIKE 'prom-crash-%'").fetchall()
        ws.close()
    assert rows == [(f"prom-crash-{i}", 1) for i in range(3)] and answers == 27


def test_every_accepted_response_validates_with_fhir_resources_r4b(client, as_, people) -> None:
    """The common shape is taken without fhir.resources, anything else is validated by it: either
    way what the inbox keeps is valid R4B, and a field outside the shape still gets its error."""
    from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

    plain = phq9(people["patient"], "r4b-plain")
    richer = {**phq9(people["patient"], "r4b-richer"), "meta": {"tag": [{"code": "app"}]}, "language": "en",
              "extension": [{"url": "urn:x", "valueString": "y"}], "authored": "2025-03-01"}
    inbox = client.app.state.carevalue.prom_inbox
    for qr in (plain, richer):
        r = client.post(f"{F}/QuestionnaireResponse", json=qr, headers=as_("pat"))
        assert r.status_code == 201, r.text
        QuestionnaireResponse.model_validate(orjson.loads(inbox.get(r.json()["response_id"])["body"]))
    bad = {**phq9(people["patient"], "r4b-bad"), "meta": {"lastUpdated": "not a time"}}
    r = client.post(f"{F}/QuestionnaireResponse", json=bad, headers=as_("pat"))
    assert r.status_code == 422 and any(e["field"].startswith("meta.lastUpdated") for e in r.json()["errors"])
