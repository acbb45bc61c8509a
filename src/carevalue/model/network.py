"""Tables the network stage writes (volume, standards, volume-value, scenarios, affiliations, IPU
assessment). ``COUNTS`` names each table's patient-count columns for small-cell suppression."""

from __future__ import annotations

from carevalue.model.schema import Column, Table

S, N, F, B = "VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN"


def _c(name: str, type_: str, doc: str) -> Column:
    return Column(name, type_, doc)


def _t(name: str, doc: str, key: tuple[str, ...], cols: tuple[Column, ...], counts: tuple[str, ...]) -> Table:
    COUNTS[name] = counts
    return Table(name, doc, key, cols, counts=counts, stage="network")


COUNTS: dict[str, tuple[str, ...]] = {}
_COND = _c("condition", S, "Condition template id.")
_YEAR = _c("year", N, "Calendar year of the cycles' index events.")
_SCEN = _c("scenario", S, "Scenario name.")

TABLES: tuple[Table, ...] = (
    _t("network_volume", "Care cycles per organization, facility (site) and clinician per year.",
       ("condition", "level", "unit_id", "year"), (
           _COND, _c("level", S, "organization, facility or clinician."), _c("unit_id", S, "Id at that level."),
           _c("organization_id", S, "Organization the unit belongs to (most cycles)."), _YEAR,
           _c("cycles", N, "Care cycles with their index event at the unit."), _c("patients", N, "Distinct patients."),
           _c("cycles_first_half", N, "Cycles with their index event January to June."),
           _c("cycles_second_half", N, "Cycles with their index event July to December."),
           _c("first_month", N, "First month (1-12) with any encounter at the organization that year."),
           _c("last_month", N, "Last month with any encounter at the organization that year."),
           _c("observed_months", N, "last_month - first_month + 1: the months the store observes the organization."),
           _c("annualised_cycles", F, "cycles x 12 / observed_months (an estimate for a part year; = cycles for a full one)."),
       ), ("cycles", "patients", "cycles_first_half", "cycles_second_half")),
    _t("network_volume_profile", "Per condition, level and year: providers and average volume (the Swedish table of seeds/000).",
       ("condition", "level", "year"), (
           _COND, _c("level", S, "organization, facility or clinician."), _YEAR,
           _c("providers", N, "Units with at least one cycle."), _c("total_cycles", N, "All cycles."),
           _c("mean_share", F, "Average share of all cycles per unit (= 1/providers)."),
           _c("mean_per_year", F, "Average cycles per unit per year."), _c("mean_per_week", F, "mean_per_year / 52."),
           _c("min_per_year", N, "Smallest unit's cycles."), _c("max_per_year", N, "Largest unit's cycles."),
       ), ("total_cycles", "min_per_year", "max_per_year")),
    _t("network_standard_checks", "Each unit-year's volume against each minimum-volume threshold in force.",
       ("standard", "threshold", "unit_id", "year"), (
           _c("standard", S, "Standard id (content/standards)."), _c("authority", S, "Publisher."),
           _c("threshold", S, "Threshold id."), _c("procedure", S, "Procedure as the standard names it."), _COND,
           _c("level", S, "organization, facility or clinician."), _c("unit_id", S, "Unit."),
           _c("organization_id", S, "Organization of the unit."), _YEAR, _c("cycles", N, "Cycles that year."),
           _c("patients", N, "Patients that year."),
           _c("observed_months", N, "Months of the year the store observes the organization."),
           _c("annualised_cycles", F, "cycles x 12 / observed_months (stated as annualised; not what the standard counts)."),
           _c("two_year_average", F, "(cycles + last year's) / 2, for schemes that accept a two-year average."),
           _c("minimum", N, "Minimum per year."),
           _c("meets", B, "Meets on the scheme's period; null for a part year below the minimum (not assessable)."),
           _c("basis", S, "What was compared: calendar year, two-year average, or why not assessable."),
           _c("shortfall", N, "Cycles missing to reach the minimum (0 when met)."),
           _c("prognosis", B, "The standard has a prognosis rule."),
           _c("next_year_minimum", N, "Minimum in force next year (prognosis rules)."),
           _c("permitted_next_year", B, "Under the prognosis rule, may perform it next year (null for a part year)."),
           _c("prognosis_rolling_cycles", N, "Second half of the year + first half of the next (G-BA prognosis quarters)."),
           _c("source", S, "Source of the threshold."),
       ), ("cycles", "patients")),
    _t("network_volume_value", "Random-effects meta-regression of outcome and cost on log2 annual volume.",
       ("condition", "target", "measure", "time_point", "scale"), (
           _COND, _c("target", S, "outcome or cost."), _c("measure", S, "Outcome measure id."),
           _c("time_point", S, "Time point."), _c("scale", S, "PROM scale."), _c("providers", N, "Providers in the fit."),
           _c("slope_per_doubling", F, "Change in the effect per doubling of volume."),
           _c("ci_low", F, "95% CI low."), _c("ci_high", F, "95% CI high."), _c("tau2", F, "Between-provider variance."),
           _c("direction", S, "higher-better or lower-better."), _c("finding", S, "What the slope says."),
           _c("status", S, "ok or not estimable."), _c("message", S, "Why not estimable."),
       ), ()),
    _t("network_scenarios", "Consolidation and phase-shift scenarios: cycles, cost, outcomes, travel, status.",
       ("scenario",), (
           _SCEN, _c("kind", S, "consolidation or phase-shift."), _COND, _YEAR,
           _c("from_units", S, "Sending organizations (comma-separated)."), _c("to_unit", S, "Receiving organization."),
           _c("phases", S, "Phases moved (phase shift)."), _c("moved_cycles", N, "Cycles moved."),
           _c("moved_minutes", F, "Resource minutes the receiver needs."), _c("cycles_before", N, "All cycles of the year before."),
           _c("cycles_after", N, "After (equal: conserved)."), _c("current_cost", F, "TDABC cost of the moved work now."),
           _c("projected_cost", F, "Projected TDABC cost at the receiver."), _c("projected_cost_low", F, "95% interval low."),
           _c("projected_cost_high", F, "95% interval high."), _c("cost_change", F, "projected - current."),
           _c("outcomes_better", N, "Measures projected better."), _c("outcomes_worse", N, "Measures projected worse."),
           _c("current_travel_km", F, "Mean km home to facility now."), _c("projected_travel_km", F, "After."),
           _c("status", S, "feasible, refused or not estimable."), _c("message", S, "Why."),
       ), ("moved_cycles", "cycles_before", "cycles_after")),
    _t("network_scenario_volumes", "Cycles per organization before and after each consolidation.",
       ("scenario", "organization_id"), (
           _SCEN, _c("organization_id", S, "Organization."), _c("cycles_before", N, "Before."), _c("cycles_after", N, "After."),
       ), ("cycles_before", "cycles_after")),
    _t("network_scenario_outcomes", "Current vs projected outcome of the moved cycles per measure.",
       ("scenario", "measure", "time_point", "scale"), (
           _SCEN, _c("measure", S, "Measure."), _c("time_point", S, "Time point."), _c("scale", S, "Scale."),
           _c("statistic", S, "O/E events or O-E mean."), _c("direction", S, "higher-better or lower-better."),
           _c("moved_cycles", N, "Cycles moved."), _c("current", F, "Rate or mean now."), _c("projected", F, "Projected."),
           _c("projected_low", F, "95% interval low."), _c("projected_high", F, "95% interval high."),
           _c("change", F, "projected - current."), _c("better", B, "Projected better."), _c("status", S, "ok or why not."),
       ), ("moved_cycles",)),
    _t("network_capacity_checks", "Minutes each scenario needs per facility and role vs unused practical capacity.",
       ("scenario", "organization_id", "role"), (
           _SCEN, _c("organization_id", S, "Facility."), _c("role", S, "Resource role."),
           _c("needed_minutes", F, "Minutes needed."), _c("unused_minutes", F, "Unused practical minutes that year."),
           _c("practical_capacity_minutes", F, "Practical capacity that year."),
           _c("utilisation_after", F, "Utilisation with the moved work."), _c("exceeds", B, "Needed > unused."),
       ), ()),
    _t("network_affiliations", "Hub-and-spoke: the IPU each community provider should affiliate with.",
       ("condition", "spoke"), (
           _COND, _YEAR, _c("spoke", S, "Community provider."), _c("hub", S, "Recommended IPU's organization."),
           _c("spoke_net_flags", N, "Spoke: measures better minus worse (95%)."), _c("hub_net_flags", N, "Hub: same."),
           _c("cycles", N, "Spoke's cycles that year."), _c("local_phases", S, "Phases that stay local."),
           _c("outcomes_better", N, "Measures projected better."), _c("outcomes_worse", N, "Projected worse."),
           _c("current_cost", F, "Cost now."), _c("projected_cost", F, "At the hub."), _c("cost_change", F, "Difference."),
           _c("current_travel_km", F, "Mean km now."), _c("projected_travel_km", F, "Mean km to the hub."),
           _c("status", S, "affiliate or no hub."), _c("message", S, "Detail."),
       ), ("cycles",)),
    _t("network_coordinates", "Every coordinate the travel distances use, with its source.",
       ("kind", "unit_id"), (
           _c("kind", S, "site (an organization's site) or postal-area (a home area's centroid)."),
           _c("unit_id", S, "Organization id (site) or postal code (postal-area)."),
           _c("location_id", S, "FHIR Location the site's position comes from (null: facts file)."),
           _c("latitude", F, "WGS84 degrees."), _c("longitude", F, "WGS84 degrees."),
           _c("source", S, "FHIR Location/<id>.position or facts file."),
       ), ()),
    _t("network_ipu_assessment", "Porter's ten IPU attributes scored 0-2 per service with the evidence.",
       ("condition", "organization_id", "attribute_no"), (
           _COND, _c("organization_id", S, "Organization."), _c("team_id", S, "Standing IPU team, if any."),
           _c("attribute_no", N, "1-10."), _c("attribute", S, "Attribute."), _c("score", N, "0, 1 or 2."),
           _c("evidence", S, "What the score rests on."), _c("basis", S, "store, facts file, or none."),
       ), ()),
)
BY_NAME = {t.name: t for t in TABLES}
