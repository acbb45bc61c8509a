"""Read FHIR JSON datatypes (dateTime, CodeableConcept, Quantity, Money ...) into column values.

Every reader validates what it reads and raises :class:`Reject` naming the field and the reason,
so a record is quarantined with words a person understands instead of crashing the ingest.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from carevalue.ingest.batch import Reason

UCUM = "http://unitsofmeasure.org"
# A UCUM code: printable ASCII without spaces, brackets and braces balanced.
_UCUM = re.compile(r"^(?:[!-z|~]|\{[^{}]*\}|\[[^\[\]]*\])+$")


class Reject(Exception):  # noqa: N818 - a control-flow signal, not an error of the program
    """The record cannot be stored: which field, which reason category, what was wrong."""

    def __init__(self, field: str, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field
        self.reason = reason
        self.detail = detail


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def string(value: Any, field: str) -> str | None:
    """A FHIR string/code/uri value (None when absent)."""
    if value is None or type(value) is str:
        return value
    raise Reject(field, Reason.WRONG_TYPE, f"{field} should be text, got {type(value).__name__} {_show(value)}")


def obj(value: Any, field: str) -> dict[str, Any]:
    """A FHIR complex value; absent -> empty dict."""
    if value is None:
        return {}
    if type(value) is dict:
        return value
    raise Reject(field, Reason.WRONG_TYPE, f"{field} should be an object, got {type(value).__name__} {_show(value)}")


def array(value: Any, field: str) -> list[Any]:
    """A FHIR repeating element; absent -> empty list."""
    if value is None:
        return []
    if type(value) is list:
        return value
    raise Reject(field, Reason.WRONG_TYPE, f"{field} should be a list, got {type(value).__name__} {_show(value)}")


def first(value: Any, field: str) -> dict[str, Any]:
    """The first object of a repeating element ({} when absent)."""
    items = array(value, field)
    return obj(items[0], f"{field}[0]") if items else {}


_OFFSETS: dict[str, timedelta] = {}


def _offset(text: str) -> timedelta:
    off = _OFFSETS.get(text)
    if off is None:
        hours, minutes = int(text[1:3]), int(text[4:6])
        if hours > 14 or minutes > 59:
            raise ValueError(text)
        off = timedelta(hours=hours, minutes=minutes) * (-1 if text[0] == "-" else 1)
        _OFFSETS[text] = off
    return off


# Texts already read by instant() -> their value: exports repeat the same timestamps (visits on the
# hour, one date for a claim and its lines), and a dict lookup is a fraction of a parse. Only texts
# that parsed are kept (a bad one is re-read, so its Reject names the field at hand); bounded.
_INSTANTS: dict[str, datetime] = {}
_INSTANTS_MAX = 1 << 16


def instant(value: Any, field: str) -> datetime | None:
    """A FHIR date/dateTime/instant as a naive UTC datetime (dates and partial dates: start of the period).

    A time without a zone is taken as UTC.
    """
    if value is None:
        return None
    if type(value) is not str:
        raise Reject(field, Reason.WRONG_TYPE, f"{field} should be a date/dateTime text, got {type(value).__name__} {_show(value)}")
    dt = _INSTANTS.get(value)
    if dt is None:
        dt = _read_instant(value, field)
        if len(_INSTANTS) >= _INSTANTS_MAX:
            _INSTANTS.clear()
        _INSTANTS[value] = dt
    return dt


def _read_instant(value: str, field: str) -> datetime:
    """instant() of a text not read before."""
    n = len(value)
    try:
        if n > 10 and value[4] == "-" and value[7] == "-" and value[10] == "T":
            if value[-1] == "Z":
                return datetime.fromisoformat(value[:-1])
            if value[-6] in "+-" and value[-3] == ":":
                dt = datetime.fromisoformat(value[:-6])
                if dt.tzinfo is not None:
                    raise ValueError(value)
                return dt - _offset(value[-6:])
            dt = datetime.fromisoformat(value)
            if dt.tzinfo is not None:  # an offset without colon, e.g. +0100
                dt = dt.astimezone(UTC).replace(tzinfo=None)
            return dt
        if n == 10 and value[4] == "-" and value[7] == "-":
            return datetime.fromisoformat(value)
        if n == 7 and value[4] == "-":
            return datetime(int(value[:4]), int(value[5:7]), 1)
        if n == 4 and value.isdigit():
            return datetime(int(value), 1, 1)
        raise ValueError(value)
    except (ValueError, OverflowError):
        raise Reject(field, Reason.BAD_DATE, f"{field} {_show(value)} is not a FHIR date or dateTime") from None


def day(value: Any, field: str) -> date | None:
    """A FHIR date (or the date part of a dateTime, as written)."""
    # Birth and death dates hardly repeat: read past instant()'s cache rather than fill it.
    dt = _read_instant(value, field) if type(value) is str else instant(value, field)
    if dt is None:
        return None
    return date.fromisoformat(value[:10]) if len(value) > 10 else dt.date()


def period(value: Any, field: str) -> tuple[datetime | None, datetime | None]:
    """Start and end of a Period, checking that the end is not before the start."""
    p = obj(value, field)
    start = instant(p.get("start"), f"{field}.start")
    end = instant(p.get("end"), f"{field}.end")
    if start is not None and end is not None and end < start:
        s, e = p["start"], p["end"]
        if len(s) > 10 and len(e) > 10 or end.date() < start.date():
            raise Reject(field, Reason.END_BEFORE_START, f"{field} ends ({e}) before it starts ({s})")
    return start, end


def number(value: Any, field: str) -> float | None:
    """A JSON number (decimal/integer) as float."""
    if value is None:
        return None
    t = type(value)
    if t is int or t is float:
        v = float(value)
        if math.isfinite(v):
            return v
    raise Reject(field, Reason.NON_NUMERIC, f"{field} should be a number, got {_show(value)}")


def nonnegative(value: Any, field: str) -> float | None:
    v = number(value, field)
    if v is not None and v < 0:
        raise Reject(field, Reason.NEGATIVE, f"{field} is negative ({value}) where only zero or more makes sense")
    return v


def quantity(value: Any, field: str, allow_negative: bool = True) -> tuple[float | None, str | None]:
    """(value, unit) of a Quantity; the UCUM code when the system is UCUM, else the unit text."""
    q = obj(value, field)
    v = number(q.get("value"), f"{field}.value") if allow_negative else nonnegative(q.get("value"), f"{field}.value")
    code = string(q.get("code"), f"{field}.code")
    unit = string(q.get("unit"), f"{field}.unit")
    system = string(q.get("system"), f"{field}.system")
    if system == UCUM:
        if not code or not _UCUM.match(code):
            raise Reject(f"{field}.code", Reason.UNKNOWN_UNIT,
                         f"{field} has UCUM system but {_show(code)} is not a UCUM unit code")
        return v, code
    if unit is not None and (not unit.strip() or len(unit) > 64):
        raise Reject(f"{field}.unit", Reason.UNKNOWN_UNIT, f"{field}.unit {_show(unit)} is not a unit")
    return v, unit or code


def money(value: Any, field: str) -> float | None:
    """The amount of a Money element; charges and payments are never negative."""
    if value is None:
        return None
    return nonnegative(obj(value, field).get("value"), f"{field}.value")


def coding(value: Any, field: str) -> tuple[str | None, str | None, str | None]:
    """(system, code, display) of one Coding."""
    c = obj(value, field)
    system = c.get("system")
    code = c.get("code")
    display = c.get("display")
    if system is not None and type(system) is not str:
        raise Reject(f"{field}.system", Reason.WRONG_TYPE, f"{field}.system should be text, got {_show(system)}")
    if code is not None:
        if type(code) is not str:
            raise Reject(f"{field}.code", Reason.INVALID_CODE, f"{field}.code should be text, got {_show(code)}")
        if not code.strip() or code != code.strip():
            raise Reject(f"{field}.code", Reason.INVALID_CODE, f"{field}.code {_show(code)} is empty or has surrounding blanks")
    if display is not None and type(display) is not str:
        raise Reject(f"{field}.display", Reason.WRONG_TYPE, f"{field}.display should be text, got {_show(display)}")
    return system, code, display


def concept(value: Any, field: str) -> tuple[str | None, str | None, str | None, list[tuple[str | None, str | None, str | None]]]:
    """(system, code, display) of the first coding of a CodeableConcept, and the further codings.

    Without codings, the concept's text is the display.
    """
    if value is None:
        return None, None, None, []
    if type(value) is dict:  # fast path: one well-formed coding
        codings = value.get("coding")
        if type(codings) is list and len(codings) == 1:
            c = codings[0]
            if type(c) is dict:
                system, code, display, text = c.get("system"), c.get("code"), c.get("display"), value.get("text")
                if (type(code) is str and code and code[0] > " " and code[-1] > " "
                        and (system is None or type(system) is str)
                        and (display is None or type(display) is str) and (text is None or type(text) is str)):
                    return system, code, display or text, []
    cc = obj(value, field)
    codings = array(cc.get("coding"), f"{field}.coding")
    text = cc.get("text")
    if text is not None and type(text) is not str:
        raise Reject(f"{field}.text", Reason.WRONG_TYPE, f"{field}.text should be text, got {_show(text)}")
    if not codings:
        return None, None, text, []
    system, code, display = coding(codings[0], f"{field}.coding[0]")
    more = [coding(c, f"{field}.coding[{i}]") for i, c in enumerate(codings[1:], 1)] if len(codings) > 1 else []
    return system, code, display or text, more


def code_of(value: Any, field: str) -> str | None:
    """Just the first code of a CodeableConcept."""
    return concept(value, field)[1]
