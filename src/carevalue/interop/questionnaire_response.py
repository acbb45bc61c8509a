"""Read a submitted FHIR ``QuestionnaireResponse`` against its instrument: the answers by linkId, the
scores by the instrument's published algorithm (``engine.proms.score_one``), and every problem as a
field-level error (an answer not allowed, an item unknown, too few items to score a scale)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from carevalue.definitions.instrument import Instrument
from carevalue.engine.proms import SCORED, _resolve, score_one
from carevalue.interop.fhir import fhir_id
from carevalue.interop.qr_shape import common_shape

ACCEPTED_STATUS = ("completed", "amended")


@dataclass
class Reading:
    """What a response says, or what is wrong with it (``errors``: field -> message)."""

    instrument: Instrument | None = None
    patient_id: str | None = None
    key: str | None = None  # identifier system|value: what makes a resubmission the same
    answers: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def response_id(self) -> str:
        """The stored id: the same for every submission with the same identifier."""
        assert self.key is not None
        return fhir_id("prom-" + hashlib.sha256(self.key.encode()).hexdigest()[:32])


def _loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for p in loc:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def _answer_value(a: dict[str, Any]) -> Any:
    if "valueCoding" in a:
        return (a["valueCoding"] or {}).get("code")
    for k in ("valueInteger", "valueDecimal"):
        if k in a:
            return a[k]
    return _Unsupported(next((k for k in a if k.startswith("value")), "no value"))


@dataclass
class _Unsupported:
    kind: str


def _flat(items: list[dict[str, Any]], path: str, out: list[tuple[str, dict[str, Any]]]) -> None:
    for i, it in enumerate(items or []):
        p = f"{path}[{i}]"
        out.append((p, it))
        _flat(it.get("item") or [], f"{p}.item", out)


def read(qr: dict[str, Any], instruments: dict[str, Instrument]) -> Reading:
    """Check ``qr`` (R4B) against the instrument its ``questionnaire`` names and score it. A
    response of the common shape (``qr_shape``) is valid R4B as it is; any other is validated
    with ``fhir.resources``, whose errors name the fields."""
    out = Reading()
    if not isinstance(qr, dict) or qr.get("resourceType") != "QuestionnaireResponse":
        out.errors.append(("resourceType", "must be QuestionnaireResponse"))
        return out
    if not common_shape(qr):
        from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse

        try:
            QuestionnaireResponse.model_validate(qr)
        except ValidationError as e:
            out.errors += [(_loc(tuple(x["loc"])), x["msg"]) for x in e.errors()]
            return out
    ident = qr.get("identifier") or {}
    if not ident.get("value"):
        out.errors.append(("identifier", "give identifier.system and identifier.value: a resubmission "
                                         "with the same identifier is recognised and not stored twice"))
    else:
        out.key = f"{ident.get('system', '')}|{ident['value']}"
    if qr.get("status") not in ACCEPTED_STATUS:
        out.errors.append(("status", f"must be one of {', '.join(ACCEPTED_STATUS)} (got {qr.get('status')!r})"))
    ref = (qr.get("subject") or {}).get("reference", "")
    if not ref.startswith("Patient/") or len(ref) <= len("Patient/"):
        out.errors.append(("subject", "must reference the patient: Patient/<id>"))
    else:
        out.patient_id = ref.split("/", 1)[1]
    if not qr.get("authored"):
        out.errors.append(("authored", "when the patient answered is needed to place it at a time point"))
    inst = next((i for i in instruments.values() if i.matches(qr.get("questionnaire"))), None)
    if inst is None:
        known = ", ".join(sorted(u for i in instruments.values() for u in i.questionnaire_urls[:1]))
        out.errors.append(("questionnaire", f"{qr.get('questionnaire')!r} is not a PROM instrument here; known: {known}"))
        return out
    out.instrument = inst
    names = {i.link_id: i for i in inst.items} | {a: i for i in inst.items for a in i.aliases}
    flat: list[tuple[str, dict[str, Any]]] = []
    _flat(qr.get("item") or [], "item", flat)
    for path, it in flat:
        answers = it.get("answer") or []
        if not answers:
            continue
        link = it.get("linkId")
        item = names.get(str(link))
        if item is None:
            out.errors.append((f"{path}.linkId", f"{link!r} is not an item of {inst.id}"))
            continue
        if item.link_id in out.answers:
            out.errors.append((f"{path}.linkId", f"item {link} is answered twice"))
            continue
        if len(answers) > 1:
            out.errors.append((f"{path}.answer", f"item {link} takes one answer, not {len(answers)}"))
            continue
        value = _answer_value(answers[0])
        if isinstance(value, _Unsupported):
            out.errors.append((f"{path}.answer[0]", f"item {link} takes a coding or a number, not {value.kind}"))
            continue
        state, _, why = _resolve(item, value)
        if state == "invalid":
            allowed = ", ".join(o.code or str(o.value) for o in item.options) or f"{item.range}"
            out.errors.append((f"{path}.answer[0]", f"{why}; allowed: {allowed}"))
            continue
        out.answers[item.link_id] = value
    if out.errors:
        return out
    out.scores = score_one(inst, out.answers)
    for scale in inst.scales:
        s = out.scores[scale.id]
        if s["status"] != SCORED:
            missing = [i for i in scale.items if i not in out.answers] or scale.scales
            out.errors.append((f"scale {scale.id}", f"{s['status']}; unanswered: {', '.join(missing)}"
                               + (f" ({scale.missing_rule})" if scale.missing_rule else "")))
    return out
