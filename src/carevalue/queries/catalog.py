"""What exists, with names beside ids: conditions, measures, providers, patients and segments.

Definitions come from the library; where the store has been run, counts from it are added (patient
counts suppressed below 11). :func:`require` turns an id that matches nothing into a
:class:`QueryError` listing what exists, so no command answers a typo with silence.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from ibis.backends import BaseBackend

from carevalue.definitions.loader import Library
from carevalue.queries import privacy
from carevalue.queries.base import QueryError, needs, rows_of

KINDS = ("conditions", "measures", "providers", "patients", "segments")


def _tables(con: BaseBackend | None) -> set[str]:
    return set(con.list_tables()) if con is not None else set()


def choices(ids: Iterable[str], names: dict[str, str] | None = None, limit: int = 20) -> str:
    """``a (Name A), b (Name B) …`` for an error message."""
    ids = sorted(ids)
    shown = [f"{i} ({names[i]})" if names and names.get(i) and names[i] != i else i for i in ids[:limit]]
    more = f" … and {len(ids) - limit} more" if len(ids) > limit else ""
    return ", ".join(shown) + more if ids else "(none)"


def require(value: str, known: dict[str, str], what: str, how: str = "", plural: str = "") -> str:
    """``value`` if it is one of ``known`` (id → name), else a QueryError naming close matches and all."""
    if value in known:
        return value
    close = sorted(k for k in known if value.lower() in k.lower())
    close += [k for k in difflib.get_close_matches(value, list(known), n=3, cutoff=0.6) if k not in close]
    hint = f" (did you mean {', '.join(close[:3])}?)" if close else ""
    tail = f"; see {how}" if how else ""
    raise QueryError(f"unknown {what} {value!r}{hint}; {plural or what + 's'}: {choices(known, known)}{tail}")


def condition_names(library: Library) -> dict[str, str]:
    return {k: v.title for k, v in library.kind("conditions").items()}


def require_condition(library: Library, condition: str) -> str:
    return require(condition, condition_names(library), "condition", "`carevalue list conditions`")


def require_condition_or_segment(library: Library, value: str) -> str:
    """A condition template or primary-care segment id (cost read-outs cover both)."""
    known = condition_names(library) | {k: v.title for k, v in library.kind("segments").items()}
    return require(value, known, "condition or segment", "`carevalue list conditions` and `list segments`",
                   "conditions and segments")


def require_measure(library: Library, condition: str, measure: str, time_point: str | None = None) -> None:
    """Check a condition's measure (and time point) exist, listing the ones that do when not."""
    tpl = library.get("conditions", require_condition(library, condition))
    ms = {m.id: m for m in tpl.outcomes}
    require(measure, {k: m.title for k, m in ms.items()}, "measure",
            f"`carevalue list measures --condition {condition}`")
    if time_point is not None:
        labels = {tp.label: tp.label for tp in ms[measure].time_points}
        require(time_point, labels, "time point", f"of {condition} · {measure}")


def _cycle_counts(con: BaseBackend | None, by: str) -> dict[str, dict[str, int]]:
    if "care_cycles" not in _tables(con):
        return {}
    assert con is not None
    c = con.table("care_cycles")
    rows = rows_of(c.group_by(by).aggregate(cycles=c.count(), patients=c.patient_id.nunique()))
    return {r[by]: {"cycles": int(r["cycles"]), "patients": int(r["patients"])} for r in rows if r[by]}


@needs()
def conditions(con: BaseBackend | None, library: Library) -> list[dict[str, Any]]:
    """Condition templates: id, name, cycle type, measures, process map; cycles and patients once run."""
    counts = _cycle_counts(con, "condition")
    rows = []
    for k, t in sorted(library.kind("conditions").items()):
        row: dict[str, Any] = {"condition": k, "name": t.title, "cycle_type": t.cycle.kind,
                               "measures": len(t.outcomes), "process_map": t.process_map}
        if "care_cycles" in _tables(con):
            row |= counts.get(k, {"cycles": 0, "patients": 0})
        rows.append(row)
    if counts:
        return privacy.suppress(rows, ("patients",), values=("cycles",))
    return rows


@needs()
def measures(con: BaseBackend | None, library: Library, condition: str | None = None) -> list[dict[str, Any]]:
    """Outcome measures of every condition (or one): tier, direction and time points."""
    tpls = library.kind("conditions")
    ids = [require_condition(library, condition)] if condition else sorted(tpls)
    return [{"condition": c, "measure": m.id, "name": m.title, "tier": m.tier, "direction": m.direction,
             "time_points": ", ".join(tp.label for tp in m.time_points), "instrument": m.instrument}
            for c in ids for m in tpls[c].outcomes]


@needs("organizations")
def providers(con: BaseBackend, library: Library) -> list[dict[str, Any]]:
    """Organisations with their names and type; cycles and patients attributed to each once run."""
    o = con.table("organizations")
    orgs = rows_of(o.select("organization_id", "name", "type_code", "city").order_by("organization_id"))
    counts = _cycle_counts(con, "organization_id")
    has = "care_cycles" in _tables(con)
    rows = [{"organization_id": r["organization_id"], "name": r["name"], "type": r["type_code"],
             "city": r["city"], **(counts.get(r["organization_id"], {"cycles": 0, "patients": 0}) if has else {})}
            for r in orgs]
    if has:
        rows = [r for r in rows if r["cycles"] or r["type"] not in ("pay",)]
        return privacy.suppress(rows, ("patients",), values=("cycles",))
    return rows


@needs("patients")
def patients(con: BaseBackend, library: Library, limit: int = 20) -> list[dict[str, Any]]:
    """The first ``limit`` patients by id with sex, birth year, death date and their care cycles' conditions."""
    if limit < 1:
        raise QueryError(f"--limit must be at least 1 (got {limit})")
    p = con.table("patients")
    people = rows_of(p.select("patient_id", "sex", "birth_date", "death_date").order_by("patient_id").limit(limit))
    conds: dict[str, list[str]] = {}
    if "care_cycles" in _tables(con) and people:
        c = con.table("care_cycles")
        ids = [r["patient_id"] for r in people]
        for r in rows_of(c.filter(c.patient_id.isin(ids)).select("patient_id", "condition").distinct()):
            conds.setdefault(r["patient_id"], []).append(r["condition"])
    return [{"patient_id": r["patient_id"], "sex": r["sex"],
             "birth_year": int(r["birth_date"][:4]) if r["birth_date"] else None,
             "death_date": r["death_date"], "conditions": ", ".join(sorted(conds.get(r["patient_id"], [])))}
            for r in people]


@needs()
def segments(con: BaseBackend | None, library: Library) -> list[dict[str, Any]]:
    """Primary-care segments in evaluation order, with who serves them."""
    return [{"segment": s.id, "name": s.title, "priority": s.priority, "care_team": s.care_team}
            for s in sorted(library.kind("segments").values(), key=lambda s: s.priority)]


QUERIES = {"conditions": conditions, "measures": measures, "providers": providers, "patients": patients,
           "segments": segments}
STORE_ONLY = {"providers", "patients"}
