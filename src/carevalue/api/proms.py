"""Patients report outcomes: the PROMs due at their cycles' time points, and a FHIR
QuestionnaireResponse POST that is validated, scored at once and stored through ingest."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from carevalue.api import patient_data
from carevalue.api.audit import AuditLog, Entry
from carevalue.api.auth import Principal, audit, get_principal, patient_access
from carevalue.api.problems import ApiProblem, FieldError, responses
from carevalue.api.prom_intake import Outcome
from carevalue.api.records import whose
from carevalue.api.state import ask, get_state, remote
from carevalue.interop.questionnaire import url as questionnaire_url
from carevalue.interop.questionnaire_response import read
from carevalue.workspace import Workspace

router = APIRouter(tags=["patient-reported outcomes"])
Signed = Annotated[Principal, Depends(get_principal)]


class Due(BaseModel):
    cycle_id: str
    condition: str
    measure: str
    instrument: str
    questionnaire: str = Field(description="Canonical URL of the Questionnaire to answer (GET /api/v1/fhir/Questionnaire).")
    time_point: str
    due: str = Field(description="Index event + the time point's day (ISO date).")
    window_start: str
    window_end: str
    status: str = Field(description="answered, open (inside the window), upcoming or missed.")
    response_ids: list[str] = Field(default_factory=list)


def due_list(ws: Workspace, patient: str, as_of: date,
             waiting: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    """Every PROM time point of the patient's cycles with whether it has been answered (stored, or
    ``waiting`` in the inbox for the next drain)."""
    lib = ws.library
    insts = lib.instruments()
    conds = {c.id: c for c in lib.conditions()}
    stored = ws.ask(patient_data.responses, patient=patient) if "questionnaire_responses" in ws.tables() else []
    seen = {r["response_id"] for r in stored}
    responses_ = [*stored, *(w for w in waiting if w["response_id"] not in seen)]
    out = []
    for c in ws.cycles(patient):
        cond = conds.get(c["condition"])
        anchor = c.get("index_ts") or c.get("start_ts")
        if cond is None or not anchor:
            continue
        index = datetime.fromisoformat(str(anchor)).date()
        for m in cond.outcomes:
            if m.source != "prom" or m.instrument not in insts:
                continue
            inst = insts[m.instrument]
            for tp in m.time_points:
                day = index + timedelta(days=tp.day)
                lo, hi = day - timedelta(days=tp.window_days), day + timedelta(days=tp.window_days)
                got = [r["response_id"] for r in responses_ if inst.matches(r["questionnaire"]) and r["authored_ts"]
                       and lo <= datetime.fromisoformat(str(r["authored_ts"])).date() <= hi]
                status = ("answered" if got else "open" if lo <= as_of <= hi else
                          "upcoming" if as_of < lo else "missed")
                out.append({"cycle_id": c["cycle_id"], "condition": cond.id, "measure": m.id, "instrument": inst.id,
                            "questionnaire": questionnaire_url(inst), "time_point": tp.label, "due": day.isoformat(),
                            "window_start": lo.isoformat(), "window_end": hi.isoformat(), "status": status,
                            "response_ids": got})
    return out


@router.get("/proms/due", response_model=list[Due], responses=responses(400, 401, 403, 404, 409))
def proms_due(request: Request, who: Signed,
              patient_id: Annotated[str | None, Query(description="A patient's own by default.")] = None,
              as_of: Annotated[date | None, Query(description="The day to judge open/missed by; default today.")] = None
              ) -> list[dict[str, Any]]:
    """The PROMs of the patient's cycles, one per measure and time point, with their windows."""
    pid = whose(who, patient_id)
    patient_access(request, who, pid, "read PROMs due")
    waiting = get_state(request).prom_inbox.waiting(pid)
    return ask(request, lambda ws: due_list(ws, pid, as_of or datetime.now(UTC).date(), waiting))


class Score(BaseModel):
    scale: str
    score: float | None
    band: str | None = None
    items_answered: int
    status: str


class Accepted(BaseModel):
    response_id: str = Field(description="Stored id (questionnaire_responses.response_id); the same on resubmission.")
    patient_id: str
    instrument: str
    duplicate: bool = Field(description="True when this identifier had been accepted before (nothing stored again).")
    scores: list[Score]


