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

from carevalue.definitions.instrument import Instrument, Item, Linear, Scale

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

def _lin(expr: ir.FloatingValue, lin: Linear | None) -> ir.FloatingValue:
    if lin is None:
        return expr
    return (expr + lin.add) * lin.multiply / lin.divide


def _matching_responses(responses: ir.Table, inst: Instrument) -> ir.Table:
    canonical = responses.questionnaire.re_replace(r"\|.*$", "").re_replace(r"/+$", "")
    last = canonical.re_extract(r"([^/]+)$", 1)
    names = [n for n in (inst.id, inst.loinc_panel) if n]
    cond = last.isin(names)
    if inst.questionnaire_urls:
        cond = cond | canonical.isin(inst.questionnaire_urls)
    return responses.filter(cond).select("response_id", "patient_id", "authored_ts")


def _resolved_answers(answers: ir.Table, inst: Instrument) -> ir.Table:
    """One row per answered instrument item: link, state ('answered'|'missing'|'invalid'), score, reason."""
    names = ibis.memtable(
        [{"n_name": i.link_id, "n_link": i.link_id} for i in inst.items]
        + [{"n_name": a, "n_link": i.link_id} for i in inst.items for a in i.aliases]
    )
    opts = [
        {"o_link": i.link_id, "o_code": o.code, "o_value": o.value, "o_score": o.scored, "o_missing": o.missing}
        for i in inst.items for o in i.options
    ]
    schema = {"o_link": "string", "o_code": "string", "o_value": "float64", "o_score": "float64", "o_missing": "boolean"}
    by_code = ibis.memtable([o for o in opts if o["o_code"]] or [], schema=schema)
    by_value = ibis.memtable(opts, schema=schema).rename(
        v_link="o_link", v_code="o_code", v_value="o_value", v_score="o_score", v_missing="o_missing")
    meta = ibis.memtable(
        [{"i_link": i.link_id, "i_codes": any(o.code for o in i.options),
          "i_min": i.range[0] if i.range else None, "i_max": i.range[1] if i.range else None,
          "i_integer": i.integer} for i in inst.items],
        schema={"i_link": "string", "i_codes": "boolean", "i_min": "float64", "i_max": "float64",
                "i_integer": "boolean"},
    )
    a = answers.join(names, answers.link_id == names.n_name).select(
        "response_id", link="n_link", code="value_code", num="value_num", text="value_text")
    a = a.join(meta, a.link == meta.i_link)
    a = a.left_join(by_code, [a.link == by_code.o_link, a.code == by_code.o_code])
    a = a.left_join(by_value, [a.link == by_value.v_link, a.num == by_value.v_value])
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
    return a.select("response_id", "link", state=state, score=score, reason=reason)


def _num_literal_text(expr: ir.FloatingValue) -> ir.StringValue:
    """Whole numbers without '.0' so reasons read like the plain-Python ones."""
    return ibis.cases(
        (expr == expr.floor().cast("float64"), expr.cast("int64").cast("string")),
        else_=expr.cast("string"),
    )


def _value_set_expr(inst: Instrument, scale: Scale, levels: Mapping[str, ir.FloatingValue]) -> ir.FloatingValue:
    assert scale.value_set is not None
    terms = inst.value_set_terms(scale)
    lv = {d: levels[link] for d, link in scale.value_set.dimensions.items()}
    total: ir.FloatingValue = ibis.literal(terms.get("StartValue", 0.0), "float64")
    for d, x in lv.items():
        coefs = {float(k): terms[f"{d}{k}"] for k in range(1, 6) if f"{d}{k}" in terms}
        if coefs:
            total = total + x.substitute(coefs, else_=0.0)
    if "Intercept" in terms:
        total = total + ibis.cases((ibis.greatest(*lv.values()) > 1, terms["Intercept"]), else_=0.0)
    n45 = sum((x >= 4).cast("int64") for x in lv.values())
    for d, x in lv.items():
        if f"{d}45" in terms:
            total = total + ibis.cases((x >= 4, terms[f"{d}45"]), else_=0.0)
    if "Num45sq" in terms:
        total = total + ibis.cases((n45 > 0, ((n45 - 1) ** 2) * terms["Num45sq"]), else_=0.0)
    if "N4" in terms:
        total = total + ibis.cases((n45 > 0, terms["N4"]), else_=0.0)
    if "N5" in terms:
        total = total + ibis.cases((ibis.greatest(*lv.values()) == 5, terms["N5"]), else_=0.0)
    return total


def _finish_expr(scale: Scale, raw: ir.FloatingValue) -> tuple[ir.FloatingValue, ir.BooleanValue, ir.StringValue]:
    """(score, lookup_failed, failure reason) after rounding, table lookup and final transform."""
    if scale.round_half_up is not None:
        f = 10.0 ** scale.round_half_up
        raw = (raw * f + 0.5).floor().cast("float64") / f
    failed: ir.BooleanValue = ibis.literal(False)
    why = ibis.literal("")
    if scale.lookup is not None:
        looked = raw.substitute({float(k): float(v) for k, v in scale.lookup.items()}, else_=ibis.null("float64"))
        failed = looked.isnull() & raw.notnull()
        why = ibis.literal("refused: raw score ").concat(_num_literal_text(raw), " not in the conversion table")
        raw = looked
    if scale.transform is not None:
        raw = _lin(raw, scale.transform)
    return raw, failed, why


