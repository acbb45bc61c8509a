"""Patient-level reads: one patient's record and care cycles. Every read is checked by
``patient_access`` (a patient: only themselves; a clinician: their IPUs' patients) and audited."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from carevalue.api import patient_data
from carevalue.api.auth import Principal, get_principal, patient_access
from carevalue.api.models import CycleRow, Page, PatientRecord
from carevalue.api.paging import Limit, Offset, page
from carevalue.api.problems import ApiProblem, responses
from carevalue.api.state import ask
from carevalue.api.users import Role

router = APIRouter(tags=["patients"])
Signed = Annotated[Principal, Depends(get_principal)]
ERRORS = responses(400, 401, 403, 404, 409, 422)


def whose(who: Principal, patient_id: str | None) -> str:
    """The patient asked about: the one named, or (for a patient) themselves."""
    if patient_id:
        return patient_id
    if who.role is Role.patient and who.patient_id:
        return who.patient_id
    raise ApiProblem(400, "name the patient: ?patient_id=...")


@router.get("/cycles", response_model=Page[CycleRow], response_model_exclude_unset=True, responses=ERRORS)
def cycles(request: Request, who: Signed,
           patient_id: Annotated[str | None, Query(description="Patient; a patient's own by default.")] = None,
           condition: str | None = None, limit: Limit = 100, offset: Offset = 0) -> dict[str, Any]:
    """One patient's care cycles, each with its events by phase, oldest first."""
    pid = whose(who, patient_id)
    patient_access(request, who, pid, "read cycles")
    rows = ask(request, lambda ws: ws.cycles(pid))
    if condition:
        rows = [r for r in rows if r.get("condition") == condition]
    return page(request, rows, limit, offset)


@router.get("/patients/{patient_id}", response_model=PatientRecord, response_model_exclude_unset=True, responses=ERRORS)
def record(request: Request, who: Signed, patient_id: str) -> dict[str, Any]:
    """Everything about one patient: demographics, care cycles, PROM scores and outcome values."""
    patient_access(request, who, patient_id, "read record")

    def read(ws: Any) -> dict[str, Any]:
        return {"patient": ws.ask(patient_data.patient_row, patient=patient_id),
                "cycles": ws.cycles(patient_id),
                "prom_scores": ws.ask(patient_data.prom_scores, patient=patient_id),
                "outcome_values": ws.ask(patient_data.outcome_values, patient=patient_id)}

    return ask(request, read)
