"""Outcomes stage (F9-F11): PROM scores, outcome values per care cycle with evidence, case-mix
variables, and the risk-adjusted provider comparison of every measure of every template.

Tables written: ``prom_scores`` (engine/proms.py), ``outcome_values``, ``outcome_evidence``,
``casemix_values`` and ``outcome_comparison``. All come from the templates' outcome sets and
case-mix variables; nothing here names a condition or a measure.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import ibis
import ibis.expr.types as ir
import pandas as pd
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.instrument import Instrument
from carevalue.definitions.outcome import OutcomeMeasure
from carevalue.definitions.record_rule import RecordRules
from carevalue.definitions.valueset import ValueSet
from carevalue.engine import casemix_frame, casemix_sets
from carevalue.engine.codesets import CodeMap
from carevalue.engine.outcome_comparison import (
    CALIBRATION_COLUMNS,
    COMPARISON_COLUMNS,
    compare_binary,
    compare_continuous,
    status_row,
)
from carevalue.engine.outcome_families import VALUE_TYPES, Scratch, cycles_scratch, write_outcomes
from carevalue.engine.outcome_frames import ModelFrames
from carevalue.engine.outcome_measures import EVIDENCE_COLUMNS, VALUE_COLUMNS
from carevalue.engine.record_filter import Counted, counting

# The core tables outcome values and case-mix variables read (only the records that count).
READS = ("patients", "encounters", "conditions", "procedures", "observations", "questionnaire_responses")
CONTINUOUS_CALCULATIONS = ("prom-score", "latest-value", "length-of-stay", "time-from-diagnosis")


def run_proms(con: BaseBackend, instruments: Sequence[Instrument], rules: RecordRules) -> int:
    """Score every questionnaire response that counts (``rules``) into ``prom_scores``; returns the
    row count."""
    from carevalue.engine.proms import score_proms

    have = set(con.list_tables())
    if not {"questionnaire_answers", "questionnaire_responses"} <= have:
        return 0
    out = write_table(con, "prom_scores", score_proms(con.table("questionnaire_answers"),
                                                      counting(con, "questionnaire_responses", rules),
                                                      instruments))
    return int(out.count().execute())


def _empty_frame(columns: Sequence[str], types: dict[str, str]) -> ir.Table:
    return ibis.memtable({c: [] for c in columns}, schema={c: types.get(c, "string") for c in columns})


def run_values(con: BaseBackend, templates: Sequence[ConditionTemplate],
               value_sets: Mapping[str, ValueSet] | None, rules: RecordRules,
               crosswalk: CodeMap | None = None) -> dict[str, int]:
    """Write outcome_values, outcome_evidence and casemix_values from the records that count by
    ``rules`` (the library's); code sets written in ICD-10-CM also match SNOMED CT records through
    ``crosswalk`` (the library's, None: no mapping)."""
    scratch = Scratch(con)
    try:
        return _write_values(con, counted_scratch(con, rules, crosswalk, scratch), templates, value_sets, scratch)
    finally:
        scratch.drop()


def counted_scratch(con: BaseBackend, rules: RecordRules, crosswalk: CodeMap | None, scratch: Scratch) -> Counted:
    """The store through ``rules`` with the rows of READS that count written once as scratch tables
    (what ``Counted.materialised`` does, as temporary tables where the backend has them)."""
    have = set(con.list_tables())
    written = {}
    for n in READS:
        if n in have:
            scratch.write(f"counted_{n}", counting(con, n, rules))
            written[n] = scratch.names[-1]
    return Counted(con, rules, crosswalk, written)


def _write_values(con: BaseBackend, src: Counted, templates: Sequence[ConditionTemplate],
                  value_sets: Mapping[str, ValueSet] | None, scratch: Scratch) -> dict[str, int]:
    base = cycles_scratch(src, templates, scratch)
    v, e = write_outcomes(con, src, templates, value_sets, base, scratch)
    if v is None or e is None:
        v = write_table(con, "outcome_values", _empty_frame(VALUE_COLUMNS, VALUE_TYPES))
        e = write_table(con, "outcome_evidence", _empty_frame(EVIDENCE_COLUMNS, {}))
    long, unknown = casemix_sets.casemix_long(src, templates, base, scratch)
    cm = long if long is not None else _empty_frame(casemix_frame.CASEMIX_COLUMNS, {"value_num": "float64"})
    c = write_table(con, "casemix_values", cm)
    return {"outcome_values": int(v.count().execute()), "outcome_evidence": int(e.count().execute()),
            "casemix_values": int(c.count().execute()), "casemix_unknown": len(unknown)}


def casemix_wide(con: BaseBackend, condition: str) -> tuple[ir.Table | None, set[str]]:
    """One row per cycle of the condition with a column per case-mix variable; the text (categorical) ones."""
    long = con.table("casemix_values")
    long = long.filter(long.condition == condition)
    kinds = long.group_by("variable").aggregate(n_num=long.value_num.count(),
                                                n_text=long.value_text.count()).to_pandas()
    if kinds.empty:
        return None, set()
    text = set(kinds.loc[(kinds.n_num == 0) & (kinds.n_text > 0), "variable"])
    return casemix_frame.wide(long, list(kinds["variable"]), text), text


def _higher_is_better(m: OutcomeMeasure) -> bool:
    """For binary measures the counted event is adverse (death, complication, readmission) unless
    the measure is an event-type measure whose direction says higher is better."""
    calc = m.resolved_calculation()
    if calc in ("survival", "mortality"):
        return False
    return m.direction == "higher-better"


def _outcome_variables(tpl: ConditionTemplate, m: OutcomeMeasure, label: str) -> set[str]:
    """Case-mix variables that are the measure itself at this time point (a baseline PROM cannot
    adjust the baseline PROM)."""
    if not m.instrument:
        return set()
    return {v.id for v in tpl.case_mix if v.is_prom_at(m.instrument, label)}


def measure_rows(con: BaseBackend, tpls: Sequence[ConditionTemplate], measure: str,
                 wides: dict[str, tuple[ir.Table | None, set[str]]] | None = None
                 ) -> tuple[ir.Table, list[str], set[str], list[str]]:
    """Outcome rows of one measure for one or several templates (pooled), joined to the case-mix
    variables the measure names in every template: (rows, variables, categorical, notes). When
    several templates are pooled, ``condition`` is added as a categorical case-mix variable."""
    values = con.table("outcome_values")
    parts, notes = [], []
    wides = wides or {}
    common: list[str] | None = None
    per: list[tuple[ConditionTemplate, ir.Table | None, set[str]]] = []
    for tpl in tpls:
        m = next(x for x in tpl.outcomes if x.id == measure)
        wide, text = wides.get(tpl.id) or casemix_wide(con, tpl.id)
        avail = [v for v in m.case_mix if wide is not None and v in wide.columns]
        missing = [v for v in m.case_mix if v not in avail]
        if missing:
            notes.append(f"{tpl.id}: case-mix variables not available: {', '.join(missing)}")
        common = avail if common is None else [v for v in common if v in avail]
        per.append((tpl, wide, text))
    variables = common or []
    text_vars: set[str] = set()
    for tpl, wide, text in per:
        v = values.filter((values.condition == tpl.id) & (values.measure == measure))
        text_vars |= text & set(variables)
        if wide is not None and variables:
            w = wide.select("cycle_id", *variables).rename(_wc="cycle_id")
            v = v.left_join(w, v.cycle_id == w._wc).drop("_wc")
        parts.append(v)
    rows = ibis.union(*parts) if len(parts) > 1 else parts[0]
    if variables:
        rows = rows.mutate(**{x: rows[x].cast("string" if x in text_vars else "float64") for x in variables})
    if len(tpls) > 1:
        rows = rows.mutate(pooled_condition=rows.condition)
        variables = [*variables, "pooled_condition"]
        text_vars.add("pooled_condition")
    return rows, variables, text_vars, notes


def compare_rows(rows: pd.DataFrame | ir.Table, key: dict[str, object], m: OutcomeMeasure, tp_day: int,
                 variables: Sequence[str], text_vars: set[str], notes: Sequence[str]) -> pd.DataFrame:
    """Comparison of one measure / time point / scale from its rows (never raises)."""
    categorical = sorted(text_vars & set(variables))
    try:
        if m.resolved_calculation() in CONTINUOUS_CALCULATIONS:
            table = compare_continuous(rows, key, variables, categorical, m.direction == "higher-better")
        else:
            table = compare_binary(rows, key, variables, categorical, _higher_is_better(m), float(tp_day))
    except Exception as exc:  # one measure never stops the run; the row says why
        table = status_row(key, "error", f"comparison failed: {type(exc).__name__}: {exc}")
    if notes:
        table["message"] = table["message"].fillna("").astype(str) + "; " + "; ".join(notes)
    return table


def compare_measure(con: BaseBackend, tpls: Sequence[ConditionTemplate], measure: str,
                    time_points: Sequence[str] | None = None,
                    frames: ModelFrames | None = None) -> pd.DataFrame:
    """Comparison tables of one measure (per time point and PROM scale) for one template, or for
    several templates pooled (condition ids joined with '+'). ``frames``: the model frames already
    fetched for these templates (run_comparison fetches them once for every measure)."""
    frames = frames or ModelFrames.fetch(con, tpls)
    rows, variables, text_vars, notes = frames.measure_rows(tpls, measure)
    m = next(x for x in tpls[0].outcomes if x.id == measure)
    condition = "+".join(t.id for t in tpls)
    scales: list[str | None] = [*sorted({s for s in rows["scale"] if isinstance(s, str)})] or [None]
    by_tp = {str(k): g for k, g in rows.groupby("time_point", sort=False)}
    out = []
    for tp in m.time_points:
        if time_points and tp.label not in time_points:
            continue
        own = set().union(*(_outcome_variables(t, m, tp.label) for t in tpls))
        use = [v for v in variables if v not in own]
        extra = [f"{', '.join(sorted(own))} left out (the measure itself)"] if own & set(variables) else []
        r_tp = by_tp.get(tp.label, rows.iloc[0:0])
        for scale in scales:
            key: dict[str, object] = {"condition": condition, "measure": m.id, "time_point": tp.label, "scale": scale}
            r = r_tp if scale is None else r_tp[r_tp["scale"] == scale]
            out.append(compare_rows(r, key, m, tp.day, use, text_vars, [*notes, *extra]))
    calibration = [r for t in out for r in calibration_records(t)]
    table = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=COMPARISON_COLUMNS)
    # records, not a frame: pandas compares attrs when concatenating tables
    table.attrs["calibration"] = calibration
    return table


def calibration_records(table: pd.DataFrame) -> list[dict[str, object]]:
    """Observed vs expected by decile of predicted risk for one comparison (what a calibration plot
    draws) as records of CALIBRATION_COLUMNS, from the deciles the comparison kept; none without a model."""
    deciles = table.attrs.get("deciles") or ()
    if not deciles or table.empty:
        return []
    first = table.iloc[0]
    keys = {c: first[c] for c in ("condition", "measure", "time_point", "scale", "validation")}
    names = ("decile", "n", "observed", "expected", "mean_predicted")
    return [{c: ({**keys, **dict(zip(names, d, strict=True))})[c] for c in CALIBRATION_COLUMNS} for d in deciles]


def run_comparison(con: BaseBackend, templates: Sequence[ConditionTemplate]) -> pd.DataFrame:
    """Compare providers on every measure and write ``outcome_comparison``."""
    frames: list[pd.DataFrame] = []
    calibration: list[pd.DataFrame] = []
    model_frames = ModelFrames.fetch(con, templates)  # every measure's rows, in three queries
    for tpl in templates:
        for m in tpl.outcomes:
            t = compare_measure(con, [tpl], m.id, frames=model_frames)
            frames.append(t)
            calibration.append(pd.DataFrame(t.attrs.get("calibration", []), columns=CALIBRATION_COLUMNS))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COMPARISON_COLUMNS)
    table = table.astype({c: "float64" for c in COMPARISON_FLOATS})
    table = table.astype({c: "Int64" for c in ("at_risk", "parameters")})
    for c in COMPARISON_COLUMNS:
        if table[c].dtype == object:
            table[c] = table[c].astype("string")
    write_table(con, "outcome_comparison", ibis.memtable(table))
    cal = pd.concat([c for c in calibration if not c.empty] or [pd.DataFrame(columns=CALIBRATION_COLUMNS)],
                    ignore_index=True)
    cal = cal.astype({"decile": "int64", "n": "int64", "observed": "float64", "expected": "float64",
                      "mean_predicted": "float64"})
    for c in ("condition", "measure", "time_point", "scale", "validation"):
        cal[c] = cal[c].astype("string")
    write_table(con, "outcome_calibration", ibis.memtable(cal))
    return table


