"""PROM scoring: every instrument defined in content/instruments, applied to stored questionnaire answers.

``score_proms`` is an Ibis stage (runs on DuckDB or PySpark) that turns ``questionnaire_answers`` +
``questionnaire_responses`` into ``prom_scores`` (one row per response and scale). ``score_one``
applies the same rules to one response in plain Python. Both follow each instrument's own
missing-item rule and refuse with a readable reason instead of guessing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from carevalue.definitions.instrument import Instrument, Item, Scale
from carevalue.engine.prom_specs import PromSpecs

SCORED = "scored"
PROM_SCORES_SCHEMA = ibis.schema({
    "response_id": "string",
    "patient_id": "string",
    "instrument": "string",
    "scale": "string",
    "score": "float64",
    "band": "string",
    "items_answered": "int64",
    "status": "string",
    "authored_ts": "timestamp",
})


# ---------------------------------------------------------------------------------------------
# Shared rules (used by both the plain-Python and the Ibis scorer)
# ---------------------------------------------------------------------------------------------

def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


def _round_half_up(x: float, digits: int) -> float:
    f = 10.0 ** digits
    return math.floor(x * f + 0.5) / f


def _not_enough(scale: Scale, answered: int) -> str:
    if scale.method == "mean_of_scales":
        return f"refused: {answered} of {len(scale.scales)} scales scored; needs {scale.needed}"
    return f"refused: {answered} of {len(scale.items)} items answered; needs {scale.needed}"


def _value_set_index(instrument: Instrument, scale: Scale, levels: Mapping[str, float]) -> float:
    """Additive value-set model: constant, level terms, intercept, level-4/5 terms, N4/N5."""
    assert scale.value_set is not None
    terms = instrument.value_set_terms(scale)
    dims = scale.value_set.dimensions
    total = terms.get("StartValue", 0.0)
    lv = {d: int(levels[link]) for d, link in dims.items()}
    for d, level in lv.items():
        total += terms.get(f"{d}{level}", 0.0)
    if any(v > 1 for v in lv.values()):
        total += terms.get("Intercept", 0.0)
    n45 = sum(1 for v in lv.values() if v >= 4)
    for d, level in lv.items():
        if level >= 4:
            total += terms.get(f"{d}45", 0.0)
    if n45:
        total += (n45 - 1) ** 2 * terms.get("Num45sq", 0.0)
        total += terms.get("N4", 0.0)
    if any(v == 5 for v in lv.values()):
        total += terms.get("N5", 0.0)
    return total


def _band(scale: Scale, score: float | None) -> str | None:
    if score is None:
        return None
    for b in scale.bands:
        if b.min <= score <= b.max:
            return b.label
    return None


# ---------------------------------------------------------------------------------------------
# Plain Python: one response
# ---------------------------------------------------------------------------------------------

def _split(value: Any) -> tuple[str | None, float | None, bool]:
    """(code, number, usable) as ingest stores an answer: a numeric code also sets the number."""
    if value is None:
        return None, None, True
    if isinstance(value, str):
        try:
            return value, float(value), True
        except ValueError:
            return value, None, True
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None, None, False
    return None, float(value), True


def _resolve(item: Item, value: Any) -> tuple[str, float | None, str | None]:
    """('answered'|'missing'|'invalid', scored value, reason) for one raw answer.

    A known answer code wins; an unknown code is refused unless it is just the answer's number
    (an ordinal code); otherwise the number must be an option value or inside the item's range.
    """
    code, num, usable = _split(value)
    if not usable:
        return "invalid", None, f"answer of type {type(value).__name__} for item {item.link_id}"
    if code is None and num is None:
        return "missing", None, None
    has_codes = any(o.code for o in item.options)
    if code is not None:
        for o in item.options:
            if o.code == code:
                return ("missing", None, None) if o.missing else ("answered", o.scored, None)
        ordinal = num is not None and _fmt(num) == code
        if has_codes and not ordinal:
            return "invalid", None, f"unknown answer code '{code}' for item {item.link_id}"
        if num is None:
            return "invalid", None, f"coded answer '{code}' for item {item.link_id}, which takes a number"
    assert num is not None
    for o in item.options:
        if o.value == num:
            return ("missing", None, None) if o.missing else ("answered", o.scored, None)
    if item.range is not None and item.range[0] <= num <= item.range[1] and (not item.integer or num.is_integer()):
        return "answered", num, None
    return "invalid", None, f"answer {_fmt(num)} not allowed for item {item.link_id}"


class UnknownItemError(KeyError):
    """An answer names an item id that is neither a linkId nor an alias of the instrument."""


def _canonical_answers(instrument: Instrument, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Answers keyed by linkId; an id that is neither a linkId nor an alias is an error, never dropped."""
    names = {i.link_id: i.link_id for i in instrument.items}
    names.update({a: i.link_id for i in instrument.items for a in i.aliases})
    unknown = sorted(k for k in answers if k not in names)
    if unknown:
        raise UnknownItemError(f"{instrument.id}: unknown item id(s) {', '.join(map(repr, unknown))}; "
                               f"known linkIds and aliases: {', '.join(sorted(names))}")
    return {names[k]: v for k, v in answers.items()}