def _band_expr(scale: Scale, score: ir.FloatingValue) -> ir.StringValue:
    if not scale.bands:
        return ibis.null("string")
    return ibis.cases(*[(score.between(b.min, b.max), b.label) for b in scale.bands], else_=ibis.null("string"))


def _score_instrument(answers: ir.Table, responses: ir.Table, inst: Instrument) -> ir.Table | None:
    resp = _matching_responses(responses, inst)
    a = _resolved_answers(answers.semi_join(resp, "response_id"), inst)
    answered = a.state == "answered"
    aggs: dict[str, ir.Value] = {}
    item_scales = [s for s in inst.scales if s.method != "mean_of_scales"]
    for k, s in enumerate(item_scales):
        in_scale = a.link.isin(s.items)
        value = ibis.cases(*[(a.link == link, _lin(a.score, s.item_linear(link))) for link in s.items],
                           else_=ibis.null("float64"))
        aggs[f"n{k}"] = a.response_id.count(where=in_scale & answered)
        aggs[f"bad{k}"] = a.reason.min(where=in_scale & (a.state == "invalid"))
        aggs[f"sum{k}"] = value.sum(where=in_scale & answered)
    for j, item in enumerate(inst.items):
        aggs[f"lv{j}"] = a.score.max(where=(a.link == item.link_id) & answered)
    wide = a.group_by("response_id").aggregate(**aggs)
    w = resp.left_join(wide, resp.response_id == wide.response_id).drop("response_id_right")
    levels = {item.link_id: w[f"lv{j}"] for j, item in enumerate(inst.items)}

    parts: list[ir.StructValue] = []
    done: dict[str, tuple[ir.FloatingValue, ir.BooleanValue, ir.IntegerValue]] = {}
    k = 0
    for s in inst.scales:
        if s.method == "mean_of_scales":
            comps = [done[c] for c in s.scales]
            n_ok: ir.IntegerValue = sum(ok.cast("int64") for _, ok, _ in comps)  # type: ignore[assignment]
            total = sum(ibis.cases((ok, sc), else_=0.0) for sc, ok, _ in comps)
            n_items: ir.IntegerValue = sum(n for _, _, n in comps)  # type: ignore[assignment]
            raw = ibis.cases((n_ok > 0, total / n_ok), else_=ibis.null("float64"))
            score, failed, why = _finish_expr(s, raw)
            short = n_ok < s.needed
            status = ibis.cases(
                (short, ibis.literal("refused: ").concat(n_ok.cast("string"),
                                                         f" of {len(s.scales)} scales scored; needs {s.needed}")),
                (failed, why),
                else_=ibis.literal(SCORED),
            )
        else:
            n = w[f"n{k}"].fill_null(0)
            bad = w[f"bad{k}"]
            total = w[f"sum{k}"]
            n_items = n
            if s.method in ("sum", "value"):
                raw = total * len(s.items) / n if s.prorate else total
            elif s.method == "mean":
                raw = total / n
            else:
                raw = _value_set_expr(inst, s, levels)
            score, failed, why = _finish_expr(s, raw)
            short = n < s.needed
            status = ibis.cases(
                (bad.notnull(), ibis.literal("refused: ").concat(bad)),
                (short, ibis.literal("refused: ").concat(n.cast("string"),
                                                         f" of {len(s.items)} items answered; needs {s.needed}")),
                (failed, why),
                else_=ibis.literal(SCORED),
            )
            k += 1
        ok = status == SCORED
        final = ibis.cases((ok, score), else_=ibis.null("float64"))
        done[s.id] = (final, ok, n_items)
        parts.append(ibis.struct({
            "instrument": ibis.literal(inst.id),
            "scale": ibis.literal(s.id),
            "score": final.cast("float64"),
            "band": _band_expr(s, final).cast("string"),
            "items_answered": n_items.cast("int64"),
            "status": status.cast("string"),
        }))
    # One row per response carrying an array of per-scale structs, unnested: a single pass over
    # the aggregated answers instead of one union branch per scale.
    long = w.select("response_id", "patient_id", "authored_ts", r=ibis.array(parts).unnest()).unpack("r")
    return long.select(
        "response_id", "patient_id", "instrument", "scale", "score", "band", "items_answered", "status",
        authored_ts=long.authored_ts.cast("timestamp"),
    )


def score_proms(
    answers: ir.Table,
    responses: ir.Table,
    instruments: Iterable[Instrument],
) -> ir.Table:
    """``prom_scores``: one row per (response, scale) for every response in ``responses`` (the ones
    that count: ``record_filter.counting``) whose questionnaire is one of ``instruments`` (the
    library's); status 'scored' or 'refused: <why>'."""
    insts = list(instruments)
    tables = [t for inst in insts if (t := _score_instrument(answers, responses, inst)) is not None]
    if not tables:
        return ibis.memtable([], schema=PROM_SCORES_SCHEMA)
    return ibis.union(*tables)
