"""The fast path of the CMS-HCC score: one row per patient holding its CCs as bit masks.

Each ICD-10 code of the model is one row of a static table holding the bits of its CCs and the
bits those CCs drop by hierarchy (a code with an age/sex edit holds the bit of its edit group
instead, since whether the edit applies depends on the patient). The diagnoses' codes are looked
up in that table once per distinct code (:mod:`carevalue.engine.riskscores.dxmask`) and OR-ed
into a few 62-bit integers per patient in one aggregation. Per patient, one lookup by age, sex and
edit groups gives the edited codes' CCs, one by segment, sex, age and payment-HCC count the
demographic cell and count variable; present-and-not-dropped (the hierarchy), groups,
interactions and the relative factors of the patient's segment are then one arithmetic
expression, generated from the same shipped tables as the row-by-row path in
:mod:`carevalue.engine.riskscores.hcc` (which explains a score term by term). No HCC is named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from carevalue.engine.riskscores import dxmask, reference
from carevalue.engine.riskscores.dxmask import bit_or

BITS_PER_WORD = 62  # stay clear of the sign bit of BIGINT
MAX_AGE = 120  # demographic cells are expanded per whole age up to here; older = MAX_AGE


@dataclass(frozen=True)
class Layout:
    """Bit positions of the model's CCs and the derived masks, all from the data folder."""

    hccs: tuple[str, ...]
    words: int
    variables: tuple[str, ...]  # the variables summed term by term: HCCs, interactions, status terms
    edit_groups: tuple[tuple[str, ...], ...]  # ICD-10 codes with the same age/sex edits and CCs, one bit each

    def bit(self, hcc: str) -> tuple[int, int]:
        i = self.hccs.index(hcc)
        return i // BITS_PER_WORD, 1 << (i % BITS_PER_WORD)

    def mask(self, hccs: list[str]) -> list[int]:
        out = [0] * self.words
        for h in hccs:
            w, b = self.bit(h)
            out[w] |= b
        return out


MAX_EDIT_GROUPS = 10  # the edit table has 2 ** groups rows per sex and age


@lru_cache(maxsize=4)
def _edit_rules(folder: str) -> dict[str, tuple[tuple[str | None, int | None, int | None, str | None], ...]]:
    """ICD-10 code -> its age/sex edit rules (sex, age_below, age_above, new CC or None)."""
    rules: dict[str, list[tuple[str | None, int | None, int | None, str | None]]] = {}
    for r in reference.arrow(folder, "age_sex_edits").to_pylist():
        rules.setdefault(r["icd10"], []).append((r["sex"], r["age_below"], r["age_above"], r["hcc"]))
    return {c: tuple(rs) for c, rs in rules.items()}