def _finish(scale: Scale, raw: float) -> tuple[float | None, str]:
    if scale.round_half_up is not None:
        raw = _round_half_up(raw, scale.round_half_up)
    if scale.lookup is not None:
        if raw not in scale.lookup:
            return None, f"refused: raw score {_fmt(raw)} not in the conversion table"
        raw = scale.lookup[raw]
    if scale.transform is not None:
        raw = scale.transform.apply(raw)
    return raw, SCORED


def score_one(instrument: Instrument, answers: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Score one response: ``answers`` maps linkId (or alias) to a number, an answer code or None.
    An id the instrument does not know raises UnknownItemError.

    Returns ``{scale_id: {"score", "band", "items_answered", "status"}}``.
    """
    inst = instrument
    given = _canonical_answers(inst, answers)
    resolved = {i.link_id: _resolve(i, given.get(i.link_id)) for i in inst.items}
    out: dict[str, dict[str, Any]] = {}
    for scale in inst.scales:
        if scale.method == "mean_of_scales":
            parts = [out[s] for s in scale.scales]
            scored = [p["score"] for p in parts if p["status"] == SCORED]
            answered = sum(p["items_answered"] for p in parts)
            if len(scored) < scale.needed:
                score, status = None, _not_enough(scale, len(scored))
            else:
                score, status = _finish(scale, sum(scored) / len(scored))
            out[scale.id] = {"score": score, "band": _band(scale, score),
                             "items_answered": answered, "status": status}
            continue
        states = {link: resolved[link] for link in scale.items}
        answered_links = [k for k, (st, _, _) in states.items() if st == "answered"]
        reasons = sorted(r for st, _, r in states.values() if st == "invalid" and r)
        values: dict[str, float] = {}
        for link in answered_links:
            v = states[link][1]
            assert v is not None
            lin = scale.item_linear(link)
            values[link] = lin.apply(v) if lin else v
        n = len(answered_links)
        score = None
        if reasons:
            status = "refused: " + reasons[0]
        elif n < scale.needed:
            status = _not_enough(scale, n)
        else:
            if scale.method in ("sum", "value"):
                raw = sum(values.values())
                if scale.prorate:
                    raw = raw * len(scale.items) / n
            elif scale.method == "mean":
                raw = sum(values.values()) / n
            else:
                raw = _value_set_index(inst, scale, values)
            score, status = _finish(scale, raw)
        out[scale.id] = {"score": score, "band": _band(scale, score),
                         "items_answered": n, "status": status}
    return out


# ---------------------------------------------------------------------------------------------
# Ibis: all responses
# ---------------------------------------------------------------------------------------------

def _matching_responses(responses: ir.Table, specs: PromSpecs) -> ir.Table:
    """(response_id, patient_id, authored_ts, _inst): each response once per instrument it is for,
    matched by the last segment of its canonical (the instrument id or LOINC panel) or the whole URL."""
    canonical = responses.questionnaire.re_replace(r"\|.*$", "").re_replace(r"/+$", "")
    r = responses.select("response_id", "patient_id", "authored_ts", _canon=canonical,
                         _last=canonical.re_extract(r"([^/]+)$", 1))
    names, urls = specs.names(), specs.urls()
    by_name = r.inner_join(names, r._last == names._mname).select("response_id", "patient_id", "authored_ts", "_inst")
    by_url = r.inner_join(urls, r._canon == urls._url).select("response_id", "patient_id", "authored_ts", "_inst")
    return ibis.union(by_name, by_url).distinct()


def _resolved_answers(answers: ir.Table, resp: ir.Table, specs: PromSpecs) -> ir.Table:
    """One row per answered instrument item: response, instrument, link, state
    ('answered'|'missing'|'invalid'), score, reason."""
    names, meta = specs.links(), specs.items()
    by_code = specs.options(coded=True)
    by_value = specs.options(coded=False).rename(
        v_inst="_inst", v_link="o_link", v_code="o_code", v_value="o_value", v_score="o_score", v_missing="o_missing")
    ri = resp.select(_rid="response_id", _ri="_inst")
    a = answers.inner_join(ri, answers.response_id == ri._rid)
    a = a.inner_join(names, [a._ri == names._inst, a.link_id == names.n_name]).select(
        "response_id", _inst="_ri", link="n_link", code="value_code", num="value_num", text="value_text")
    a = a.inner_join(meta, [a._inst == meta._inst, a.link == meta.i_link])
    a = a.left_join(by_code, [a._inst == by_code._inst, a.link == by_code.o_link, a.code == by_code.o_code])
    a = a.left_join(by_value, [a._inst == by_value.v_inst, a.link == by_value.v_link, a.num == by_value.v_value])
    num_txt = _num_literal_text(a.num)
    has_code = a.code.notnull()
    code_hit = has_code & a.o_link.notnull()
    ordinal = a.num.notnull() & (num_txt == a.code)
    bad_code = has_code & ~code_hit & a.i_codes & ~ordinal
    in_range = (
        a.i_min.notnull() & (a.num >= a.i_min) & (a.num <= a.i_max)
        & (~a.i_integer | (a.num == a.num.floor().cast("float64")))
    )
    num_ok = a.num.notnull() & (a.v_link.notnull() | in_range)
    state = ibis.cases(
        (code_hit & a.o_missing, "missing"),
        (code_hit, "answered"),
        (bad_code, "invalid"),
        (a.num.notnull() & a.v_link.notnull() & a.v_missing, "missing"),
        (num_ok, "answered"),
        (a.num.notnull() | has_code | a.text.notnull(), "invalid"),
        else_="missing",
    )
    score = ibis.cases(
        (code_hit, a.o_score),
        (bad_code, ibis.null("float64")),
        (a.v_link.notnull(), a.v_score),
        (in_range, a.num),
        else_=ibis.null("float64"),
    )
    reason = ibis.cases(
        (bad_code, ibis.literal("unknown answer code '").concat(a.code, "' for item ", a.link)),
        (a.num.notnull(), ibis.literal("answer ").concat(num_txt, " not allowed for item ", a.link)),
        (has_code,
         ibis.literal("coded answer '").concat(a.code, "' for item ", a.link, ", which takes a number")),
        else_=ibis.literal("answer without code or number for item ").concat(a.link),
    )
    return a.select("response_id", "_inst", "link", state=state, score=score, reason=reason)


def _num_literal_text(expr: ir.FloatingValue) -> ir.StringValue:
    """Whole numbers without '.0' so reasons read like the plain-Python ones."""
    return ibis.cases(
        (expr == expr.floor().cast("float64"), expr.cast("int64").cast("string")),
        else_=expr.cast("string"),
    )


def _finish_rows(t: ir.Table, raw: ir.FloatingValue, lookups: ir.Table) -> ir.Table:
    """``t`` (one row per response x scale, with the scale's parameters) with ``_score`` after
    rounding half up, table lookup and final transform, ``_failed`` (raw score not in the table)
    and ``_why`` (that reason)."""
    rounded = ibis.cases((t._f.notnull(), (raw * t._f + 0.5).floor().cast("float64") / t._f), else_=raw)
    t = t.mutate(_r=rounded)
    lk = lookups
    t = t.left_join(lk, [t._inst == lk._inst, t._scale == lk._scale, t._r == lk._raw]).drop("_raw")
    looked = ibis.cases((t._has_lookup, t._looked), else_=t._r)
    score = ibis.cases((t._has_tf, (looked + t._tf_add) * t._tf_mul / t._tf_div), else_=looked)
    why = ibis.literal("refused: raw score ").concat(_num_literal_text(t._r), " not in the conversion table")
    return t.mutate(_score=score, _failed=t._has_lookup & t._looked.isnull() & t._r.notnull(), _why=why)


def _scored(t: ir.Table, short: ir.BooleanValue, short_why: ir.StringValue, bad: ir.StringValue | None,
            n_items: ir.IntegerValue) -> ir.Table:
    """(response_id, patient_id, authored_ts, _inst, _scale, _final, _ok, _n): the status decides."""
    cases = [(bad.notnull(), ibis.literal("refused: ").concat(bad))] if bad is not None else []
    status = ibis.cases(*cases, (short, short_why), (t._failed, t._why), else_=ibis.literal(SCORED))
    ok = status == SCORED
    return t.select("response_id", "patient_id", "authored_ts", "_inst", "_scale", "_pos",
                    _final=ibis.cases((ok, t._score), else_=ibis.null("float64")), _ok=ok,
                    _n=n_items.cast("int64"), _status=status.cast("string"))


def _item_scales(a: ir.Table, resp: ir.Table, specs: PromSpecs, scales: ir.Table, lookups: ir.Table) -> ir.Table:
    """Every item scale (sum, mean, value, value set) of every response: answered items counted,
    transformed and summed per response x scale; value-set indices looked up by health state."""
    si = specs.scale_items()
    j = a.inner_join(si, [a._inst == si._inst, a.link == si._link])
    answered = j.state == "answered"
    agg = j.group_by(_ar="response_id", _ai="_inst", _as="_scale").aggregate(
        _cnt=j.response_id.count(where=answered), _bad=j.reason.min(where=j.state == "invalid"),
        _sum=((j.score + j._add) * j._mul / j._div).sum(where=answered))
    # value sets: each dimension's level (the largest answered score of its item), keyed as a state
    dims = specs.dimensions()
    lv = a.filter(a.state == "answered").group_by("response_id", "_inst", "link").aggregate(_lv=ibis._.score.max())
    d = lv.inner_join(dims, [lv._inst == dims._inst, lv.link == dims._link])
    st = d.group_by(_sr="response_id", _si="_inst", _ss="_scale").aggregate(
        _state=(d._lv * d._dmul).sum(), _dims=d.count())
    n_dims = dims.group_by(_ni="_inst", _ns="_scale").aggregate(_need=dims.count())
    st = st.inner_join(n_dims, [st._si == n_dims._ni, st._ss == n_dims._ns])
    st = st.filter(st._dims == st._need)
    vs = specs.value_sets()
    st = st.inner_join(vs, [st._si == vs._inst, st._ss == vs._scale, st._state == vs._state]).select(
        "_sr", "_si", "_ss", "_vsraw")
    items = scales.filter(scales._method != "mean_of_scales")
    t = resp.inner_join(items, resp._inst == items._inst)
    t = t.left_join(agg, [t.response_id == agg._ar, t._inst == agg._ai, t._scale == agg._as])
    t = t.left_join(st, [t.response_id == st._sr, t._inst == st._si, t._scale == st._ss])
    n = t._cnt.fill_null(0)
    total = t._sum
    raw = ibis.cases(
        (t._method.isin(("sum", "value")),
         ibis.cases((t._prorate, total * t._n_items / n), else_=total)),
        (t._method == "mean", total / n),
        else_=t._vsraw,
    )
    t = _finish_rows(t.mutate(_n0=n), raw, lookups)
    short_why = ibis.literal("refused: ").concat(t._n0.cast("string"), " of ", t._n_items.cast("string"),
                                                 " items answered; needs ", t._needed.cast("string"))
    return _scored(t, t._n0 < t._needed, short_why, t._bad, t._n0)


def _means_of_scales(items: ir.Table, resp: ir.Table, specs: PromSpecs, scales: ir.Table,
                     lookups: ir.Table) -> ir.Table | None:
    """Every mean-of-scales scale from its component scales' final scores, added in the
    definition's order of components."""
    comps, most = specs.components()
    if not most:
        return None
    j = items.inner_join(comps, [items._inst == comps._inst, items._scale == comps._child])
    part = ibis.cases((j._ok, j._final), else_=0.0)
    agg = j.group_by(_mr="response_id", _mi="_inst", _ms="_parent").aggregate(
        _n_ok=j._ok.cast("int64").sum(), _items=j._n.sum(),
        **{f"_t{k}": part.max(where=j._cpos == k) for k in range(most)})
    total = ibis.literal(0)
    for k in range(most):
        total = total + agg[f"_t{k}"].fill_null(0.0)
    agg = agg.mutate(_total=total)
    means = scales.filter(scales._method == "mean_of_scales")
    t = resp.inner_join(means, resp._inst == means._inst)
    t = t.left_join(agg, [t.response_id == agg._mr, t._inst == agg._mi, t._scale == agg._ms])
    n_ok = t._n_ok.fill_null(0)
    raw = ibis.cases((n_ok > 0, t._total / n_ok), else_=ibis.null("float64"))
    t = _finish_rows(t.mutate(_nok=n_ok, _nit=t._items.fill_null(0)), raw, lookups)
    short_why = ibis.literal("refused: ").concat(t._nok.cast("string"), " of ", t._n_items.cast("string"),
                                                 " scales scored; needs ", t._needed.cast("string"))
    return _scored(t, t._nok < t._needed, short_why, None, t._nit)


def score_proms(
    answers: ir.Table,
    responses: ir.Table,
    instruments: Iterable[Instrument],
) -> ir.Table:
    """``prom_scores``: one row per (response, scale) for every response in ``responses`` (the ones
    that count: ``record_filter.counting``) whose questionnaire is one of ``instruments`` (the
    library's); status 'scored' or 'refused: <why>'. One expression for every instrument: the
    definitions are rows (engine/prom_specs.py) joined to the answers."""
    insts = list(instruments)
    if not insts:
        return ibis.memtable([], schema=PROM_SCORES_SCHEMA)
    specs = PromSpecs(insts)
    scales, lookups = specs.scales(), specs.lookups()
    resp = _matching_responses(responses, specs)
    a = _resolved_answers(answers, resp, specs)
    items = _item_scales(a, resp, specs, scales, lookups)
    means = _means_of_scales(items, resp, specs, scales, lookups)
    out = ibis.union(items, means) if means is not None else items
    bands = specs.bands()
    b = out.inner_join(bands, [out._inst == bands._inst, out._scale == bands._scale,
                               out._final >= bands._bmin, out._final <= bands._bmax])
    b = b.group_by(_br="response_id", _bi="_inst", _bs="_scale").aggregate(_band=b._blabel.argmin(b._bpos))
    out = out.left_join(b, [out.response_id == b._br, out._inst == b._bi, out._scale == b._bs])
    return out.select(
        "response_id", "patient_id", instrument=out._inst, scale=out._scale, score=out._final.cast("float64"),
        band=out._band.cast("string"), items_answered=out._n.cast("int64"), status=out._status,
        authored_ts=out.authored_ts.cast("timestamp"))
