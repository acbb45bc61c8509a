"""The fast path of the CMS-HCC score: one row per patient holding its CCs as bit masks.

After the ICD-10 -> CC join, the CC rows of a patient are OR-ed into a few 62-bit integers (one
bit per CC) together with the bits each CC drops by hierarchy; present-and-not-dropped is then a
bitwise AND per patient. Groups, interactions, the count variable and the relative factors of the
patient's segment become one arithmetic expression per patient, generated from the same shipped
tables as the row-by-row path in :mod:`carevalue.engine.riskscores.hcc` (which explains a score
term by term). No HCC is named here.
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
    hier = reference.arrow(folder, "hierarchy").to_pylist()
    hccs = tuple(sorted(set(d2h) | set(edits) | {r["hcc"] for r in hier} | {r["drops"] for r in hier},
                        key=lambda h: (len(h), h)))
    words = -(-len(hccs) // BITS_PER_WORD)
    inter = list(dict.fromkeys(reference.arrow(folder, "interactions").column("variable").to_pylist()))
    counts = reference.arrow(folder, "counts").column("variable").to_pylist()
    status = list(dict.fromkeys(reference.arrow(folder, "status_terms").column("variable").to_pylist()))
    return Layout(hccs, words, tuple(dict.fromkeys([*hccs, *inter, *counts, *status])))


@lru_cache(maxsize=4)
def _bits_table(folder: str) -> pa.Table:
    """hcc -> its bit (w0, w1, ...) and the bits it drops (d0, d1, ...)."""
    lay = layout(folder)
    drops: dict[str, list[str]] = {}
    for r in reference.arrow(folder, "hierarchy").to_pylist():
        drops.setdefault(r["hcc"], []).append(r["drops"])
    cols: dict[str, list[Any]] = {"hcc": list(lay.hccs)}
    for k in range(lay.words):
        cols[f"w{k}"] = [lay.mask([h])[k] for h in lay.hccs]
        cols[f"d{k}"] = [lay.mask(drops.get(h, []))[k] for h in lay.hccs]
    return pa.table(cols, schema=pa.schema([("hcc", pa.string())] + [
        (f"{p}{k}", pa.int64()) for k in range(lay.words) for p in ("w", "d")]))


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


def patient_masks(ccs: ir.Table, folder: str) -> ir.Table:
    """(patient_id, hcc) rows (duplicates allowed) -> one row per patient with the present CCs
    after hierarchies as words m0, m1, ..."""
    lay = layout(folder)
    bits = ibis.memtable(_bits_table(folder))
    j = ccs.join(bits, "hcc")
    agg = j.group_by("patient_id").aggregate(
        **{f"p{k}": bit_or(j[f"w{k}"]) for k in range(lay.words)},
        **{f"x{k}": bit_or(j[f"d{k}"]) for k in range(lay.words)})
    return agg.select("patient_id", **{f"m{k}": agg[f"p{k}"] & ~agg[f"x{k}"] for k in range(lay.words)})


def _any(t: ir.Table, mask: list[int]) -> ir.BooleanValue:
    out: ir.BooleanValue = ibis.literal(False)
    for k, m in enumerate(mask):
        if m:
            out = out | ((t[f"m{k}"] & m) != 0)
    return out


def score_expression(masks: ir.Table, person: ir.Table, as_of: Any, model: str, folder: str,
                     decimals: int) -> ir.Table:
    """patient_id, model, score, hcc_count, as_of, deceased for every person (masks may lack
    patients); as_of and deceased come from the person table (:func:`hcc.people`)."""
    lay = layout(folder)
    coef = ibis.memtable(_coefficient_table(folder))
    demo = ibis.memtable(_demographic_table(folder))
    m = person.left_join(masks, "patient_id")
    m = m.select(person, **{f"m{k}": m[f"m{k}"].fill_null(0) for k in range(lay.words)})
    m = m.left_join(coef, m.segment == coef.c_segment)
    m = m.left_join(demo, (m.segment == demo.g_segment) & (m.sex == demo.g_sex)
                    & (m.age.clip(upper=MAX_AGE) == demo.g_age))

    groups: dict[str, list[str]] = {}
    for r in reference.arrow(folder, "groups").to_pylist():
        groups.setdefault(r["group"], []).append(r["hcc"])
    has: dict[str, ir.BooleanValue] = {h: _any(m, lay.mask([h])) for h in lay.hccs}
    count: ir.IntegerValue = sum((bit_count(m[f"m{k}"]) for k in range(lay.words)), ibis.literal(0, "int64"))
    term: dict[str, ir.BooleanValue] = {**has, **{g: _any(m, lay.mask(hs)) for g, hs in groups.items()},
                                        "DISABLED": m.disabled}
    flag: dict[str, ir.BooleanValue] = dict(has)
    inter: dict[str, list[str]] = {}
    for r in reference.arrow(folder, "interactions").to_pylist():
        inter.setdefault(r["variable"], []).append(r["term"])
    for v, ts in inter.items():
        f: ir.BooleanValue = ibis.literal(True)
        for t in ts:
            f = f & term[t]
        flag[v] = f
    for r in reference.arrow(folder, "counts").to_pylist():
        f = count >= r["min_hccs"]
        flag[r["variable"]] = f if r["max_hccs"] is None else f & (count <= r["max_hccs"])
    for r in reference.arrow(folder, "status_terms").to_pylist():
        f = (m.origds if r["status"] == "origds" else m.medicaid) & (m.sex == r["sex"])
        flag[r["variable"]] = flag[r["variable"]] | f if r["variable"] in flag else f

    # Every segment row of the coefficient table is complete (0.0 where the model has no factor),
    # so a product per variable needs no branch; an unknown segment leaves the score null.
    total: ir.FloatingValue = m.demo.fill_null(0.0)
    for i, v in enumerate(lay.variables):
        total = total + flag[v].cast("float64") * m[f"c{i}"]
    return m.select(
        patient_id=m.patient_id,
        model=ibis.literal(model),
        score=ibis.ifelse(m.age.isnull(), ibis.null("float64"), total.round(decimals)).cast("float64"),
        hcc_count=count.cast("int64"),
        as_of=m.as_of,
        deceased=m.deceased,
    )
