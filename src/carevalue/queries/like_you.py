"""Patients like you (F23): for one person's case mix, what each provider is expected to achieve
and what the cycle costs and is paid there.

For each measure and time point with a stored comparison, the case-mix model is refitted on the
stored outcome rows with the variables the comparison kept (engine/risk) — once per published run,
then reused by every request and connection reading that run — the person's expected
result under the average provider is predicted from it, and each provider's risk-adjusted effect
(O/E, or O − E for scores, with its stated 95% interval) is applied: expected = baseline × O/E
(events, capped at 100%) or baseline + (O − E) (scores). Variables the person did not give are set
to the population's typical value (median, or the commonest category) and named in ``assumed``.
Providers with fewer than 11 patients, or whose comparison is not ok, say so instead of a number.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import pandas as pd

from carevalue.definitions.loader import Library
from carevalue.engine.outcome_comparison import FIT_SAMPLE
from carevalue.engine.outcomes import measure_rows
from carevalue.engine.risk.casemix import CaseMixModel, expected, fit_casemix
from carevalue.queries.base import QueryError, needs, plain, rows_of
from carevalue.queries.privacy import THRESHOLD, scrub_text, suppress
from carevalue.queries.stored import PerConnection, read_identity, table

RATIO_STATISTICS = ("O/E events", "O/E events (Cox)")
Fitted = tuple[CaseMixModel, dict[str, Any], set[str]]
# Refitted models per published run (its run file), shared by every connection that reads that run:
# a new run has a new run file, so its models are fitted afresh and the old ones age out.
MAX_MODELS = 256
_MODELS: OrderedDict[tuple[Any, ...], Fitted] = OrderedDict()
_MODELS_LOCK = threading.Lock()
# Connections whose run cannot be named (in memory, other backends): a token per connection.
_UNNAMED = PerConnection(64)


def run_identity(con: Any) -> Any:
    """What the connection reads, for the model cache: the published run's file (immutable) and
    the core store's stamp (``stored.read_identity``), else a token living as long as the connection."""
    ident = read_identity(con)
    if ident is not None:
        return ident
    return ("connection", _UNNAMED.get(con, object))  # the token itself: never reused


def _template(library: Library, condition: str) -> Any:
    tpl = library.kind("conditions").get(condition)
    if tpl is None:
        raise QueryError(f"no condition '{condition}'; known: " + ", ".join(sorted(library.kind("conditions"))))
    return tpl


@needs("casemix_values")
def like_you_form(con: Any, library: Library, *, condition: str) -> list[dict[str, Any]]:
    """The case-mix variables of the condition's template, as form fields: numeric ones with the
    population's median, categorical ones with their categories (commonest first)."""
    tpl = _template(library, condition)
    cv = table(con, "casemix_values")
    cv = cv.filter(cv.condition == condition)
    num = rows_of(cv.group_by("variable").aggregate(n=cv.value_num.count(), median=cv.value_num.median(),
                                                    low=cv.value_num.min(), high=cv.value_num.max()))
    by_num = {r["variable"]: r for r in num}
    text = cv.filter(cv.value_text.notnull())
    cats = rows_of(text.group_by(["variable", "value_text"]).aggregate(k=text.count())
                   .order_by([text.variable, ibis_desc("k")]))
    levels: dict[str, list[str]] = {}
    for r in cats:
        levels.setdefault(r["variable"], []).append(r["value_text"])
    out = []
    for v in tpl.case_mix:
        n = by_num.get(v.id, {})
        kind = "category" if v.id in levels and not n.get("n") else "number"
        out.append({"variable": v.id, "title": v.title, "kind": v.kind, "input": kind,
                    "levels": levels.get(v.id, []) if kind == "category" else [],
                    "typical": (levels[v.id][0] if kind == "category" else n.get("median")),
                    "low": n.get("low"), "high": n.get("high"),
                    "known": bool(n.get("n")) or v.id in levels})
    return out


def ibis_desc(col: str) -> Any:
    import ibis

    return ibis.desc(col)