@lru_cache(maxsize=4)
def layout(folder: str) -> Layout:
    d2h = reference.arrow(folder, "dx_to_hcc").column("hcc").to_pylist()
    edits = [h for h in reference.arrow(folder, "age_sex_edits").column("hcc").to_pylist() if h]
    hier = reference.arrow(folder, "hierarchy").to_pylist()
    hccs = tuple(sorted(set(d2h) | set(edits) | {r["hcc"] for r in hier} | {r["drops"] for r in hier},
                        key=lambda h: (len(h), h)))
    words = -(-len(hccs) // BITS_PER_WORD)
    inter = list(dict.fromkeys(reference.arrow(folder, "interactions").column("variable").to_pylist()))
    status = list(dict.fromkeys(reference.arrow(folder, "status_terms").column("variable").to_pylist()))
    # Codes whose edits and own CCs are the same behave the same for every patient: one bit per group.
    mapped = _code_hccs(folder)
    groups: dict[tuple[Any, ...], list[str]] = {}
    for code, rules in sorted(_edit_rules(folder).items()):
        groups.setdefault((rules, tuple(mapped.get(code, []))), []).append(code)
    if len(groups) > MAX_EDIT_GROUPS:
        raise ValueError(f"{folder}: {len(groups)} kinds of age/sex edits; at most {MAX_EDIT_GROUPS} are supported")
    return Layout(hccs, words, tuple(dict.fromkeys([*hccs, *inter, *status])), tuple(tuple(g) for g in groups.values()))


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


def _word_columns(lay: Layout) -> list[str]:
    return [f"{p}{k}" for p in ("w", "d") for k in range(lay.words)]


@lru_cache(maxsize=4)
def code_table(folder: str) -> pa.Table:
    """icd10 -> w0, w1, ... (its CCs), d0, d1, ... (the CCs they drop), e (the bit of its edit group).

    A code with an age/sex edit has no w/d bits here: its CCs are decided per patient (by age and
    sex, :func:`edit_table`)."""
    lay = layout(folder)
    mapped = _code_hccs(folder)
    group_bit = {c: 1 << g for g, codes in enumerate(lay.edit_groups) for c in codes}
    codes = sorted(set(mapped) | set(group_bit))
    cols: dict[str, list[int]] = {c: [] for c in [*_word_columns(lay), "e"]}
    cache: dict[tuple[str, ...], list[int]] = {}
    for code in codes:
        hccs = tuple(mapped.get(code, [])) if code not in group_bit else ()
        if hccs not in cache:
            w, d = _present_and_dropped(lay, folder, list(hccs))
            cache[hccs] = w + d
        for c, v in zip(_word_columns(lay), cache[hccs], strict=True):
            cols[c].append(v)
        cols["e"].append(group_bit.get(code, 0))
    return pa.table({"icd10": pa.array(codes, pa.string()), **{c: pa.array(v, pa.int64()) for c, v in cols.items()}})


UNKNOWN_AGE = -2  # the age key of a patient without a birth date; negative ages are keyed -1


def age_key(age: ir.IntegerValue) -> ir.IntegerValue:
    """The age as the edit and demographic tables key it: -1 for any negative age, MAX_AGE for
    any older one, UNKNOWN_AGE when unknown."""
    return age.clip(lower=-1, upper=MAX_AGE).fill_null(UNKNOWN_AGE)


def _applies(rule: tuple[str | None, int | None, int | None, str | None], sex: str, age: int | None) -> bool:
    """Whether an edit rule applies (an age test on an unknown age does not)."""
    r_sex, below, above, _ = rule
    if r_sex is not None and sex != r_sex:
        return False
    if (below is not None or above is not None) and age is None:
        return False
    return (below is None or age < below) and (above is None or age > above)  # type: ignore[operator]


@lru_cache(maxsize=4)
def edit_table(folder: str) -> pa.Table:
    """(x_sex, x_age, x_e) -> the CC words (q0, ...) and drop words (y0, ...) that the patient's
    edited codes contribute: per edit group present in x_e, the CCs of its rules that apply to the
    age and sex, else the codes' own CCs. Ages are keyed by :func:`age_key`."""
    lay = layout(folder)
    rules = _edit_rules(folder)
    mapped = _code_hccs(folder)
    limits = [a for rs in rules.values() for r in rs for a in r[1:3] if a is not None]
    if limits and max(limits) >= MAX_AGE:
        raise ValueError(f"{folder}: an age/sex edit tests an age over {MAX_AGE}")
    names = [f"q{k}" for k in range(lay.words)] + [f"y{k}" for k in range(lay.words)]
    cols: dict[str, list[Any]] = {"x_sex": [], "x_age": [], "x_e": [], **{n: [] for n in names}}
    for sex in ("M", "F"):
        for key in range(UNKNOWN_AGE, MAX_AGE + 1):
            age = None if key == UNKNOWN_AGE else key
            outcome = []
            for codes in lay.edit_groups:
                rs = rules[codes[0]]
                hit = [r for r in rs if _applies(r, sex, age)]
                ccs = [r[3] for r in hit if r[3]] if hit else mapped.get(codes[0], [])
                w, d = _present_and_dropped(lay, folder, ccs)
                outcome.append(w + d)
            for e in range(1 << len(lay.edit_groups)):
                cols["x_sex"].append(sex)
                cols["x_age"].append(key)
                cols["x_e"].append(e)
                words = [0] * (2 * lay.words)
                for g, ws in enumerate(outcome):
                    if e >> g & 1:
                        words = [a | b for a, b in zip(words, ws, strict=True)]
                for n, v in zip(names, words, strict=True):
                    cols[n].append(v)
    return pa.table({"x_sex": pa.array(cols["x_sex"], pa.string()), "x_age": pa.array(cols["x_age"], pa.int64()),
                     "x_e": pa.array(cols["x_e"], pa.int64()), **{n: pa.array(cols[n], pa.int64()) for n in names}})


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


def _count_cap(folder: str) -> int:
    """Counts from here up score alike (the open-ended count variable)."""
    rows = reference.arrow(folder, "counts").to_pylist()
    return max([r["min_hccs"] for r in rows] + [r["max_hccs"] + 1 for r in rows if r["max_hccs"] is not None])


@lru_cache(maxsize=4)
def _demographic_table(folder: str) -> pa.Table:
    """(segment, sex, age key -1..MAX_AGE, payment-HCC count 0..cap) -> the relative factor of the
    demographic cell (0 where no cell covers the age) plus that of the count variable."""
    coef = {(r["segment"], r["variable"]): r["coefficient"]
            for r in reference.arrow(folder, "coefficients").to_pylist()}
    cells: dict[tuple[str, str, int], float] = {}
    for r in reference.arrow(folder, "demographics").to_pylist():
        hi = MAX_AGE + 1 if r["age_hi"] is None else min(r["age_hi"], MAX_AGE + 1)
        for age in range(r["age_lo"], hi):
            cells[r["segment"], r["sex"], age] = coef.get((r["segment"], r["variable"]), 0.0)
    cap = _count_cap(folder)
    counts = reference.arrow(folder, "counts").to_pylist()
    rows: dict[str, list[Any]] = {"g_segment": [], "g_sex": [], "g_age": [], "g_n": [], "demo": []}
    for seg in sorted({s for s, _ in coef}):
        for n in range(cap + 1):
            # The count variables' own factors; every count variable that n falls in (normally one).
            extra = sum(coef.get((seg, r["variable"]), 0.0) for r in counts
                        if n >= r["min_hccs"] and (r["max_hccs"] is None or n <= r["max_hccs"]))
            for sex in ("M", "F"):
                for age in range(-1, MAX_AGE + 1):
                    rows["g_segment"].append(seg)
                    rows["g_sex"].append(sex)
                    rows["g_age"].append(age)
                    rows["g_n"].append(n)
                    rows["demo"].append(cells.get((seg, sex, age), 0.0) + extra)
    return pa.table(rows)


@ibis.udf.scalar.builtin
def bit_count(x: int) -> int:  # type: ignore[empty-body]
    """Number of set bits (DuckDB and Spark SQL both have ``bit_count``)."""


def patient_masks(dx: ir.Table, folder: str) -> ir.Table:
    """(patient_id, icd10) rows (duplicates allowed) -> one row per patient with a code of the
    model: the OR of its codes' CC words w0, w1, ..., drop words d0, d1, ... and edit groups e."""
    codes = ibis.memtable(code_table(folder))
    j = dx.join(codes, "icd10")
    return j.group_by("patient_id").aggregate(**{c: bit_or(j[c]) for c in [*_word_columns(layout(folder)), "e"]})


def masks_from_store(conditions: ir.Table, codings: ir.Table | None, patients: ir.Table, as_of: Any,
                     folder: str, lookback_days: int | None, crosswalk: Any,
                     code_pairs: ir.Table | None = None) -> ir.Table:
    """The :func:`patient_masks` of the diagnoses in the window, read from the store's tables by
    :func:`carevalue.engine.riskscores.dxmask.patient_words` (each distinct code looked up once)."""
    words = [*_word_columns(layout(folder)), "e"]
    return dxmask.patient_words(conditions, codings, ibis.memtable(code_table(folder)), words, as_of,
                                lookback_days, crosswalk, patients, code_pairs)


def _any(t: ir.Table, mask: list[int]) -> ir.BooleanValue:
    parts = [(t[f"m{k}"] & m) != 0 for k, m in enumerate(mask) if m]
    out: ir.BooleanValue = parts[0] if parts else ibis.literal(False)
    for p in parts[1:]:
        out = out | p
    return out


def _sum(terms: list[ir.FloatingValue]) -> ir.FloatingValue:
    """A balanced sum (a shallow expression compiles faster than a chain of 100 additions)."""
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


def score_expression(masks: ir.Table, person: ir.Table, as_of: Any, model: str, folder: str,
                     decimals: int) -> ir.Table:
    """patient_id, model, score, hcc_count, as_of, deceased for every person (masks may lack
    patients); as_of and deceased come from the person table (:func:`hcc.people`)."""
    lay = layout(folder)
    coef = ibis.memtable(_coefficient_table(folder))
    demo = ibis.memtable(_demographic_table(folder))
    edits = ibis.memtable(edit_table(folder))
    j = person.left_join(masks, "patient_id")
    j = j.select(person, **{c: j[c].fill_null(0) for c in masks.columns if c != "patient_id"})
    j = j.mutate(_age=age_key(j.age))
    # The edited codes' CCs for the patient's age and sex: one lookup in the edit table.
    j = j.left_join(edits, (j.sex == edits.x_sex) & (j._age == edits.x_age) & (j.e == edits.x_e))
    words: dict[str, ir.IntegerValue] = {}
    for k in range(lay.words):
        p, x = j[f"w{k}"] | j[f"q{k}"], j[f"d{k}"] | j[f"y{k}"]
        # present and not dropped; p - (p & x) rather than p & ~x: ibis leaves the operand of ~
        # unparenthesised, so ~ of an expression would bind to its first term only.
        words[f"m{k}"] = p - (p & x)
    n = _sum([bit_count(w) for w in words.values()]) if len(words) > 1 else bit_count(words["m0"])
    # The masks are computed once here; the joins below keep them a column of a subquery, not an
    # expression repeated in each of the score's terms.
    m = j.select(*person.columns, "_age", **words, n=n.cast("int64"))
    cap = _count_cap(folder)
    m = m.mutate(_n=ibis.least(m.n, cap))
    m = m.left_join(coef, m.segment == coef.c_segment).left_join(
        demo, (m.segment == demo.g_segment) & (m.sex == demo.g_sex) & (m._age == demo.g_age) & (m._n == demo.g_n))

    groups: dict[str, list[str]] = {}
    for r in reference.arrow(folder, "groups").to_pylist():
        groups.setdefault(r["group"], []).append(r["hcc"])
    has: dict[str, ir.BooleanValue] = {h: _any(m, lay.mask([h])) for h in lay.hccs}
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
    for r in reference.arrow(folder, "status_terms").to_pylist():
        f = (m.origds if r["status"] == "origds" else m.medicaid) & (m.sex == r["sex"])
        flag[r["variable"]] = flag[r["variable"]] | f if r["variable"] in flag else f

    # Every segment row of the coefficient table is complete (0.0 where the model has no factor);
    # a branch per variable (the factor or 0) is cheaper than a product. The demographic cell and
    # the count variable come from one lookup. A patient without any HCC skips every term that
    # needs one (the HCCs and the interactions of HCCs). An unknown segment (no coefficient row)
    # leaves the score null.
    needs_hcc = set(lay.hccs) | {v for v, ts in inter.items() if any(t != "DISABLED" for t in ts)}
    # A variable whose factor is 0 in every segment adds nothing and is left out.
    factors = _coefficient_table(folder)
    terms = [(v, ibis.ifelse(flag[v], m[f"c{i}"], 0.0)) for i, v in enumerate(lay.variables)
             if any(factors.column(f"c{i}").to_pylist())]
    gated = _sum([t for v, t in terms if v in needs_hcc])
    any_hcc = _any(m, [(1 << BITS_PER_WORD) - 1] * lay.words)
    total = _sum([m.demo.fill_null(0.0), ibis.ifelse(any_hcc, gated, 0.0),
                  *(t for v, t in terms if v not in needs_hcc)])
    unscored = m.age.isnull() | m.c_segment.isnull()
    return m.select(
        patient_id=m.patient_id,
        model=ibis.literal(model),
        score=ibis.ifelse(unscored, ibis.null("float64"), total.round(decimals)).cast("float64"),
        hcc_count=m.n,
        as_of=m.as_of,
        deceased=m.deceased,
    )
