"""Minimum-volume standards checked against the store: which organizations, sites and clinicians
fall below each published minimum, by year, and, under a prognosis rule (G-BA), whether the unit
may perform the procedure the following year.

Each scheme is compared on the period it states: the calendar year's count (G-BA), or that count or
the two-year annual average (Leapfrog). A year the store observes only in part is not judged below
the minimum on its partial count: ``meets`` is null there and the annualised volume is shown."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from carevalue.definitions.standard import VolumeStandard

CHECK_COLUMNS = ("standard", "authority", "threshold", "procedure", "condition", "level", "unit_id",
                 "organization_id", "year", "cycles", "patients", "observed_months", "annualised_cycles",
                 "two_year_average", "minimum", "meets", "basis", "shortfall", "prognosis", "next_year_minimum",
                 "permitted_next_year", "prognosis_rolling_cycles", "source")
_SCHEMA = {"standard": "string", "authority": "string", "threshold": "string", "procedure": "string",
           "condition": "string", "level": "string", "minimum": "int64", "valid_from": "int64",
           "valid_to": "int64", "prognosis": "boolean", "rolling": "boolean", "two_year": "boolean",
           "source": "string"}


def threshold_table(standards: Sequence[VolumeStandard]) -> ir.Table:
    """One row per threshold and condition template it counts (thresholds with none are skipped)."""
    rows = [{"standard": s.id, "authority": s.authority, "threshold": t.id, "procedure": t.procedure,
             "condition": c, "level": t.level, "minimum": t.minimum, "valid_from": t.valid_from,
             "valid_to": t.valid_to, "prognosis": s.prognosis is not None,
             "rolling": bool(s.prognosis and s.prognosis.rolling_quarters),
             "two_year": s.period == "calendar-year-or-two-year-average", "source": t.source}
            for s in standards for t in s.thresholds for c in t.conditions]
    return ibis.memtable(rows, schema=_SCHEMA)


def unchecked(standards: Sequence[VolumeStandard]) -> list[str]:
    """Thresholds no condition template maps to, for the stage's notes."""
    return [f"{s.id}/{t.id} ({t.procedure})" for s in standards for t in s.thresholds if not t.conditions]


def _in_force(t: ir.Table, year: ir.Value) -> ir.Value:
    return (t.valid_from.isnull() | (year >= t.valid_from)) & (t.valid_to.isnull() | (year <= t.valid_to))


def _full(months: ir.Value) -> ir.Value:
    """The year is fully observed (or its window unknown, when the count is taken as recorded)."""
    return months.isnull() | (months >= 12)


def check(vol: ir.Table, thresholds: ir.Table) -> ir.Table:
    """Each unit-year's volume against every threshold in force that year for its condition and level.

    ``meets``: cycles >= minimum, or for two-year schemes (cycles + last year's) / 2 >= minimum when
    both years are fully observed (``basis`` says which); null for a part year whose count is below
    the minimum. ``permitted_next_year`` (prognosis rules only): a fully observed year's count reaches
    the minimum in force the next year; ``prognosis_rolling_cycles`` = second half of the year + first
    half of the next (null when the next year has no row or is not fully observed in its first half).
    """
    th = thresholds
    v = vol
    for c, t in (("observed_months", "int64"), ("annualised_cycles", "float64"),
                 ("cycles_first_half", "int64"), ("cycles_second_half", "int64")):
        if c not in v.columns:
            v = v.mutate(**{c: ibis.null(t)})
    keys = ("condition", "level", "unit_id")
    other = v.select(*[v[k].name(f"o_{k}") for k in keys], o_year=v.year, o_cycles=v.cycles,
                     o_months=v.observed_months, o_first=v.cycles_first_half)
    prev = v.left_join(other, [*(v[k] == other[f"o_{k}"] for k in keys), v.year - 1 == other.o_year])
    v = prev.select(*[v[c] for c in v.columns], p_cycles=prev.o_cycles, p_months=prev.o_months)
    other2 = other.view()
    nxt = v.left_join(other2, [*(v[k] == other2[f"o_{k}"] for k in keys), v.year + 1 == other2.o_year])
    v = nxt.select(*[v[c] for c in v.columns], n_first=nxt.o_first, n_months=nxt.o_months)
    t2 = th.rename(t_condition="condition", t_level="level")
    j = v.join(t2, [v.condition == t2.t_condition, v.level == t2.t_level])
    j = j.filter(_in_force(j, j.year))
    nxt_t = th.select(n_standard=th.standard, n_procedure=th.procedure, n_condition=th.condition,
                      n_level=th.level, n_minimum=th.minimum, n_from=th.valid_from, n_to=th.valid_to)
    k = j.left_join(nxt_t, [j.standard == nxt_t.n_standard, j.procedure == nxt_t.n_procedure,
                            j.condition == nxt_t.n_condition, j.level == nxt_t.n_level,
                            nxt_t.n_from.isnull() | (j.year + 1 >= nxt_t.n_from),
                            nxt_t.n_to.isnull() | (j.year + 1 <= nxt_t.n_to)])
    full = _full(k.observed_months)
    avg = ibis.ifelse(k.two_year & full & k.p_cycles.notnull() & _full(k.p_months),
                      (k.cycles + k.p_cycles.fill_null(0)).cast("float64") / 2, ibis.null("float64"))
    by_year = k.cycles >= k.minimum
    by_avg = avg.notnull() & (avg >= k.minimum.cast("float64"))
    meets = ibis.ifelse(by_year | by_avg, True, ibis.ifelse(full, False, ibis.null("boolean")))
    months = k.observed_months.cast("string")
    basis = ibis.cases(
        (by_year & full, "calendar year"),
        (by_year, ibis.literal("calendar year (reached in ") + months + " observed months)"),
        (by_avg, "two-year average"),
        (full, "calendar year"),
        else_=ibis.literal("not assessable: ") + months + " of 12 months observed (annualised volume shown)")
    nm = ibis.ifelse(k.prognosis, k.n_minimum, ibis.null("int64"))
    rolling = ibis.ifelse(k.rolling & k.n_first.notnull() & (k.n_months.isnull() | (k.n_months >= 6)),
                          k.cycles_second_half + k.n_first, ibis.null("int64"))
    out = k.select(
        k.standard, k.authority, k.threshold, k.procedure, k.condition, k.level, k.unit_id, k.organization_id,
        k.year, k.cycles, k.patients, k.observed_months, k.annualised_cycles, two_year_average=avg,
        minimum=k.minimum, meets=meets, basis=basis,
        shortfall=ibis.ifelse(meets, 0, ibis.greatest(k.minimum - k.cycles, 0)),
        prognosis=k.prognosis, next_year_minimum=nm,
        permitted_next_year=ibis.ifelse(nm.isnull() | ~full, ibis.null("boolean"), k.cycles >= nm),
        prognosis_rolling_cycles=rolling, source=k.source)
    return out.select(*CHECK_COLUMNS)