def _fit(con: Any, tpl: Any, measure: Any, tp: Any, scale: str | None, variables: list[str],
         statistic: str) -> Fitted:
    """The case-mix model of one comparison, refitted once per published run (then reused), with
    the typical values of its variables."""
    key = (run_identity(con), tpl.id, measure.id, tp.label, tp.day, tuple(measure.case_mix), scale,
           tuple(variables), statistic)
    with _MODELS_LOCK:
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
    rows, _vars, text_vars, _notes = measure_rows(con, [tpl], measure.id)
    rows = rows.filter(rows.time_point == tp.label)
    if scale is not None:
        rows = rows.filter(rows.scale == scale)
    rows = rows.filter(rows.organization_id.notnull())
    cols = ["value", "event", "time_days", *variables]
    frame: pd.DataFrame = rows.select(*cols).limit(FIT_SAMPLE).to_pandas()
    cats = sorted(text_vars & set(variables))
    typical: dict[str, Any] = {}
    for v in variables:
        s = frame[v].dropna()
        typical[v] = (s.mode().iloc[0] if v in cats else float(s.median())) if len(s) else None
    if statistic == "O/E events (Cox)":
        f = frame.dropna(subset=["event", "time_days"]).copy()
        f["time_days"] = f["time_days"].clip(lower=0.0) + 1e-6
        model = fit_casemix(f, "event", variables, "cox", categorical=cats, duration="time_days",
                            horizon=float(tp.day))
    elif statistic in RATIO_STATISTICS:
        model = fit_casemix(frame, "event", variables, "logistic", categorical=cats)
    else:
        model = fit_casemix(frame, "value", variables, "linear", categorical=cats)
    fitted = (model, typical, set(cats))
    with _MODELS_LOCK:
        _MODELS[key] = fitted
        while len(_MODELS) > MAX_MODELS:
            _MODELS.popitem(last=False)
    return fitted


def _person_frame(person: dict[str, Any], variables: list[str], typical: dict[str, Any],
                  cats: set[str]) -> tuple[pd.DataFrame, list[str]]:
    values, assumed = {}, []
    for v in variables:
        given = person.get(v)
        if given is None or given == "":
            values[v] = typical.get(v)
            assumed.append(v)
        elif v in cats:
            values[v] = str(given)
        else:
            try:
                values[v] = float(given)
            except (TypeError, ValueError) as exc:
                raise QueryError(f"case-mix variable '{v}' needs a number, got {given!r}") from exc
    return pd.DataFrame([values]), assumed


def _compared(con: Any, tpl: Any) -> list[tuple[Any, Any, str | None, list[dict[str, Any]]]]:
    """The condition's stored comparisons, grouped: (measure, time point, first scale, its rows)."""
    t = table(con, "outcome_comparison")
    t = t.filter(t.condition == tpl.id)
    comp = [{**r, "reason": scrub_text(r["reason"]) or None} for r in rows_of(
        t.select("measure", "time_point", "scale", "organization_id", "patients", "oe", "ci_low", "ci_high",
                 "statistic", "variables", "status", "reason"))]
    by_key: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
    for r in comp:
        by_key.setdefault((r["measure"], r["time_point"], r["scale"]), []).append(r)
    out = []
    for m in tpl.outcomes:
        for tp in m.time_points:
            scales = sorted({k[2] for k in by_key if k[0] == m.id and k[1] == tp.label}, key=str)
            for scale in scales[:1]:  # the first scale of an instrument (e.g. its physical score)
                out.append((m, tp, scale, by_key[(m.id, tp.label, scale)]))
    return out


