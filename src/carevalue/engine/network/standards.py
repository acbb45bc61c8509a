"""Minimum-volume standards checked against the store: which organizations, sites and clinicians
fall below each published minimum, by year, and, under a prognosis rule (G-BA), whether the unit
may perform the procedure the following year."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from carevalue.definitions.standard import VolumeStandard

CHECK_COLUMNS = ("standard", "authority", "threshold", "procedure", "condition", "level", "unit_id",
                 "organization_id", "year", "cycles", "patients", "minimum", "meets", "shortfall",
                 "prognosis", "next_year_minimum", "permitted_next_year", "source")
_SCHEMA = {"standard": "string", "authority": "string", "threshold": "string", "procedure": "string",
           "condition": "string", "level": "string", "minimum": "int64", "valid_from": "int64",
           "valid_to": "int64", "prognosis": "boolean", "source": "string"}


def threshold_table(standards: Sequence[VolumeStandard]) -> ir.Table:
    """One row per threshold and condition template it counts (thresholds with none are skipped)."""
    rows = [{"standard": s.id, "authority": s.authority, "threshold": t.id, "procedure": t.procedure,
             "condition": c, "level": t.level, "minimum": t.minimum, "valid_from": t.valid_from,
             "valid_to": t.valid_to, "prognosis": s.prognosis is not None, "source": t.source}
            for s in standards for t in s.thresholds for c in t.conditions]
    return ibis.memtable(rows, schema=_SCHEMA)


def unchecked(standards: Sequence[VolumeStandard]) -> list[str]:
    """Thresholds no condition template maps to, for the stage's notes."""
    return [f"{s.id}/{t.id} ({t.procedure})" for s in standards for t in s.thresholds if not t.conditions]


def _in_force(t: ir.Table, year: ir.Value) -> ir.Value:
    return (t.valid_from.isnull() | (year >= t.valid_from)) & (t.valid_to.isnull() | (year <= t.valid_to))


def check(vol: ir.Table, thresholds: ir.Table) -> ir.Table:
    """Each unit-year's volume against every threshold in force that year for its condition and level.

    ``permitted_next_year`` (prognosis rules only): the year's volume reaches the minimum in force
    the next year; null where the scheme has no prognosis rule or no minimum is set for next year.
    """
    th = thresholds
    j = vol.join(th, [vol.condition == th.condition, vol.level == th.level])
    j = j.filter(_in_force(th, vol.year)).select(
        th.standard, th.authority, th.threshold, th.procedure, vol.condition, vol.level, vol.unit_id,
        vol.organization_id, vol.year, vol.cycles, vol.patients, th.minimum, th.prognosis, th.source)
    nxt = th.select(n_standard=th.standard, n_procedure=th.procedure, n_condition=th.condition,
                    n_level=th.level, n_minimum=th.minimum, n_from=th.valid_from, n_to=th.valid_to)
    k = j.left_join(nxt, [j.standard == nxt.n_standard, j.procedure == nxt.n_procedure,
                          j.condition == nxt.n_condition, j.level == nxt.n_level,
                          nxt.n_from.isnull() | (j.year + 1 >= nxt.n_from),
                          nxt.n_to.isnull() | (j.year + 1 <= nxt.n_to)])
    nm = ibis.ifelse(k.prognosis, k.n_minimum, ibis.null("int64"))
    out = k.select(
        *[k[c] for c in j.columns if c not in ("prognosis", "source")], k.prognosis,
        next_year_minimum=nm, source=k.source)
    out = out.mutate(
        meets=out.cycles >= out.minimum,
        shortfall=ibis.greatest(out.minimum - out.cycles, 0),
        permitted_next_year=ibis.ifelse(out.next_year_minimum.isnull(), ibis.null("boolean"),
                                        out.cycles >= out.next_year_minimum))
    return out.select(*CHECK_COLUMNS)
