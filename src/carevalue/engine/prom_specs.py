"""The library's PROM instruments as rows: names, items, answer options, scales and their scoring
parameters, conversion tables, bands and value-set indices, each a small table keyed by instrument
(``_inst``) and scale (``_scale``). engine/proms.py joins them to the answers, so one expression
scores every instrument instead of one per instrument.

A value-set index depends only on the levels of its dimensions, so it is tabulated here for every
combination of the dimension items' levels, with the same arithmetic as the plain-Python scorer
(``proms._value_set_index``), and looked up by the state key ``sum(level * 10**position)``
(levels are whole numbers 0-9, so the key is exact in any order of addition).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from carevalue.definitions.instrument import Instrument, Linear, Scale

SCALE_SCHEMA = {"_inst": "string", "_scale": "string", "_pos": "int64", "_method": "string", "_n_items": "int64",
                "_needed": "int64", "_prorate": "boolean", "_f": "float64", "_has_lookup": "boolean",
                "_has_tf": "boolean", "_tf_add": "float64", "_tf_mul": "float64", "_tf_div": "float64"}


class UnsupportedScale(ValueError):
    """A scale the set-based scorer cannot express (the definition says which and why)."""


def _table(rows: Sequence[dict[str, Any]], schema: dict[str, str]) -> ir.Table:
    return ibis.memtable({c: [r[c] for r in rows] for c in schema}, schema=schema)


def _lin(lin: Linear | None) -> dict[str, float]:
    lin = lin or Linear()
    return {"_add": lin.add, "_mul": lin.multiply, "_div": lin.divide}


@dataclass
class PromSpecs:
    """Every instrument's scoring definition as rows (see the module docstring)."""

    instruments: list[Instrument]

    def names(self) -> ir.Table:
        """(_inst, _mname): the last path segment of a questionnaire canonical that names it."""
        rows = [{"_inst": i.id, "_mname": n} for i in self.instruments for n in (i.id, i.loinc_panel) if n]
        return _table(rows, {"_inst": "string", "_mname": "string"})

    def urls(self) -> ir.Table:
        rows = [{"_inst": i.id, "_url": u} for i in self.instruments for u in dict.fromkeys(i.questionnaire_urls)]
        return _table(rows, {"_inst": "string", "_url": "string"})

    def links(self) -> ir.Table:
        """(_inst, n_name, n_link): each item's linkId and aliases."""
        rows = [{"_inst": i.id, "n_name": n, "n_link": it.link_id}
                for i in self.instruments for it in i.items for n in (it.link_id, *it.aliases)]
        return _table(rows, {"_inst": "string", "n_name": "string", "n_link": "string"})

    def items(self) -> ir.Table:
        rows = [{"_inst": i.id, "i_link": it.link_id, "i_codes": any(o.code for o in it.options),
                 "i_min": it.range[0] if it.range else None, "i_max": it.range[1] if it.range else None,
                 "i_integer": it.integer} for i in self.instruments for it in i.items]
        return _table(rows, {"_inst": "string", "i_link": "string", "i_codes": "boolean", "i_min": "float64",
                             "i_max": "float64", "i_integer": "boolean"})

    def options(self, coded: bool) -> ir.Table:
        """Answer options by code (``coded``: only those with a code) or by value."""
        rows = [{"_inst": i.id, "o_link": it.link_id, "o_code": o.code, "o_value": o.value, "o_score": o.scored,
                 "o_missing": o.missing}
                for i in self.instruments for it in i.items for o in it.options if o.code or not coded]
        return _table(rows, {"_inst": "string", "o_link": "string", "o_code": "string", "o_value": "float64",
                             "o_score": "float64", "o_missing": "boolean"})

    def _scales(self) -> list[tuple[Instrument, int, Scale]]:
        return [(i, k, s) for i in self.instruments for k, s in enumerate(i.scales)]

    def scales(self) -> ir.Table:
        """One row per scale with its scoring parameters (rounding factor ``_f``, null: no rounding)."""
        rows = []
        for i, k, s in self._scales():
            if s.method == "mean_of_scales":
                nested = [c for c in s.scales if next(x for x in i.scales if x.id == c).method == "mean_of_scales"]
                if nested:
                    raise UnsupportedScale(f"{i.id}/{s.id}: a mean of scales of means ({', '.join(nested)})")
            if s.method == "value_set" and s.needed != len(s.items):
                raise UnsupportedScale(f"{i.id}/{s.id}: a value-set index needs every dimension answered")
            tf = _lin(s.transform)
            rows.append({"_inst": i.id, "_scale": s.id, "_pos": k, "_method": s.method,
                         "_n_items": len(s.scales) if s.method == "mean_of_scales" else len(s.items),
                         "_needed": s.needed, "_prorate": s.prorate,
                         "_f": None if s.round_half_up is None else 10.0 ** s.round_half_up,
                         "_has_lookup": s.lookup is not None, "_has_tf": s.transform is not None,
                         "_tf_add": tf["_add"], "_tf_mul": tf["_mul"], "_tf_div": tf["_div"]})
        return _table(rows, SCALE_SCHEMA)

    def scale_items(self) -> ir.Table:
        """(_inst, _scale, _link, _add, _mul, _div): the items of every item scale with their transform."""
        rows = [{"_inst": i.id, "_scale": s.id, "_link": link, **_lin(s.item_linear(link))}
                for i, _, s in self._scales() if s.method != "mean_of_scales" for link in s.items]
        return _table(rows, {"_inst": "string", "_scale": "string", "_link": "string", "_add": "float64",
                             "_mul": "float64", "_div": "float64"})

    def components(self) -> tuple[ir.Table, int]:
        """(_inst, _parent, _child, _cpos) of every mean of scales, and the most components any has."""
        rows = [{"_inst": i.id, "_parent": s.id, "_child": c, "_cpos": k}
                for i, _, s in self._scales() if s.method == "mean_of_scales" for k, c in enumerate(s.scales)]
        return (_table(rows, {"_inst": "string", "_parent": "string", "_child": "string", "_cpos": "int64"}),
                max((len(s.scales) for _, _, s in self._scales() if s.method == "mean_of_scales"), default=0))

    def lookups(self) -> ir.Table:
        rows = [{"_inst": i.id, "_scale": s.id, "_raw": float(a), "_looked": float(b)}
                for i, _, s in self._scales() if s.lookup is not None for a, b in s.lookup.items()]
        return _table(rows, {"_inst": "string", "_scale": "string", "_raw": "float64", "_looked": "float64"})

    def bands(self) -> ir.Table:
        rows = [{"_inst": i.id, "_scale": s.id, "_bpos": k, "_bmin": b.min, "_bmax": b.max, "_blabel": b.label}
                for i, _, s in self._scales() for k, b in enumerate(s.bands)]
        return _table(rows, {"_inst": "string", "_scale": "string", "_bpos": "int64", "_bmin": "float64",
                             "_bmax": "float64", "_blabel": "string"})

    def dimensions(self) -> ir.Table:
        """(_inst, _scale, _link, _dmul): each value-set dimension's item and its state-key factor."""
        rows = [{"_inst": i.id, "_scale": s.id, "_link": link, "_dmul": 10.0 ** k}
                for i, _, s in self._scales() if s.value_set is not None
                for k, link in enumerate(s.value_set.dimensions.values())]
        return _table(rows, {"_inst": "string", "_scale": "string", "_link": "string", "_dmul": "float64"})

    def value_sets(self) -> ir.Table:
        """(_inst, _scale, _state, _vsraw): the index of every health state of every value-set scale."""
        parts = []
        for i, _, s in self._scales():
            if s.value_set is None:
                continue
            links = list(s.value_set.dimensions.values())
            if any(_item(i, link).range is not None for link in links):
                raise UnsupportedScale(f"{i.id}/{s.id}: a value-set dimension must be answered with options")
            levels = [sorted({o.scored for o in _item(i, link).options if not o.missing}) for link in links]
            states = np.array(list(itertools.product(*levels)), dtype=float).reshape(-1, len(links))
            if not np.all((states == np.floor(states)) & (states >= 0) & (states <= 9)):
                raise UnsupportedScale(f"{i.id}/{s.id}: value-set levels must be whole numbers 0-9")
            parts.append(pd.DataFrame({"_inst": i.id, "_scale": s.id, "_state": states @ 10.0 ** np.arange(len(links)),
                                       "_vsraw": value_set_indices(i, s, states)}))
        schema = {"_inst": "string", "_scale": "string", "_state": "float64", "_vsraw": "float64"}
        if not parts:
            return _table([], schema)
        return ibis.memtable(pd.concat(parts, ignore_index=True), schema=schema)


