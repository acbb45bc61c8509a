"""The data behind each page: one function per page, from the Workspace to the rows it shows.

A page's HTML and its ``.json`` twin both come from the same function, so the twin returns exactly
the rows the page shows. No page computes a measure of its own: every number comes from a query.

A published run never changes, so each page's rows are computed once per run and reused
(:class:`carevalue.queries.stored.RunMemo`: a new run, or a write to the core store, starts
afresh; a connection that reads no published run is never reused). The rows returned are shared:
callers must not change them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from carevalue.queries import comparison as cmp
from carevalue.queries import like_you as ly
from carevalue.queries import scorecard as sc
from carevalue.queries import timeline as tl
from carevalue.queries.base import rows_of
from carevalue.queries.privacy import suppress
from carevalue.queries.stored import RunMemo
from carevalue.workspace import Workspace

Page = dict[str, Any]
F = TypeVar("F", bound=Callable[..., Any])
MEMO = RunMemo(2048)  # pages of the runs being read, least recently used out first


def per_run(fn: F) -> F:
    """Compute the page once per published run, content folders and arguments, then answer from
    memory."""

    @functools.wraps(fn)
    def page(ws: Workspace, *args: Any, **kw: Any) -> Any:
        # the definitions are part of the answer: workspaces with other content folders differ
        key = (fn.__name__, tuple(str(c) for c in ws.content), json.dumps([args, kw], sort_keys=True, default=str))
        return MEMO.get(ws.con, key, lambda: fn(ws, *args, **kw))

    return page  # type: ignore[return-value]


@per_run
def overview(ws: Workspace) -> Page:
    """Conditions (cycles, providers) and primary-care segments (patients) in the store."""
    lib, con = ws.library, ws.con
    have = ws.tables()
    conditions: list[dict[str, Any]] = []
    if "care_cycles" in have:
        c = con.table("care_cycles")
        agg = c.group_by("condition").aggregate(cycles=c.count(), patients=c.patient_id.nunique(),
                                                providers=c.organization_id.nunique())
        counts = {r["condition"]: r for r in rows_of(agg)}
        for cid, tpl in sorted(lib.kind("conditions").items()):
            r = counts.get(cid, {"cycles": 0, "patients": 0, "providers": 0})
            conditions.append({"condition": cid, "title": tpl.title, "cycles": r["cycles"],
                               "patients": r["patients"], "providers": r["providers"]})
    segments: list[dict[str, Any]] = []
    if "segments" in have:
        s = con.table("segments")
        agg = s.group_by("segment").aggregate(patients=s.patient_id.nunique())
        counts = {r["segment"]: r["patients"] for r in rows_of(agg)}
        for sid, seg in sorted(lib.kind("segments").items(), key=lambda kv: kv[1].priority):
            exhibit, why = sc.exhibits(lib).for_segment(sid)
            segments.append({"segment": sid, "title": seg.title, "patients": counts.get(sid, 0),
                             "exhibit": exhibit.id if exhibit else None, "exhibit_source": why})
    return {"conditions": suppress(conditions, ("patients",), keep=("condition", "title")),
            "segments": suppress(segments, ("patients",), keep=("segment", "title", "exhibit", "exhibit_source"))}


def condition(ws: Workspace, condition: str, provider: str | None = None) -> Page:
    """The condition's value scorecard (or one provider's): outcomes by tier, costs, phases, trend.
    A provider's page is its rows of the condition's (see ``scorecard.provider_view``: which cells
    are shown depends on every provider), so all providers' pages share one computation per run."""
    return _condition(ws, condition) if provider is None else _provider(ws, condition, provider)


@per_run
def _condition(ws: Workspace, condition: str) -> Page:
    page = ws.ask(sc.scorecard, condition=condition)
    page["provider"] = None
    page["measures"] = ws.ask(cmp.comparison_measures, condition=condition)
    page["composites"] = composites(ws, condition, outcomes=page["outcomes"])
    return page  # type: ignore[no-any-return]


@per_run
def _provider(ws: Workspace, condition: str, provider: str) -> Page:
    whole = _condition(ws, condition)
    page = sc.provider_view(whole, provider)
    page["provider"] = provider
    page["composites"] = [{**c, "rows": [r for r in c["rows"] if r["organization_id"] == provider]}
                          for c in whole["composites"]]
    return page