@needs("outcome_comparison", "outcome_values", "casemix_values")
def like_you(con: Any, library: Library, *, condition: str, person: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per measure × time point × provider: the person's expected result there, with its
    interval, or why there is none."""
    tpl = _template(library, condition)
    out: list[dict[str, Any]] = []
    for m, tp, scale, group in _compared(con, tpl):
        out.extend(_measure_rows(con, tpl, m, tp, scale, group, person))
    return out


@needs("outcome_comparison", "outcome_values", "casemix_values")
def fit_models(con: Any, library: Library, *, condition: str) -> int:
    """Fit (or find already fitted for this run) every case-mix model "patients like you" uses for
    the condition, so that the first person asked for does not wait; returns how many there are."""
    tpl = _template(library, condition)
    n = 0
    for m, tp, scale, group in _compared(con, tpl):
        ok = [r for r in group if r["organization_id"] is not None and r["status"] == "ok"]
        if ok:
            ok.sort(key=lambda r: str(r["organization_id"]))
            variables = [v for v in str(ok[0]["variables"] or "").split(",") if v]
            _fit(con, tpl, m, tp, scale, variables, str(ok[0]["statistic"]))
            n += 1
    return n


def _measure_rows(con: Any, tpl: Any, m: Any, tp: Any, scale: str | None, group: list[dict[str, Any]],
                  person: dict[str, Any]) -> list[dict[str, Any]]:
    base = {"condition": tpl.id, "measure": m.id, "measure_title": m.title, "tier": m.tier,
            "level": m.level, "time_point": tp.label, "scale": scale, "direction": m.direction}
    providers = sorted((r for r in group if r["organization_id"] is not None), key=lambda r: str(r["organization_id"]))
    ok = [r for r in providers if r["status"] == "ok"]
    if not ok:
        reason = next((r["reason"] for r in group if r["reason"]), "no comparison")
        return [{**base, "organization_id": None, "patients": None, "status": "not estimable",
                 "reason": reason, "expected": None, "low": None, "high": None, "baseline": None,
                 "unit": None, "assumed": None, "suppressed": False}]
    statistic = str(ok[0]["statistic"])
    variables = [v for v in str(ok[0]["variables"] or "").split(",") if v]
    model, typical, cats = _fit(con, tpl, m, tp, scale, variables, statistic)
    ratio = statistic in RATIO_STATISTICS
    unit = "probability" if ratio else (m.title if not scale else f"{m.title} ({scale})")
    if not model.usable:
        return [{**base, "organization_id": None, "patients": None, "status": "not estimable",
                 "reason": f"case-mix model: {model.message}", "expected": None, "low": None,
                 "high": None, "baseline": None, "unit": unit, "assumed": None, "suppressed": False}]
    frame, assumed = _person_frame(person, variables, typical, cats)
    if any(frame[v].isna().any() for v in variables):
        return [{**base, "organization_id": None, "patients": None, "status": "not estimable",
                 "reason": "a case-mix variable is unknown for the population", "expected": None,
                 "low": None, "high": None, "baseline": None, "unit": unit, "assumed": None,
                 "suppressed": False}]
    baseline = float(expected(frame, model).iloc[0])
    rows = []
    for r in providers:
        row = {**base, "organization_id": r["organization_id"], "patients": r["patients"],
               "baseline": baseline, "unit": unit, "assumed": ", ".join(assumed) or None,
               "expected": None, "low": None, "high": None, "status": "ok", "reason": None}
        if r["status"] != "ok" or r["oe"] is None:
            row.update(status="not estimable", reason=r["reason"] or "no comparison for this provider")
        elif ratio:
            row.update(expected=min(1.0, baseline * r["oe"]),
                       low=None if r["ci_low"] is None else min(1.0, baseline * r["ci_low"]),
                       high=None if r["ci_high"] is None else min(1.0, baseline * r["ci_high"]))
        else:
            row.update(expected=baseline + r["oe"],
                       low=None if r["ci_low"] is None else baseline + r["ci_low"],
                       high=None if r["ci_high"] is None else baseline + r["ci_high"])
        rows.append(row)
    shown = suppress(rows, ("patients",), values=("expected", "low", "high", "baseline"),
                     group_by=("measure",))
    for r in shown:
        if r["suppressed"]:
            r.update(status="too little data", reason=f"fewer than {THRESHOLD} patients (or the "
                     "complementary cell of one that has)")
    return sorted(shown, key=lambda r: (r["status"] != "ok", str(r["organization_id"])))


@needs("cycle_cost_totals")
def like_you_costs(con: Any, library: Library, *, condition: str) -> list[dict[str, Any]]:
    """Per provider: the cycle's mean TDABC cost, its charges and what payment models pay for it
    (the provider's means, not adjusted to the person)."""
    _template(library, condition)
    c = table(con, "cycle_cost_totals")
    c = c.filter(c.condition == condition)
    agg = c.group_by("organization_id").aggregate(patients=c.patient_id.nunique(), cycles=c.count(),
                                                  cost_per_cycle=c.total_cost.mean(),
                                                  charges_per_cycle=c.charges.mean())
    rows = rows_of(agg.order_by("organization_id"))
    if "payment_ledger" in set(con.list_tables()):
        p = table(con, "payment_ledger")
        p = p.filter(p.condition == condition)
        pay = rows_of(p.group_by("organization_id").aggregate(
            ffs_paid=p.ffs_paid.mean(), bundle_paid=p.bundle_paid.mean(),
            bundle_price=p.bundle_price.mean(), bundle_id=p.bundle_id.max()))
        by_org = {r["organization_id"]: r for r in pay}
        for r in rows:
            r.update({k: v for k, v in by_org.get(r["organization_id"], {}).items() if k != "organization_id"})
    for r in rows:
        r["condition"] = condition
        for k in ("ffs_paid", "bundle_paid", "bundle_price", "bundle_id"):
            r.setdefault(k, None)
    shown = suppress(rows, ("patients", "cycles"), keep=("condition", "bundle_id"), group_by=("condition",))
    for r in shown:  # after suppression: a complementary cell has too little data to show as well
        r["status"] = "too little data" if r["suppressed"] else "ok"
    return [{k: plain(v) for k, v in r.items()} for r in shown]


@needs("outcome_values", "outcome_comparison", "casemix_values")
def event_sequence(con: Any, library: Library, *, condition: str, measure: str,
                   time_point: str) -> list[dict[str, Any]]:
    """Each cycle of an event measure in time order with its event (0/1) and its expected risk
    under the comparison's case-mix model (logistic, refitted as for "patients like you"): the input
    of a risk-adjusted CUSUM. Patient-level (no ids): only providers the comparison shows, i.e.
    with 11 or more patients and events; empty when the measure has no usable event comparison."""
    tpl = _template(library, condition)
    m = next((x for x in tpl.outcomes if x.id == measure), None)
    tp = next((x for x in m.time_points if x.label == time_point), None) if m else None
    if m is None or tp is None:
        raise QueryError(f"{condition} has no measure {measure!r} at {time_point!r}")
    from carevalue.queries.scorecard import scorecard_outcomes  # the scorecard's own suppression

    ok = [r for r in scorecard_outcomes(con, library, condition=condition)
          if r["measure"] == measure and r["time_point"] == time_point and r["organization_id"] is not None
          and r["status"] == "ok" and r["statistic"] == "O/E events" and not r["suppressed"]]
    keep = sorted(str(r["organization_id"]) for r in ok)
    if not keep:
        return []
    t = table(con, "outcome_comparison")
    t = t.filter((t.condition == condition) & (t.measure == measure) & (t.time_point == time_point)
                 & (t.organization_id == keep[0]))
    used = rows_of(t.select("variables").limit(1))
    variables = [v for v in str(used[0]["variables"] or "").split(",") if v] if used else []
    model, _typical, _cats = _fit(con, tpl, m, tp, None, variables, "O/E events")
    if not model.usable:
        return []
    rows, _v, _t, _n = measure_rows(con, [tpl], m.id)
    rows = rows.filter((rows.time_point == time_point) & rows.organization_id.isin(keep) & rows.event.notnull())
    frame: pd.DataFrame = rows.select("organization_id", "anchor_ts", "cycle_id", "event", *variables) \
        .order_by(["organization_id", "anchor_ts", "cycle_id"]).to_pandas()
    if frame.empty:
        return []
    frame["expected"] = expected(frame[variables], model).to_numpy()
    frame = frame.dropna(subset=["expected"])
    cols = [frame[c].tolist() for c in ("organization_id", "anchor_ts", "event", "expected")]
    return [{"organization_id": plain(o), "anchor_ts": plain(a), "event": int(e), "expected": float(p)}
            for o, a, e, p in zip(*cols, strict=True)]
