"""The common shape of a submitted QuestionnaireResponse, checked in microseconds by one compiled
pydantic model: a resource of this shape is valid FHIR R4B by construction, so the full
``fhir.resources`` validation (about 1.5 ms) runs only for the rest, and gives their field errors.

The shape is a strict subset of R4B: only the elements a PROM answer needs, each narrower than its
FHIR type (e.g. ``authored`` a full dateTime with a zone, answers a coding or a number). Anything
else (an extension, ``meta``, a date-only ``authored``, a nested answer item) is not rejected here:
it falls back to ``fhir.resources``. ``tests/interop/test_qr_shape.py`` checks that every resource
this model takes also validates with ``fhir.resources`` R4B.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)

# FHIR primitives, each narrower than R4B's regex (fhir_core.types)
_ID = r"^[A-Za-z0-9\-.]{1,64}$"
_URI = r"^\S{1,4096}$"
_CODE = r"^[^\s]+( [^\s]+)*$"
_TEXT = r"^\S(?:[^\x00-\x08\x0b\x0c\x0e-\x1f]{0,4094}\S)?$"  # not empty, trimmed, no control characters
_DATETIME = (r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
             r"(\.[0-9]{1,6})?(Z|[+-]((0[0-9]|1[0-3]):[0-5][0-9]|14:00))$")
INT32 = 2**31


def _real_day(v: str) -> str:
    if datetime.fromisoformat(v.replace("Z", "+00:00")).year < 1:  # 2025-02-30 raises ValueError too
        raise ValueError("year 0")
    return v


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("not a finite number")
    return v


Id = Annotated[str, Field(pattern=_ID)]
Uri = Annotated[str, Field(pattern=_URI)]
Code = Annotated[str, Field(pattern=_CODE, max_length=4096)]
Text = Annotated[str, Field(pattern=_TEXT)]
DateTime = Annotated[str, Field(pattern=_DATETIME), AfterValidator(_real_day)]
Int32 = Annotated[StrictInt, Field(ge=-INT32, lt=INT32)]
Decimal = Annotated[float, Field(strict=True), AfterValidator(_finite)] | Int32


class _Shape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Identifier(_Shape):
    system: Uri | None = None
    value: Text


class _Reference(_Shape):
    reference: Text
    display: Text | None = None


class _Coding(_Shape):
    system: Uri | None = None
    code: Code
    display: Text | None = None


class _Answer(_Shape):
    valueCoding: _Coding | None = None
    valueInteger: Int32 | None = None
    valueDecimal: Decimal | None = None

    @model_validator(mode="after")
    def _one_value(self) -> _Answer:
        if sum(v is not None for v in (self.valueCoding, self.valueInteger, self.valueDecimal)) != 1:
            raise ValueError("one value")
        return self


class _Item(_Shape):
    linkId: Text
    text: Text | None = None
    answer: list[_Answer] | None = Field(None, min_length=1)
    item: list[_Item] | None = Field(None, min_length=1)


class _QuestionnaireResponse(_Shape):
    resourceType: Literal["QuestionnaireResponse"]
    id: Id | None = None
    identifier: _Identifier | None = None
    questionnaire: Uri | None = None
    status: Literal["in-progress", "completed", "amended", "entered-in-error", "stopped"]
    subject: _Reference | None = None
    authored: DateTime | None = None
    item: list[_Item] | None = Field(None, min_length=1)


def common_shape(qr: Any) -> bool:
    """True when ``qr`` has the common shape (then it is valid R4B); False: ask ``fhir.resources``."""
    try:
        _QuestionnaireResponse.model_validate(qr)
    except ValidationError:
        return False
    return True