QR_EXAMPLE = {"resourceType": "QuestionnaireResponse", "identifier": {"system": "urn:my-app", "value": "r-1"},
              "questionnaire": "https://carevalue.org/fhir/Questionnaire/phq-9", "status": "completed",
              "subject": {"reference": "Patient/pt00000001"}, "authored": "2025-03-01T10:00:00Z",
              "item": [{"linkId": "44250-9", "answer": [{"valueCoding": {"system": "http://loinc.org", "code": "LA6568-5"}}]}]}


@router.post("/fhir/QuestionnaireResponse", response_model=Accepted, status_code=201, tags=["FHIR"],
             responses={200: {"model": Accepted, "description": "Accepted before (same identifier): nothing stored again"},
                        **responses(400, 401, 403, 404, 409, 422)})
def submit(request: Request, who: Signed,
           qr: Annotated[dict[str, Any], Body(examples=[QR_EXAMPLE], media_type="application/fhir+json")]) -> Response:
    """Answer a PROM: validated against its Questionnaire, scored with the instrument's published
    algorithm and kept in the inbox in one transaction (the drain ingests it into the store).
    Problems come back per field and nothing is kept."""
    st = get_state(request)
    r = read(qr, st.workspace.library.instruments())
    if r.errors:
        audit(request, who, "submit PROM", "rejected", patient_id=r.patient_id, status=422,
              detail="; ".join(f"{f}: {m}" for f, m in r.errors)[:2000])
        raise ApiProblem(422, f"the QuestionnaireResponse cannot be accepted ({len(r.errors)} problem(s)); nothing was stored",
                         errors=[FieldError(field=f, message=m) for f, m in r.errors])
    assert r.patient_id is not None and r.instrument is not None
    patient_access(request, who, r.patient_id, "submit PROM", audit_allowed=False)  # audited with the write
    if not st.has_patient(r.patient_id):
        audit(request, who, "submit PROM", "rejected", patient_id=r.patient_id, status=404, detail="unknown patient")
        raise ApiProblem(404, f"no patient {r.patient_id!r} in the store", errors=[
            FieldError(field="subject", message=f"Patient/{r.patient_id} is not a patient of this store")])
    rid, scores = r.response_id, {k: dict(v) for k, v in r.scores.items()}
    entry = Entry(who.user, who.role.value, f"submit PROM {r.instrument.id}", r.patient_id, remote(request), "allowed",
                  None, rid)
    # PostgreSQL: a new response and its audit entry in one statement (one round trip); a
    # resubmission or a conflict takes the transaction below, which audits what it found.
    if st.audit_with_inbox and st.prom_inbox.db.dialect == "postgresql" and st.prom_inbox.put_new_audited(
            rid, qr, patient_id=r.patient_id, instrument=r.instrument.id, scores=scores,
            audit=AuditLog.values(replace(entry, status=201))):
        kept: Outcome = "new"
    else:
        with st.prom_inbox.db.connect() as con:
            kept = st.prom_inbox.put(con, rid, qr, patient_id=r.patient_id, instrument=r.instrument.id, scores=scores)
            status = {"new": 201, "same": 200, "conflict": 409}[kept]
            done = replace(entry, status=status, outcome="allowed" if kept != "conflict" else "rejected",
                           detail=rid if kept != "conflict" else f"{rid}: other answers")
            if st.audit_with_inbox:  # accepted and audited in one transaction
                AuditLog.append_in(con, done)
        if not st.audit_with_inbox:
            st.audit.append(done)
    status = {"new": 201, "same": 200, "conflict": 409}[kept]
    if kept == "conflict":
        raise ApiProblem(409, f"a different response with identifier {r.key!r} was accepted before; "
                              "give a new identifier for a new response")
    body = Accepted(response_id=rid, patient_id=r.patient_id, instrument=r.instrument.id, duplicate=kept == "same",
                    scores=[Score(scale=k, **v) for k, v in scores.items()])
    return Response(orjson.dumps(body.model_dump(mode="json")), status_code=status, media_type="application/json")