def composites(ws: Workspace, condition: str, provider: str | None = None,
               outcomes: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The library's composites of the condition (content/scorecard-sets), each with its weights
    normalised as used and a score per provider; none unless content defines one. ``outcomes``:
    the condition's scorecard outcome rows, when the caller has them."""
    out = []
    for c in sc.library_composites(ws.library, condition):
        total = sum(w.weight for w in c.weights)
        rows = [r for r in ws.ask(sc.composite, definition=c, outcomes=outcomes)
                if provider is None or r["organization_id"] == provider]
        out.append({"id": c.id, "title": c.title, "source": c.source,
                    "weights": [{"measure": w.measure, "time_point": w.time_point, "weight": w.weight / total,
                                 "source": w.source} for w in c.weights],
                    "rows": rows})
    return out


@per_run
def comparison(ws: Workspace, condition: str, measure: str | None, time_point: str | None,
               scale: str | None, level: float) -> Page:
    """Provider comparison of one measure: band, tier, rank with its interval, and the methods."""
    measures = ws.ask(cmp.comparison_measures, condition=condition)
    if measure is None:
        first = next((m for m in measures if m["ok"]), measures[0] if measures else None)
        if first is not None:
            measure, time_point, scale = first["measure"], first["time_point"], first["scale"]
    rows = [] if measure is None else ws.ask(cmp.provider_comparison, condition=condition, measure=measure,
                                             time_point=time_point, scale=scale, level=level)
    return {"condition": condition, "title": ws.library.get("conditions", condition).title,
            "measure": measure, "time_point": time_point, "scale": scale, "level": level,
            "measures": measures, "rows": rows, "methods": cmp.METHODS}


@per_run
def like_you(ws: Workspace, condition: str, person: dict[str, Any]) -> Page:
    """The case-mix form of the condition and, when a person is given, each provider's expected
    outcomes for that person and the cycle's cost and payments per provider."""
    form = ws.ask(ly.like_you_form, condition=condition)
    given = {k: v for k, v in person.items() if v not in (None, "")}
    rows = ws.ask(ly.like_you, condition=condition, person=given) if given else []
    costs = ws.ask(ly.like_you_costs, condition=condition) if given else []
    return {"condition": condition, "title": ws.library.get("conditions", condition).title,
            "person": given, "form": form, "rows": rows, "costs": costs}


@per_run
def segment(ws: Workspace, segment: str) -> Page:
    """The primary-care segment's scorecard (its Health Affairs exhibit) and its cost by period."""
    seg = ws.library.get("segments", segment)
    return {"segment": segment, "title": seg.title, "description": seg.description,
            "rows": ws.ask(sc.segment_scorecard, segment=segment),
            "costs": ws.ask(sc.segment_costs, segment=segment),
            "source": sc.exhibits(ws.library).source}


@per_run
def provider_cycles(ws: Workspace, condition: str, provider: str, ipus: list[str] | None) -> Page:
    """One provider's care cycles of the condition (the patient-level drill-down; ``ipus`` narrows
    them to a clinician's IPUs)."""
    title = ws.library.get("conditions", condition).title
    rows = ws.ask(tl.provider_cycles, condition=condition, provider=provider, ipus=ipus)
    return {"condition": condition, "title": title, "provider": provider, "ipus": ipus, "rows": rows,
            "limit": 500}


@per_run
def timeline(ws: Workspace, patient: str) -> Page:
    """One patient's care cycles by phase, with every event, the cycle's outcomes and its costs."""
    return {"patient_id": patient, "cycles": ws.ask(tl.patient_timeline, patient=patient)}


def prepare(ws: Workspace, lock: AbstractContextManager[Any] | None = None) -> dict[str, int]:
    """Fit, for every condition with stored comparisons, the case-mix models "patients like you"
    uses (once per run; see ``like_you.fit_models``), so no person waits for a fit: models per
    condition. A server calls it when it starts, in the background, taking ``lock`` (the query
    lock) for one condition at a time so pages are answered in between."""
    turn = lock if lock is not None else contextlib.nullcontext()
    with turn:
        if not set(ly.fit_models.needs) <= ws.tables():  # type: ignore[attr-defined]
            return {}
        t = ws.con.table("outcome_comparison")
        found = rows_of(t.select("condition").distinct().order_by("condition"))
    known = ws.library.kind("conditions")
    done = {}
    for c in (r["condition"] for r in found if r["condition"] in known):
        with turn:
            done[c] = ws.ask(ly.fit_models, condition=c)
    return done


def start_preparing(ws: Workspace) -> threading.Thread:
    """Run :func:`prepare` in a background thread under the dashboard's query lock; a model that
    fails to fit here is fitted (and its error shown) by the page that needs it."""
    from carevalue.web import deps

    def work() -> None:
        with contextlib.suppress(Exception):
            prepare(ws, deps.QUERY_LOCK)

    t = threading.Thread(target=work, name="dashboard-prepare", daemon=True)
    t.start()
    return t