def value_set_indices(inst: Instrument, scale: Scale, states: np.ndarray) -> np.ndarray:
    """``proms._value_set_index`` of many states at once (rows: states, columns: the dimensions in
    the value set's order), with the same additions in the same order, so the same floats."""
    assert scale.value_set is not None
    terms = inst.value_set_terms(scale)
    lv = states.astype(np.int64)
    total = np.full(len(lv), terms.get("StartValue", 0.0))
    dims = list(scale.value_set.dimensions)
    for k, d in enumerate(dims):
        total = total + np.array([terms.get(f"{d}{v}", 0.0) for v in range(10)])[lv[:, k]]
    total = total + np.where((lv > 1).any(axis=1), terms.get("Intercept", 0.0), 0.0)
    n45 = (lv >= 4).sum(axis=1)
    for k, d in enumerate(dims):
        total = total + np.where(lv[:, k] >= 4, terms.get(f"{d}45", 0.0), 0.0)
    total = total + np.where(n45 > 0, (n45 - 1) ** 2 * terms.get("Num45sq", 0.0), 0.0)
    total = total + np.where(n45 > 0, terms.get("N4", 0.0), 0.0)
    return total + np.where((lv == 5).any(axis=1), terms.get("N5", 0.0), 0.0)


def _item(inst: Instrument, link: str) -> Any:
    return next(it for it in inst.items if it.link_id == link)
