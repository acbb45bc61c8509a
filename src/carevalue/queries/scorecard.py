"""Value scorecards (F14): per condition × provider, the condition's outcome set by tier beside the
TDABC cost of the cycle; per primary-care segment, the scorecards of Health Affairs 2013 Exhibits
1 and 2.

Outcomes are never collapsed into one index: :func:`composite` exists only for explicit weights
that come from content (each with its source) and returns the weights beside the result. Every
row describing patients goes through :mod:`carevalue.queries.privacy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ibis
import yaml

from carevalue.definitions.loader import Library
from carevalue.definitions.scorecard import Composite, ScorecardSet
from carevalue.definitions.scorecard import CompositeWeight as CompositeWeight
from carevalue.queries.base import QueryError, needs, rows_of
from carevalue.queries.privacy import scrub_text, suppress
from carevalue.queries.stored import table


def _template(library: Library, condition: str) -> Any:
    tpl = library.kind("conditions").get(condition)
    if tpl is None:
        raise QueryError(f"no condition '{condition}'; known: " + ", ".join(sorted(library.kind("conditions"))))
    return tpl


# ---------------------------------------------------------------------- condition scorecards
OUTCOME_COLUMNS = ("organization_id", "measure", "time_point", "scale", "n", "patients", "observed",
                   "expected", "oe", "ci_low", "ci_high", "observed_rate", "adjusted_rate",
                   "flag_95", "flag_998", "events", "statistic", "adjustment", "status", "reason")
# what a suppressed outcome row hides: every number and the flags (text derived from the small cell)
HIDDEN = ("n", "observed", "expected", "oe", "ci_low", "ci_high", "observed_rate", "adjusted_rate",
          "flag_95", "flag_998", "events")


@needs("outcome_comparison")
def scorecard_outcomes(con: Any, library: Library, *, condition: str,
                       provider: str | None = None) -> list[dict[str, Any]]:
    """The condition's outcome set by tier and level, one row per provider × measure × time point,
    risk-adjusted with intervals, flags, events and patients (measure rows say why when not ok)."""
    tpl = _template(library, condition)
    t = table(con, "outcome_comparison")
    t = t.filter(t.condition == condition)
    rows = [{**r, "reason": scrub_text(r["reason"]) or None}  # no count of 1..10 in a sentence either
            for r in rows_of(t.select(*OUTCOME_COLUMNS).order_by(["measure", "time_point", "scale", "organization_id"]))]
    order = {m.id: (m.tier, m.level, i, m.title, m.direction) for i, m in enumerate(tpl.outcomes)}
    tps = {m.id: [tp.label for tp in m.time_points] for m in tpl.outcomes}
    provider_rows = [r for r in rows if r["organization_id"] is not None]
    status_rows = [r for r in rows if r["organization_id"] is None]
    shown = suppress(provider_rows, ("patients",), values=HIDDEN, group_by=("measure", "time_point", "scale"))
    out = []
    for r in [*shown, *({**s, "suppressed": False} for s in status_rows)]:
        if provider is not None and r["organization_id"] not in (provider, None):
            continue
        tier, level, idx, title, direction = order.get(r["measure"], (None, None, 99, r["measure"], None))
        labels = tps.get(r["measure"], [])
        tp_idx = labels.index(r["time_point"]) if r["time_point"] in labels else 99
        out.append({"condition": condition, "tier": tier, "level": level, "measure_title": title,
                    "direction": direction, **r, "_order": (tier or 9, level or 9, idx, tp_idx)})
    out.sort(key=lambda r: (r["_order"], str(r["scale"]), str(r["organization_id"])))
    for r in out:
        del r["_order"]
    return out


def _cycles(con: Any, condition: str) -> Any:
    c = table(con, "cycle_cost_totals")
    return c.filter(c.condition == condition)


@needs("cycle_cost_totals")
def scorecard_costs(con: Any, library: Library, *, condition: str) -> list[dict[str, Any]]:
    """Per provider: cycles (volume), patients, TDABC cost per costed cycle, charges per cycle
    (never a cost) and how many cycles could not be costed."""
    c = _cycles(con, condition)
    costed = c.total_cost.notnull()
    agg = c.group_by("organization_id").aggregate(
        cycles=c.count(), patients=c.patient_id.nunique(),
        costed_cycles=costed.cast("int64").sum(),
        not_costed=(~costed).cast("int64").sum(),
        cost_per_cycle=c.total_cost.mean(), labour_per_cycle=c.labour_cost.mean(),
        consumables_per_cycle=c.consumables_cost.mean(), charges_per_cycle=c.charges.mean(),
        total_cost=c.total_cost.sum())
    rows = rows_of(agg.order_by("organization_id"))
    for r in rows:
        r["condition"] = condition
    return suppress(rows, ("patients",), keep=("condition",), group_by=("condition",))


@needs("cycle_costs", "cycle_cost_totals")
def scorecard_phases(con: Any, library: Library, *, condition: str) -> list[dict[str, Any]]:
    """Per provider and care-cycle phase: cost per costed cycle (the waterfall of the cycle's cost)."""
    tpl = _template(library, condition)
    c = _cycles(con, condition)
    base = c.group_by("organization_id").aggregate(
        patients=c.patient_id.nunique(), costed_cycles=c.total_cost.notnull().cast("int64").sum())
    k = table(con, "cycle_costs")
    k = k.filter((k.condition == condition) & (k.line != "charges"))
    ph = k.group_by(["organization_id", "phase"]).aggregate(phase_cost=k.total_cost.sum(),
                                                           minutes=k.minutes.sum())
    j = ph.join(base, "organization_id")
    j = j.mutate(cost_per_cycle=ibis.ifelse(j.costed_cycles > 0, j.phase_cost / j.costed_cycles, None))
    rows = rows_of(j.select("organization_id", "phase", "patients", "costed_cycles", "cost_per_cycle",
                            "minutes").order_by(["organization_id", "phase"]))
    order = {p.phase: i for i, p in enumerate(tpl.phases)}
    rows.sort(key=lambda r: (str(r["organization_id"]), order.get(r["phase"], 99), str(r["phase"])))
    for r in rows:
        r["condition"] = condition
    return suppress(rows, ("patients",), keep=("condition", "phase"), group_by=("phase",))


@needs("cycle_cost_totals")
def scorecard_trend(con: Any, library: Library, *, condition: str) -> list[dict[str, Any]]:
    """Per provider and period (the chronic cycle's period, else the year the cycle started):
    volume and cost per costed cycle."""
    c = _cycles(con, condition)
    period = ibis.coalesce(ibis.ifelse(c.period_label == "", None, c.period_label),
                           c.start_ts.year().cast("string"))
    c = c.mutate(period=period)
    agg = c.group_by(["organization_id", "period"]).aggregate(
        cycles=c.count(), patients=c.patient_id.nunique(), cost_per_cycle=c.total_cost.mean(),
        charges_per_cycle=c.charges.mean())
    rows = rows_of(agg.order_by(["period", "organization_id"]))
    for r in rows:
        r["condition"] = condition
    return suppress(rows, ("patients",), keep=("condition", "period"), group_by=("period",))


def scorecard(con: Any, library: Library, *, condition: str, provider: str | None = None) -> dict[str, Any]:
    """The whole condition scorecard: its sections, each a list of rows (what the page shows);
    with ``provider``, that provider's rows of it (:func:`provider_view`)."""
    out: dict[str, Any] = {"condition": condition, "title": _template(library, condition).title,
                           "outcomes": scorecard_outcomes(con, library, condition=condition)}
    have = set(con.list_tables())
    for name, fn in (("costs", scorecard_costs), ("phases", scorecard_phases), ("trend", scorecard_trend)):
        out[name] = fn(con, library, condition=condition) if set(getattr(fn, "needs", ())) <= have else []
    return out if provider is None else provider_view(out, provider)


def provider_view(card: dict[str, Any], provider: str) -> dict[str, Any]:
    """One provider's rows of the whole condition's scorecard (outcome rows without a provider —
    a measure's status — stay). The provider filter cannot go into the queries: whether a
    provider's cell is shown depends on every other provider's count (complementary suppression,
    queries/privacy.py), so a provider's rows are, by definition, its rows of the whole."""
    out = dict(card)
    out["outcomes"] = [r for r in card["outcomes"] if r["organization_id"] in (provider, None)]
    for name in ("costs", "phases", "trend"):
        out[name] = [r for r in card.get(name, []) if r["organization_id"] == provider]
    return out


scorecard.needs = ("outcome_comparison",)  # type: ignore[attr-defined]


@needs("outcome_comparison")
def scorecard_providers(con: Any, library: Library, *, condition: str) -> list[dict[str, Any]]:
    """Providers of one condition: patients in the comparison and cycles costed (the overview list)."""
    _template(library, condition)
    t = table(con, "outcome_comparison")
    t = t.filter((t.condition == condition) & t.organization_id.notnull())
    agg = t.group_by("organization_id").aggregate(patients=t.patients.max(),
                                                  measures_ok=(t.status == "ok").cast("int64").sum())
    rows = rows_of(agg.order_by("organization_id"))
    for r in rows:
        r["condition"] = condition
    return suppress(rows, ("patients",), keep=("condition",), group_by=("condition",))


# ---------------------------------------------------------------------- composite (opt-in only)
CompositeDefinition = Composite  # the content model (definitions/scorecard.py), under its older name


def load_composite(path: str | Path) -> Composite:
    """Read and validate one composite written outside the library (YAML: id, condition, title,
    source, weights); the library's own are in ``scorecard-sets`` (:func:`library_composites`)."""
    return Composite.model_validate(yaml.safe_load(Path(path).read_text()))


def library_composites(library: Library, condition: str | None = None) -> list[Composite]:
    """The composites of the library's scorecard sets (of one condition when given), by id."""
    found = [c for s in library.kind("scorecard-sets").values() for c in s.composites
             if condition is None or c.condition == condition]
    return sorted(found, key=lambda c: c.id)


def _composite_of(library: Library, definition: Composite | str) -> Composite:
    if not isinstance(definition, str):
        return definition
    found = {c.id: c for c in library_composites(library)}
    if definition not in found:
        raise QueryError(f"no composite {definition!r} in the library; known: {', '.join(sorted(found)) or 'none'}")
    return found[definition]


@needs("outcome_comparison")
def composite(con: Any, library: Library, *, definition: Composite | str,
              outcomes: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Per provider: the weighted mean of (E/O for adverse events, O/E otherwise) over the named
    measures, with the weights shown; a provider missing any measure gets no composite (never a
    partial index presented as whole). ``definition`` is a composite or the id of a library one;
    ``outcomes`` the condition's :func:`scorecard_outcomes` rows when the caller has them already."""
    definition = _composite_of(library, definition)
    known = {m.id for m in _template(library, definition.condition).outcomes}
    unknown = [w.measure for w in definition.weights if w.measure not in known]
    if unknown:
        raise QueryError(f"composite {definition.id!r}: {', '.join(unknown)} not an outcome of "
                         f"{definition.condition}; known: {', '.join(sorted(known))}")
    if outcomes is None:
        outcomes = scorecard_outcomes(con, library, condition=definition.condition)
    total = sum(w.weight for w in definition.weights)
    by_provider: dict[str, dict[str, Any]] = {}
    for r in outcomes:
        if r["organization_id"] is None:
            continue
        d = by_provider.setdefault(r["organization_id"], {"parts": {}, "patients": r["patients"],
                                                          "suppressed": False})
        d["suppressed"] |= bool(r["suppressed"])
        d["parts"][(r["measure"], r["time_point"])] = r
    out = []
    shown_weights = "; ".join(f"{w.measure}{'@' + w.time_point if w.time_point else ''} × "
                              f"{w.weight / total:.3f} ({w.source})" for w in definition.weights)
    for org, d in sorted(by_provider.items()):
        score, missing = 0.0, []
        for w in definition.weights:
            part = next((p for (m, tp), p in d["parts"].items()
                         if m == w.measure and (w.time_point is None or tp == w.time_point)), None)
            if part is None or part["status"] != "ok" or part["oe"] in (None, 0) or part["suppressed"]:
                missing.append(w.measure)
                continue
            ratio = part["statistic"] and str(part["statistic"]).startswith("O/E")
            good = (1.0 / part["oe"] if part["direction"] != "higher-better" else part["oe"]) if ratio \
                else (part["oe"] if part["direction"] == "higher-better" else -part["oe"])
            score += good * w.weight / total
        out.append({"composite": definition.id, "condition": definition.condition,
                    "organization_id": org, "patients": d["patients"],
                    "score": None if missing else score,
                    "missing": ", ".join(missing) or None, "weights": shown_weights,
                    "source": definition.source})
    return suppress(out, ("patients",), keep=("composite", "condition", "weights", "source", "missing"),
                    group_by=("condition",))


# ---------------------------------------------------------------------- primary-care segments
def exhibits(library: Any) -> ScorecardSet:
    """The Health Affairs 2013 scorecards (content/scorecard-sets/health-affairs-2013)."""
    return library.get("scorecard-sets", "health-affairs-2013")  # type: ignore[no-any-return]


def _segment_patients(con: Any, segment: str) -> Any:
    """Each patient's time in the segment: first day, last day (or the data's end), and death."""
    s = table(con, "segments")
    s = s.filter(s.segment == segment)
    p = table(con, "patients")
    s = s.mutate(valid_from=s.valid_from.cast("date"), valid_to=s.valid_to.cast("date"))
    end = ibis.greatest(s.valid_from.max(), s.valid_to.max())
    s = s.mutate(valid_to=ibis.coalesce(s.valid_to, end).cast("date"))
    j = s.join(p.select("patient_id", death=p.death_date), "patient_id", how="left")
    return j


SEGMENT_METRICS = {
    "mortality": "Deaths while in the segment ÷ patients in it",
    "physical-health": "Mean PROMIS Global-10 physical T-score (gph-t) of answers given while in the segment",
    "mental-health": "Mean PROMIS Global-10 mental T-score (gmh-t) of answers given while in the segment",
    "acute-care-use": "Emergency visits and inpatient admissions per 100 patient-years in the segment",
}


def _metric_rows(con: Any, segment: str) -> dict[str, dict[str, Any]]:
    have = set(con.list_tables())
    j = _segment_patients(con, segment)
    days = (j.valid_to.delta(j.valid_from, unit="day") + 1).cast("float64")
    died = (j.death.notnull() & (j.death.cast("date") >= j.valid_from) & (j.death.cast("date") <= j.valid_to))
    base = j.aggregate(patients=j.patient_id.nunique(), deaths=died.cast("int64").sum(),
                       years=days.sum() / 365.25).execute().iloc[0]
    patients = int(base["patients"] or 0)
    out: dict[str, dict[str, Any]] = {
        "mortality": {"patients": patients, "events": int(base["deaths"] or 0),
                      "value": (float(base["deaths"]) / patients) if patients else None, "unit": "share"}}
    if "prom_scores" in have:
        ps = table(con, "prom_scores")
        for metric, scale in (("physical-health", "gph-t"), ("mental-health", "gmh-t")):
            q = ps.filter((ps.scale == scale) & ps.score.notnull())
            k = q.join(j.select("patient_id", "valid_from", "valid_to"), "patient_id")
            k = k.filter((k.authored_ts.cast("date") >= k.valid_from) & (k.authored_ts.cast("date") <= k.valid_to))
            a = k.aggregate(patients=k.patient_id.nunique(), value=k.score.mean(), n=k.count()).execute().iloc[0]
            out[metric] = {"patients": int(a["patients"] or 0), "events": None,
                           "value": None if a["value"] is None or a["value"] != a["value"] else float(a["value"]),
                           "unit": "T-score"}
    if "encounters" in have:
        e = table(con, "encounters")
        e = e.filter(e.class_code.isin(["EMER", "IMP"]))
        k = e.join(j.select("patient_id", "valid_from", "valid_to"), "patient_id")
        k = k.filter((k.start_ts.cast("date") >= k.valid_from) & (k.start_ts.cast("date") <= k.valid_to))
        a = k.aggregate(patients=k.patient_id.nunique(), n=k.count()).execute().iloc[0]
        years = float(base["years"] or 0.0)
        out["acute-care-use"] = {"patients": patients, "events": int(a["n"] or 0),
                                 "value": (100.0 * float(a["n"] or 0) / years) if years else None,
                                 "unit": "per 100 patient-years"}
    return out


@needs("segments", "patients")
def segment_scorecard(con: Any, library: Library, *, segment: str) -> list[dict[str, Any]]:
    """The segment's scorecard: every row and specific of its Health Affairs exhibit, with the
    value where the store can measure it and "not measured" where it cannot."""
    segs = library.kind("segments")
    if segment not in segs:
        raise QueryError(f"no segment '{segment}'; known: " + ", ".join(sorted(segs)))
    exhibit, why = exhibits(library).for_segment(segment)
    if exhibit is None:
        return []
    metrics = _metric_rows(con, segment)
    out = []
    for row in exhibit.rows:
        for sp in row.specifics:
            m = metrics.get(sp.metric or "")
            out.append({"segment": segment, "exhibit": exhibit.id, "exhibit_title": exhibit.title,
                        "exhibit_source": why, "level": row.level, "measure": row.measure,
                        "specific": sp.text, "metric": sp.metric,
                        "definition": SEGMENT_METRICS.get(sp.metric or ""),
                        "patients": m["patients"] if m else None,
                        "events": m["events"] if m else None,
                        "value": m["value"] if m else None, "unit": m["unit"] if m else None,
                        "status": ("measured" if m and m["value"] is not None
                                   else "not measured" if not m else "insufficient data")})
    return suppress(out, ("patients", "events"),
                    keep=("segment", "exhibit", "exhibit_title", "exhibit_source", "level", "measure",
                          "specific", "metric", "definition", "unit", "status"))


@needs("segments")
def segment_costs(con: Any, library: Library, *, segment: str) -> list[dict[str, Any]]:
    """The segment's cost and volume: patients, cycles costed and TDABC cost per cycle by period."""
    have = set(con.list_tables())
    if "cycle_cost_totals" not in have:
        return []
    c = table(con, "cycle_cost_totals")
    c = c.filter(c.condition == segment)
    period = ibis.coalesce(ibis.ifelse(c.period_label == "", None, c.period_label),
                           c.start_ts.year().cast("string"))
    c = c.mutate(period=period)
    agg = c.group_by("period").aggregate(cycles=c.count(), patients=c.patient_id.nunique(),
                                         cost_per_cycle=c.total_cost.mean(),
                                         charges_per_cycle=c.charges.mean())
    rows = rows_of(agg.order_by("period"))
    for r in rows:
        r["segment"] = segment
    return suppress(rows, ("patients",), keep=("segment", "period"))
