"""Canonical URLs, code systems and R4B validation shared by every resource carevalue writes."""

from __future__ import annotations

import re
from typing import Any

BASE = "https://carevalue.org/fhir"  # the canonical base the packaged instruments already use
LOINC = "http://loinc.org"
MEASURE_SCORING = "http://terminology.hl7.org/CodeSystem/measure-scoring"
MEASURE_TYPE = "http://terminology.hl7.org/CodeSystem/measure-type"
MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"
ORDINAL = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
DATA_ABSENT = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def ext(name: str) -> str:
    """URL of a carevalue extension (e.g. the O/E ratio on a MeasureReport group)."""
    return f"{BASE}/StructureDefinition/{name}"


def fhir_id(text: str) -> str:
    """A valid FHIR id (A-Z a-z 0-9 - ., at most 64 characters) made from ``text``."""
    out = re.sub(r"[^A-Za-z0-9\-.]", "-", text).strip("-") or "x"
    return out[:64]


def validate(resource: dict[str, Any]) -> dict[str, Any]:
    """Parse ``resource`` with fhir.resources R4B (raises on anything invalid) and return it as JSON."""
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    out: dict[str, Any] = model.model_dump(mode="json", exclude_none=True)
    return out