COMPARISON_FLOATS = ("n", "observed", "expected", "oe", "ci_low", "ci_high", "ci_low_998", "ci_high_998",
                     "observed_rate", "adjusted_rate", "shrunk_oe", "events", "c_statistic", "c_low",
                     "c_high", "calibration", "calibration_intercept", "calibration_slope", "phi")


def outcome_trend(con: BaseBackend, tpls: Sequence[ConditionTemplate], measure: str, time_point: str,
                  period: str = "year", scale: str | None = None) -> pd.DataFrame:
    """The measure by period of the cycles' anchor (year/quarter/month) per provider: n and the rate
    (binary, Wilson CI) or mean (continuous, t CI). Crude: no case-mix adjustment."""
    from carevalue.engine.risk.trend import measure_by_period

    v = con.table("outcome_values")
    v = v.filter(v.condition.isin([t.id for t in tpls]) & (v.measure == measure) & (v.time_point == time_point))
    if scale is not None:
        v = v.filter(v.scale == scale)
    m = next(x for x in tpls[0].outcomes if x.id == measure)
    kind = "mean" if m.resolved_calculation() in CONTINUOUS_CALCULATIONS else "proportion"
    return measure_by_period(v, "anchor_ts", "value", kind=kind, period=period,  # type: ignore[arg-type]
                             by=["organization_id"])
