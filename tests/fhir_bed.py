"""A FHIR test bed: write a few R4 resources in one line each, ingest them, run stages, read rows.

    bed = FhirBed(tmp_path)
    p = bed.patient(born="1950-03-01", sex="female")
    e = bed.encounter(p, "2024-01-10", cls="IMP", org="org-a")
    bed.procedure(p, "52734007", "2024-01-10", encounter=e)
    rows = bed.run(["observation", "cycles"]).rows("care_cycles")

Everything goes through the real path (FHIR NDJSON → ingest → Workspace.run), so a test bed test
also checks that nothing is lost on the way. Defaults are sensible; every field can be overridden.
"""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from carevalue.queries.base import rows_of
from carevalue.workspace import Workspace

SYSTEMS = {
    "sct": "http://snomed.info/sct", "snomed": "http://snomed.info/sct",
    "icd10": "http://hl7.org/fhir/sid/icd-10-cm", "loinc": "http://loinc.org",
    "cpt": "http://www.ama-assn.org/go/cpt", "rxnorm": "http://www.nlm.nih.gov/research/umls/rxnorm",
}
CLASS = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


def _system(s: str) -> str:
    return SYSTEMS.get(s, s)


def _ts(day: str) -> str:
    return day if "T" in day else f"{day}T09:00:00Z"


def _concept(code: str, system: str, display: str | None = None) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": _system(system), "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding]}


class FhirBed:
    """Resources written as FHIR R4 NDJSON into ``folder``, one file per resource type."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.resources: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._ids = itertools.count(1)
        self._orgs: set[str] = set()
        self.ws: Workspace | None = None

    def _add(self, rtype: str, body: dict[str, Any], id_: str | None) -> str:
        rid = id_ or f"{rtype.lower()}-{next(self._ids)}"
        self.resources[rtype].append({"resourceType": rtype, "id": rid, **body})
        return rid

    # ------------------------------------------------------------------ resources
    def organization(self, id_: str, name: str | None = None, **extra: Any) -> str:
        if id_ not in self._orgs:
            self._orgs.add(id_)
            self._add("Organization", {"name": name or id_, **extra}, id_)
        return id_

    def patient(self, id_: str | None = None, born: str = "1960-01-01", sex: str = "female",
                died: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {"birthDate": born, "gender": sex, **extra}
        if died:
            body["deceasedDateTime"] = _ts(died)
        return self._add("Patient", body, id_)

    def encounter(self, patient: str, on: str, *, cls: str = "AMB", org: str = "org-1", days: int = 0,
                  status: str = "finished", code: str | None = None, system: str = "sct",
                  id_: str | None = None, **extra: Any) -> str:
        self.organization(org)
        start = _ts(on)
        end = start if not days else _ts(_plus(on, days))
        body: dict[str, Any] = {"status": status, "class": {"system": CLASS, "code": cls},
                                "subject": {"reference": f"Patient/{patient}"},
                                "period": {"start": start, "end": end},
                                "serviceProvider": {"reference": f"Organization/{org}"}, **extra}
        if code:
            body["type"] = [_concept(code, system)]
        return self._add("Encounter", body, id_)

    def condition(self, patient: str, code: str, on: str, *, system: str = "sct",
                  encounter: str | None = None, id_: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {"subject": {"reference": f"Patient/{patient}"}, "code": _concept(code, system),
                                "onsetDateTime": _ts(on), "recordedDate": _ts(on), **extra}
        if encounter:
            body["encounter"] = {"reference": f"Encounter/{encounter}"}
        return self._add("Condition", body, id_)

    def procedure(self, patient: str, code: str, on: str, *, system: str = "sct",
                  encounter: str | None = None, status: str = "completed", id_: str | None = None,
                  **extra: Any) -> str:
        body: dict[str, Any] = {"status": status, "subject": {"reference": f"Patient/{patient}"},
                                "code": _concept(code, system), "performedDateTime": _ts(on), **extra}
        if encounter:
            body["encounter"] = {"reference": f"Encounter/{encounter}"}
        return self._add("Procedure", body, id_)

    def observation(self, patient: str, code: str, on: str, value: float | str | None = None,
                    unit: str | None = None, *, system: str = "loinc", encounter: str | None = None,
                    status: str = "final", id_: str | None = None, **extra: Any) -> str:
        body: dict[str, Any] = {"status": status, "subject": {"reference": f"Patient/{patient}"},
                                "code": _concept(code, system), "effectiveDateTime": _ts(on), **extra}
        if isinstance(value, int | float):
            body["valueQuantity"] = {"value": value, "unit": unit or "1", "system": "http://unitsofmeasure.org",
                                     "code": unit or "1"}
        elif value is not None:
            body["valueString"] = value
        if encounter:
            body["encounter"] = {"reference": f"Encounter/{encounter}"}
        return self._add("Observation", body, id_)

    def add(self, resource: dict[str, Any]) -> str:
        """Any other resource, given whole (resourceType and id included or defaulted)."""
        body = dict(resource)
        rtype = body.pop("resourceType")
        return self._add(rtype, body, body.pop("id", None))

    # ------------------------------------------------------------------ running
    def write(self) -> Path:
        src = self.folder / "fhir"
        src.mkdir(parents=True, exist_ok=True)
        for rtype, items in self.resources.items():
            (src / f"{rtype}.ndjson").write_text("".join(json.dumps(r) + "\n" for r in items), encoding="utf-8")
        return src

    def run(self, stages: list[str] | None = None, content: list[Path] | None = None) -> FhirBed:
        """Write, ingest into a fresh store and run ``stages`` (all when None); nothing may be lost."""
        ws = Workspace.open(self.folder / "bed.duckdb", content=content or [], must_exist=False)
        report = ws.ingest([self.write()])
        lost = [(f.source, f.reasons) for f in report.files if f.quarantined]
        assert not lost, f"the test bed's resources were quarantined: {lost}"
        ws.run(stages)
        self.ws = ws
        return self

    def rows(self, table: str, **where: Any) -> list[dict[str, Any]]:
        """Rows of a table (core or measure) as plain dicts, filtered by equality on ``where``."""
        assert self.ws is not None, "call run() first"
        t = self.ws.con.table(table)
        for col, val in where.items():
            t = t.filter(t[col] == val)
        return rows_of(t)


def _plus(day: str, days: int) -> str:
    from datetime import date, timedelta

    return (date.fromisoformat(day[:10]) + timedelta(days=days)).isoformat()
