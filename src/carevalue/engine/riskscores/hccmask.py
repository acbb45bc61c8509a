"""The fast path of the CMS-HCC score: one row per patient holding its CCs as bit masks.

Each ICD-10 code of the model is one row of a static table holding the bits of its CCs and the
bits those CCs drop by hierarchy (a code with an age/sex edit holds its own bit of an edit word
instead, since whether the edit applies depends on the patient). The diagnoses are joined to that
table once and OR-ed into a few 62-bit integers per patient in one aggregation; the edits,
present-and-not-dropped (the hierarchy), groups, interactions, the count variable and the relative
factors of the patient's segment are then one arithmetic expression per patient, generated from
the same shipped tables as the row-by-row path in :mod:`carevalue.engine.riskscores.hcc` (which
explains a score term by term). No HCC is named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from carevalue.engine.riskscores import reference

BITS_PER_WORD = 62  # stay clear of the sign bit of BIGINT
MAX_AGE = 120  # demographic cells are expanded per whole age up to here; older = MAX_AGE


@dataclass(frozen=True)
class Layout:
    """Bit positions of the model's CCs and the derived masks, all from the data folder."""

    hccs: tuple[str, ...]
    words: int
    variables: tuple[str, ...]  # every scored variable except the demographic cell
    edits: tuple[str, ...]  # the ICD-10 codes with an age/sex edit, one bit each in the e-words

    def bit(self, hcc: str) -> tuple[int, int]:
        i = self.hccs.index(hcc)
        return i // BITS_PER_WORD, 1 << (i % BITS_PER_WORD)

    def mask(self, hccs: list[str]) -> list[int]:
        out = [0] * self.words
        for h in hccs:
            w, b = self.bit(h)
            out[w] |= b
        return out


