"""The per-patient model frames of the provider comparison, fetched once for every measure.

Three set-based backend queries (outcome values of all the templates, case-mix values pivoted to
one row per condition and cycle, and which variables are text) replace one query per measure,
time point and scale: fitting a case-mix model needs the rows in pandas anyway, so they are pulled
once and each comparison slices them (fit_casemix puts the rows in a canonical order, so nothing
depends on the order the backend returns them in).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis
import pandas as pd
from ibis.backends import BaseBackend

from carevalue.definitions.condition import ConditionTemplate

# outcome_values columns a comparison reads (engine/outcome_comparison.py)
VALUE_READS = ("condition", "measure", "time_point", "scale", "cycle_id", "organization_id",
               "value", "event", "time_days", "censored")


@dataclass
class ModelFrames:
    """Outcome rows of some templates and their case-mix variables, in pandas."""

    values: dict[tuple[str, str], pd.DataFrame]
    wides: dict[str, tuple[pd.DataFrame | None, set[str]]] = field(default_factory=dict)

    @classmethod
    def fetch(cls, con: BaseBackend, templates: Sequence[ConditionTemplate]) -> ModelFrames:
        """Pull the rows of every measure of ``templates`` (three queries in all)."""
        ids = sorted({t.id for t in templates})
        v = con.table("outcome_values")
        v = v.filter(v.condition.isin(ids)).select(*VALUE_READS)
        values = v.to_pandas()
        by = {k: g.reset_index(drop=True) for k, g in values.groupby(["condition", "measure"], sort=False)}
        return cls(by, _casemix_wides(con, ids))

    def rows(self, condition: str, measure: str) -> pd.DataFrame:
        got = self.values.get((condition, measure))
        return got if got is not None else pd.DataFrame(columns=list(VALUE_READS))

    def measure_rows(self, tpls: Sequence[ConditionTemplate], measure: str
                     ) -> tuple[pd.DataFrame, list[str], set[str], list[str]]:
        """Rows of one measure for one or several templates (pooled) with the case-mix variables the
        measure names in every template: (rows, variables, categorical, notes), as
        ``outcomes.measure_rows`` builds them in the backend."""
        notes: list[str] = []
        common: list[str] | None = None
        for tpl in tpls:
            m = next(x for x in tpl.outcomes if x.id == measure)
            wide, _text_vars = self.wides.get(tpl.id, (None, set()))
            avail = [x for x in m.case_mix if wide is not None and x in wide.columns]
            missing = [x for x in m.case_mix if x not in avail]
            if missing:
                notes.append(f"{tpl.id}: case-mix variables not available: {', '.join(missing)}")
            common = avail if common is None else [x for x in common if x in avail]
        variables = common or []
        text_vars: set[str] = set()
        for tpl in tpls:
            text_vars |= self.wides.get(tpl.id, (None, set()))[1] & set(variables)
        parts = []
        for tpl in tpls:
            part = self.rows(tpl.id, measure)
            wide = self.wides.get(tpl.id, (None, set()))[0]
            if wide is not None and variables:
                part = part.merge(wide[variables], left_on="cycle_id", right_index=True, how="left")
            parts.append(part)
        rows = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        for x in variables:
            rows[x] = _as_text(rows[x]) if x in text_vars else pd.to_numeric(rows[x]).astype("float64")
        if len(tpls) > 1:
            rows["pooled_condition"] = rows["condition"]
            variables = [*variables, "pooled_condition"]
            text_vars.add("pooled_condition")
        return rows, variables, text_vars, notes


def _as_text(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s):  # a variable numeric in one pooled template, text in another
        return s.map(lambda x: None if pd.isna(x) else str(x)).astype(object)
    return s.astype(object).where(s.notna(), None)


def _casemix_wides(con: BaseBackend, ids: Sequence[str]) -> dict[str, tuple[pd.DataFrame | None, set[str]]]:
    """Per condition: one row per cycle (index cycle_id) with a column per case-mix variable (the
    largest value, text for the variables that only have text values) and the text variables."""
    out: dict[str, tuple[pd.DataFrame | None, set[str]]] = {c: (None, set()) for c in ids}
    if "casemix_values" not in con.list_tables():
        return out
    long = con.table("casemix_values")
    long = long.filter(long.condition.isin(list(ids)))
    kinds = long.group_by(["condition", "variable"]).aggregate(
        n_num=long.value_num.count(), n_text=long.value_text.count()).to_pandas()
    if kinds.empty:
        return out
    names = {v: i for i, v in enumerate(sorted(set(kinds["variable"])))}
    aggs = {}
    for v, i in names.items():
        hit = long.variable == v
        aggs[f"n{i}"] = ibis.cases((hit, long.value_num), else_=ibis.null().cast("float64")).max()
        aggs[f"t{i}"] = ibis.cases((hit, long.value_text), else_=ibis.null().cast("string")).max()
    pivot = long.group_by(["condition", "cycle_id"]).aggregate(**aggs).to_pandas()
    for cond, k in kinds.groupby("condition", sort=False):
        text = set(k.loc[(k.n_num == 0) & (k.n_text > 0), "variable"])
        p = pivot[pivot["condition"] == cond]
        wide = pd.DataFrame({v: p[f"{'t' if v in text else 'n'}{names[v]}"].to_numpy() for v in k["variable"]},
                            index=pd.Index(p["cycle_id"].to_numpy(), name="cycle_id"))
        out[str(cond)] = (wide, text)
    return out
