"""Volume by condition: care cycles per organization, facility (site) and clinician per year, and
the national profile Porter shows for Sweden (number of providers, average share of all cycles,
average cycles per provider per year and per week)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

LEVELS = ("organization", "facility", "clinician")
WEEKS_PER_YEAR = 52.0
MONTHS_PER_YEAR = 12
VOLUME_COLUMNS = ("condition", "level", "unit_id", "organization_id", "year", "cycles", "patients",
                  "cycles_first_half", "cycles_second_half", "first_month", "last_month", "observed_months",
                  "annualised_cycles")
PROFILE_COLUMNS = ("condition", "level", "year", "providers", "total_cycles", "mean_share",
                   "mean_per_year", "mean_per_week", "min_per_year", "max_per_year")


def index_events(cycles: ir.Table, procedures: ir.Table, conditions: ir.Table,
                 encounters: ir.Table) -> ir.Table:
    """One row per care cycle: condition, year, organization, facility (location) and clinician of
    its index event. A trigger's own location/performer wins; its encounter's fill the gaps."""
    s = "string"
    p = procedures.select(tid=procedures.procedure_id, ttab=ibis.literal("procedures"),
                          enc=procedures.encounter_id, loc=procedures.location_id,
                          prac=procedures.practitioner_id)
    c = conditions.select(tid=conditions.condition_id, ttab=ibis.literal("conditions"),
                          enc=conditions.encounter_id, loc=ibis.null().cast(s), prac=ibis.null().cast(s))
    e0 = encounters.select(tid=encounters.encounter_id, ttab=ibis.literal("encounters"),
                           enc=encounters.encounter_id, loc=encounters.location_id,
                           prac=encounters.practitioner_id)
    trig = ibis.union(p, c, e0)
    e = encounters.select(enc_id=encounters.encounter_id, e_loc=encounters.location_id,
                          e_prac=encounters.practitioner_id, e_org=encounters.organization_id)
    trig = trig.left_join(e, trig.enc == e.enc_id).select(
        trig.tid, trig.ttab, loc=trig.loc.fill_null(e.e_loc), prac=trig.prac.fill_null(e.e_prac),
        org=e.e_org)
    cy = cycles
    j = cy.left_join(trig, [cy.trigger_table == trig.ttab, cy.trigger_id == trig.tid])
    when = ibis.ifelse(cy.cycle_type == "acute", cy.index_ts.fill_null(cy.start_ts), cy.start_ts)
    return j.select(
        cy.cycle_id, cy.patient_id, cy.condition,
        year=when.year().cast("int64"), month=when.month().cast("int64"),
        organization_id=cy.organization_id.fill_null(trig.org),
        facility_id=trig.loc, clinician_id=trig.prac)


def most_frequent(t: ir.Table, keys: list[str], col: str) -> ir.Table:
    """Per ``keys``, the most frequent non-null ``col`` (ties: the smallest), as ``keys + [col]``.
    A deterministic mode that compiles on every backend (ibis has no Mode rule for PySpark)."""
    f = t.filter(t[col].notnull())
    c = f.group_by([*keys, col]).aggregate(_n=f.count())
    w = ibis.window(group_by=[c[k] for k in keys], order_by=[ibis.desc(c._n), c[col]])
    r = c.mutate(_rk=ibis.row_number().over(w))
    return r.filter(r._rk == 0).select(*keys, col)


def observation_windows(encounters: ir.Table) -> ir.Table:
    """Per organization and year, the months the store observes it: from the first to the last
    calendar month with any encounter there (all conditions), ``observed_months`` inclusive."""
    e = encounters.filter(encounters.organization_id.notnull() & encounters.start_ts.notnull())
    e = e.mutate(year=e.start_ts.year().cast("int64"), month=e.start_ts.month().cast("int64"))
    g = e.group_by(["organization_id", "year"]).aggregate(first_month=e.month.min(), last_month=e.month.max())
    return g.mutate(observed_months=(g.last_month - g.first_month + 1).cast("int64"))


def volume(index: ir.Table, windows: ir.Table | None = None) -> ir.Table:
    """Cycles and distinct patients per condition, level, unit and year (units without an id are
    left out of that level: a cycle with no known clinician counts for its organization only).

    With ``windows`` (:func:`observation_windows`) each row states the months its organization was
    observed that year and ``annualised_cycles`` = cycles x 12 / observed_months (equal to cycles for
    a full year; null when the organization's window is unknown). ``cycles_first_half`` and
    ``cycles_second_half`` split the year at 1 July (the G-BA prognosis counts half years)."""
    parts = []
    for level, col in (("organization", "organization_id"), ("facility", "facility_id"),
                       ("clinician", "clinician_id")):
        t = index.filter(index[col].notnull() & index.year.notnull()).mutate(unit_id=index[col])
        keys = ["condition", "unit_id", "year"]
        agg = t.group_by(keys).aggregate(level=ibis.literal(level), cycles=t.count(),
                                         patients=t.patient_id.nunique(),
                                         cycles_first_half=ibis.ifelse(t.month <= 6, 1, 0).sum().cast("int64"),
                                         cycles_second_half=ibis.ifelse(t.month > 6, 1, 0).sum().cast("int64"))
        org = most_frequent(t, keys, "organization_id")
        j = agg.left_join(org, keys)
        parts.append(j.select(*[agg[c] for c in agg.columns], organization_id=j.organization_id))
    u = ibis.union(*parts)
    if windows is None:
        u = u.mutate(first_month=ibis.null("int64"), last_month=ibis.null("int64"),
                     observed_months=ibis.null("int64"))
    else:
        w = windows.select(w_org="organization_id", w_year="year", first_month="first_month",
                           last_month="last_month", observed_months="observed_months")
        j = u.left_join(w, [u.organization_id == w.w_org, u.year == w.w_year])
        u = j.select(*[u[c] for c in u.columns], j.first_month, j.last_month, j.observed_months)
    u = u.mutate(annualised_cycles=u.cycles.cast("float64") * MONTHS_PER_YEAR / u.observed_months.cast("float64"))
    return u.select(*VOLUME_COLUMNS)


def annualised(cycles: int, observed_months: int) -> float:
    """A part year's count scaled to twelve months: cycles x 12 / observed_months."""
    return cycles * MONTHS_PER_YEAR / observed_months


def profile(vol: ir.Table, weeks_per_year: float = WEEKS_PER_YEAR) -> ir.Table:
    """Per condition, level and year: how many units provide it and how much each does on average.

    mean_share = mean over providers of (provider's cycles / all cycles) = 1 / providers;
    mean_per_year = all cycles / providers; mean_per_week = mean_per_year / weeks_per_year.
    """
    g = vol.group_by(["condition", "level", "year"]).aggregate(
        providers=vol.count(), total_cycles=vol.cycles.sum(),
        min_per_year=vol.cycles.min(), max_per_year=vol.cycles.max())
    n, tot = g.providers.cast("float64"), g.total_cycles.cast("float64")
    share = vol.join(g, ["condition", "level", "year"]).select(
        "condition", "level", "year", s=vol.cycles.cast("float64") / g.total_cycles.cast("float64"))
    ms = share.group_by(["condition", "level", "year"]).aggregate(mean_share=share.s.mean())
    out = g.join(ms, ["condition", "level", "year"]).select(
        g.condition, g.level, g.year, g.providers, g.total_cycles, ms.mean_share,
        mean_per_year=tot / n, mean_per_week=tot / n / weeks_per_year,
        min_per_year=g.min_per_year, max_per_year=g.max_per_year)
    return out.select(*PROFILE_COLUMNS)


def display_per_week(x: float) -> str:
    """Cycles per week as the Swedish table prints it: a whole number, '<1' below one half."""
    return "<1" if x < 0.5 else str(int(x + 0.5))