@lru_cache(maxsize=4)
def layout(folder: str) -> Layout:
    d2h = reference.arrow(folder, "dx_to_hcc").column("hcc").to_pylist()
    edits = [h for h in reference.arrow(folder, "age_sex_edits").column("hcc").to_pylist() if h]
    edit_codes = tuple(sorted(set(reference.arrow(folder, "age_sex_edits").column("icd10").to_pylist())))
    hier = reference.arrow(folder, "hierarchy").to_pylist()
    hccs = tuple(sorted(set(d2h) | set(edits) | {r["hcc"] for r in hier} | {r["drops"] for r in hier},
                        key=lambda h: (len(h), h)))
    words = -(-len(hccs) // BITS_PER_WORD)
    inter = list(dict.fromkeys(reference.arrow(folder, "interactions").column("variable").to_pylist()))
    counts = reference.arrow(folder, "counts").column("variable").to_pylist()
    status = list(dict.fromkeys(reference.arrow(folder, "status_terms").column("variable").to_pylist()))
    return Layout(hccs, words, tuple(dict.fromkeys([*hccs, *inter, *counts, *status])), edit_codes)


def edit_words(lay: Layout) -> int:
    return max(1, -(-len(lay.edits) // BITS_PER_WORD))


def _edit_bit(lay: Layout, code: str) -> tuple[int, int]:
    i = lay.edits.index(code)
    return i // BITS_PER_WORD, 1 << (i % BITS_PER_WORD)


@lru_cache(maxsize=4)
def _drops(folder: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in reference.arrow(folder, "hierarchy").to_pylist():
        out.setdefault(r["hcc"], []).append(r["drops"])
    return out


@lru_cache(maxsize=4)
def _code_hccs(folder: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in reference.arrow(folder, "dx_to_hcc").to_pylist():
        out.setdefault(r["icd10"], []).append(r["hcc"])
    return out


def _present_and_dropped(lay: Layout, folder: str, hccs: list[str]) -> tuple[list[int], list[int]]:
    """The words of ``hccs`` and of the CCs they drop."""
    drops = _drops(folder)
    return lay.mask(hccs), lay.mask([d for h in hccs for d in drops.get(h, [])])


@lru_cache(maxsize=4)
def code_table(folder: str) -> pa.Table:
    """icd10 -> w0, w1, ... (its CCs), d0, d1, ... (the CCs they drop), e0, ... (its edit bit).

    A code with an age/sex edit has no w/d bits here: its CCs are decided per patient in
    :func:`score_expression`."""
    lay = layout(folder)
    mapped = _code_hccs(folder)
    codes = sorted(set(mapped) | set(lay.edits))
    ew = edit_words(lay)
    cols: dict[str, list[Any]] = {"icd10": codes}
    for k in range(lay.words):
        cols[f"w{k}"], cols[f"d{k}"] = [], []
    for k in range(ew):
        cols[f"e{k}"] = []
    for code in codes:
        edited = code in lay.edits
        w, d = _present_and_dropped(lay, folder, [] if edited else mapped.get(code, []))
        for k in range(lay.words):
            cols[f"w{k}"].append(w[k])
            cols[f"d{k}"].append(d[k])
        for k in range(ew):
            cols[f"e{k}"].append(_edit_bit(lay, code)[1] if edited and _edit_bit(lay, code)[0] == k else 0)
    return pa.table(cols, schema=pa.schema([("icd10", pa.string())] + [
        (f"{p}{k}", pa.int64()) for p in ("w", "d") for k in range(lay.words)] + [
        (f"e{k}", pa.int64()) for k in range(ew)]))


@lru_cache(maxsize=4)
def _coefficient_table(folder: str) -> pa.Table:
    """One row per segment: c0, c1, ... = the relative factor of each layout variable (0 if none)."""
    lay = layout(folder)
    pos = {v: i for i, v in enumerate(lay.variables)}
    coef: dict[str, list[float]] = {}
    for r in reference.arrow(folder, "coefficients").to_pylist():
        row = coef.setdefault(r["segment"], [0.0] * len(lay.variables))
        if r["variable"] in pos:
            row[pos[r["variable"]]] = r["coefficient"]
    segs = sorted(coef)
    cols: dict[str, list[Any]] = {"c_segment": segs}
    for i in range(len(lay.variables)):
        cols[f"c{i}"] = [coef[s][i] for s in segs]
    return pa.table(cols)


@lru_cache(maxsize=4)
def _demographic_table(folder: str) -> pa.Table:
    """(segment, sex, age 0..MAX_AGE) -> relative factor of the demographic cell."""
    coef = {(r["segment"], r["variable"]): r["coefficient"]
            for r in reference.arrow(folder, "coefficients").to_pylist()}
    rows: dict[str, list[Any]] = {"g_segment": [], "g_sex": [], "g_age": [], "demo": []}
    for r in reference.arrow(folder, "demographics").to_pylist():
        hi = MAX_AGE + 1 if r["age_hi"] is None else min(r["age_hi"], MAX_AGE + 1)
        for age in range(r["age_lo"], hi):
            rows["g_segment"].append(r["segment"])
            rows["g_sex"].append(r["sex"])
            rows["g_age"].append(age)
            rows["demo"].append(coef.get((r["segment"], r["variable"]), 0.0))
    return pa.table(rows)


@ibis.udf.scalar.builtin
def bit_count(x: int) -> int:  # type: ignore[empty-body]
    """Number of set bits (DuckDB and Spark SQL both have ``bit_count``)."""


@ibis.udf.agg.builtin
def bit_or(x: int) -> int:  # type: ignore[empty-body]
    """Bitwise OR of a group (a built-in of DuckDB and Spark SQL; ibis's own BitOr has no Spark rule)."""


def patient_masks(dx: ir.Table, folder: str) -> ir.Table:
    """(patient_id, icd10) rows (duplicates allowed) -> one row per patient with a code of the
    model: the OR of its codes' CC words p0, p1, ..., drop words x0, x1, ... and edit words e0, ..."""
    lay = layout(folder)
    codes = ibis.memtable(code_table(folder))
    j = dx.join(codes, "icd10")
    return j.group_by("patient_id").aggregate(
        **{f"p{k}": bit_or(j[f"w{k}"]) for k in range(lay.words)},
        **{f"x{k}": bit_or(j[f"d{k}"]) for k in range(lay.words)},
        **{f"e{k}": bit_or(j[f"e{k}"]) for k in range(edit_words(lay))})


def _or(a: ir.IntegerValue | None, b: ir.IntegerValue) -> ir.IntegerValue:
    return b if a is None else a | b


def _edited(lay: Layout, folder: str, m: ir.Table) -> tuple[list[ir.IntegerValue | None], list[ir.IntegerValue | None]]:
    """Per word, the CC bits and drop bits the patient's edited codes contribute (None: nothing):
    the CCs of the edit rules that apply to the patient's age and sex, else the code's own CCs."""
    rules: dict[str, list[dict[str, Any]]] = {}
    for r in reference.arrow(folder, "age_sex_edits").to_pylist():
        rules.setdefault(r["icd10"], []).append(r)
    mapped = _code_hccs(folder)
    present: list[ir.IntegerValue | None] = [None] * lay.words
    dropped: list[ir.IntegerValue | None] = [None] * lay.words
    for code in lay.edits:
        w, b = _edit_bit(lay, code)
        has = (m[f"e{w}"] & b) != 0
        applies: list[ir.BooleanValue] = []
        new: dict[tuple[str, int], ir.IntegerValue | None] = {}
        for r in rules[code]:
            tests = [m.sex == r["sex"]] if r["sex"] is not None else []
            if r["age_below"] is not None:
                tests.append(m.age < r["age_below"])
            if r["age_above"] is not None:
                tests.append(m.age > r["age_above"])
            ok: ir.BooleanValue = ibis.and_(*tests).fill_null(False) if tests else ibis.literal(True)
            applies.append(ok)
            pw, dw = _present_and_dropped(lay, folder, [r["hcc"]] if r["hcc"] else [])
            for kind, words in (("p", pw), ("d", dw)):
                for k, bits in enumerate(words):
                    if bits:
                        new[kind, k] = _or(new.get((kind, k)), ibis.ifelse(ok, bits, 0))
        own = dict(zip(("p", "d"), _present_and_dropped(lay, folder, mapped.get(code, [])), strict=True))
        for kind, out in (("p", present), ("d", dropped)):
            for k in range(lay.words):
                if own[kind][k] or (kind, k) in new:
                    chosen = ibis.ifelse(ibis.or_(*applies), new.get((kind, k), ibis.literal(0, "int64")),
                                         own[kind][k])
                    out[k] = _or(out[k], ibis.ifelse(has, chosen, 0))
    return present, dropped


def _any(t: ir.Table, mask: list[int]) -> ir.BooleanValue:
    parts = [(t[f"m{k}"] & m) != 0 for k, m in enumerate(mask) if m]
    out: ir.BooleanValue = parts[0] if parts else ibis.literal(False)
    for p in parts[1:]:
        out = out | p
    return out


def score_expression(masks: ir.Table, person: ir.Table, as_of: Any, model: str, folder: str,
                     decimals: int) -> ir.Table:
    """patient_id, model, score, hcc_count, as_of, deceased for every person (masks may lack
    patients); as_of and deceased come from the person table (:func:`hcc.people`)."""
    lay = layout(folder)
    coef = ibis.memtable(_coefficient_table(folder))
    demo = ibis.memtable(_demographic_table(folder))
    j = person.left_join(masks, "patient_id")
    j = j.select(person, **{c: j[c].fill_null(0) for c in masks.columns if c != "patient_id"})
    present, dropped = _edited(lay, folder, j)
    words: dict[str, ir.IntegerValue] = {}
    for k in range(lay.words):
        p, x = _or(present[k], j[f"p{k}"]), _or(dropped[k], j[f"x{k}"])
        # present and not dropped; p - (p & x) rather than p & ~x: ibis leaves the operand of ~
        # unparenthesised, so ~ of an expression would bind to its first term only.
        words[f"m{k}"] = p - (p & x)
    n = sum((bit_count(w) for w in words.values()), ibis.literal(0, "int64"))
    # The masks are computed once here; the joins below keep them a column of a subquery, not an
    # expression repeated in each of the score's terms.
    m = j.select(person, **words, n=n.cast("int64"))
    m = m.left_join(coef, m.segment == coef.c_segment)
    m = m.left_join(demo, (m.segment == demo.g_segment) & (m.sex == demo.g_sex)
                    & (m.age.clip(upper=MAX_AGE) == demo.g_age))

    groups: dict[str, list[str]] = {}
    for r in reference.arrow(folder, "groups").to_pylist():
        groups.setdefault(r["group"], []).append(r["hcc"])
    has: dict[str, ir.BooleanValue] = {h: _any(m, lay.mask([h])) for h in lay.hccs}
    count: ir.IntegerValue = m.n
    term: dict[str, ir.BooleanValue] = {**has, **{g: _any(m, lay.mask(hs)) for g, hs in groups.items()},
                                        "DISABLED": m.disabled}
    flag: dict[str, ir.BooleanValue] = dict(has)
    inter: dict[str, list[str]] = {}
    for r in reference.arrow(folder, "interactions").to_pylist():
        inter.setdefault(r["variable"], []).append(r["term"])
    for v, ts in inter.items():
        f: ir.BooleanValue = term[ts[0]]
        for t in ts[1:]:
            f = f & term[t]
        flag[v] = f
    for r in reference.arrow(folder, "counts").to_pylist():
        f = count >= r["min_hccs"]
        flag[r["variable"]] = f if r["max_hccs"] is None else f & (count <= r["max_hccs"])
    for r in reference.arrow(folder, "status_terms").to_pylist():
        f = (m.origds if r["status"] == "origds" else m.medicaid) & (m.sex == r["sex"])
        flag[r["variable"]] = flag[r["variable"]] | f if r["variable"] in flag else f

    # Every segment row of the coefficient table is complete (0.0 where the model has no factor);
    # a branch per variable (the factor or 0) is cheaper than a product. An unknown segment (no
    # coefficient row) leaves the score null.
    total: ir.FloatingValue = m.demo.fill_null(0.0)
    for i, v in enumerate(lay.variables):
        total = total + ibis.ifelse(flag[v], m[f"c{i}"], 0.0)
    unscored = m.age.isnull() | m.c_segment.isnull()
    return m.select(
        patient_id=m.patient_id,
        model=ibis.literal(model),
        score=ibis.ifelse(unscored, ibis.null("float64"), total.round(decimals)).cast("float64"),
        hcc_count=count.cast("int64"),
        as_of=m.as_of,
        deceased=m.deceased,
    )
