"""A FHIR ``Questionnaire`` for every PROM instrument: its items, answer options and LOINC codes.

Answer options carry their form value as ``ordinalValue``; an option without a published answer
code (a LOINC LA code) gets the value itself as its code in the instrument's own answer system, so
a response can always be read back to the number the scoring algorithm takes.
"""

from __future__ import annotations

from typing import Any

from carevalue.definitions.instrument import AnswerOption, Instrument, Item
from carevalue.interop.fhir import BASE, LOINC, MAX_VALUE, MIN_VALUE, ORDINAL, fhir_id, validate


def url(inst: Instrument) -> str:
    """The canonical URL of the instrument's Questionnaire (the first the content names)."""
    return inst.questionnaire_urls[0] if inst.questionnaire_urls else f"{BASE}/Questionnaire/{inst.id}"


def answer_system(inst: Instrument) -> str:
    return f"{BASE}/CodeSystem/{inst.id}-answers"


def number(v: float) -> int | float:
    return int(v) if float(v).is_integer() else v


def option_coding(inst: Instrument, o: AnswerOption) -> dict[str, Any]:
    """The coding of one answer option: its LOINC answer code, or its value in the instrument's system."""
    if o.code:
        system = LOINC if o.code.startswith("LA") else answer_system(inst)
        return {"system": system, "code": o.code, "display": o.display or o.code}
    return {"system": answer_system(inst), "code": str(number(o.value)), "display": o.display or str(number(o.value))}


def _item(inst: Instrument, it: Item) -> dict[str, Any]:
    out: dict[str, Any] = {"linkId": it.link_id, "text": it.text or it.link_id}
    if it.loinc:
        out["code"] = [{"system": LOINC, "code": it.loinc}]
    if it.options:
        out["type"] = "choice"
        out["answerOption"] = [{"valueCoding": option_coding(inst, o),
                                "extension": [{"url": ORDINAL, "valueDecimal": number(o.value)}]} for o in it.options]
    else:
        assert it.range is not None
        kind = "Integer" if it.integer else "Decimal"
        out["type"] = kind.lower()
        lo, hi = it.range
        out["extension"] = [{"url": MIN_VALUE, f"value{kind}": number(lo) if it.integer else lo},
                            {"url": MAX_VALUE, f"value{kind}": number(hi) if it.integer else hi}]
    return out


def questionnaire(inst: Instrument) -> dict[str, Any]:
    """The instrument as an R4B Questionnaire (validated)."""
    res: dict[str, Any] = {
        "resourceType": "Questionnaire", "id": fhir_id(inst.id), "url": url(inst), "name": fhir_id(inst.id).replace("-", "_").replace(".", "_"),
        "title": inst.title, "status": "active", "subjectType": ["Patient"],
        "description": " ".join((inst.description or inst.title).split()),
        "copyright": " ".join(inst.source.split()),
        "item": [_item(inst, i) for i in inst.items],
    }
    if inst.version:
        res["version"] = inst.version
    if inst.loinc_panel:
        res["code"] = [{"system": LOINC, "code": inst.loinc_panel}]
    return validate(res)
