"""Tables the payment stage writes (F15-F17, F22): the per-patient value ledger (one row per patient
× care cycle with each payment model's payment), the proposed bundle prices and the episode-model
reconciliations per provider."""

from __future__ import annotations

from carevalue.model.schema import Column, Table


def _c(name: str, type_: str, doc: str, required: bool = False) -> Column:
    return Column(name, type_, doc, required)


PAYMENT_LEDGER = Table("payment_ledger", "One row per patient × care cycle: cost, charges, outcome and what each payment model pays.",
    ("cycle_id",), (
    _c("cycle_id", "VARCHAR", "Care cycle (care_cycles / cycle_cost_totals).", True),
    _c("patient_id", "VARCHAR", "Patient.", True),
    _c("condition", "VARCHAR", "Condition template or primary-care segment of the cycle."),
    _c("cycle_type", "VARCHAR", "acute, chronic or segment."),
    _c("organization_id", "VARCHAR", "Provider the cycle is attributed to."),
    _c("year", "BIGINT", "Year of the index date (segment cycles: the segment year)."),
    _c("cost", "DOUBLE", "True TDABC cost of the cycle, plus warranty events after it (cycle_cost_totals)."),
    _c("charges", "DOUBLE", "What fee-for-service pays for the cycle: claim charges + facility payments."),
    _c("professional_charges", "DOUBLE", "Charges of the cycle's claims (professional fee schedule)."),
    _c("facility_payment", "DOUBLE", "Facility payments of the cycle's encounters: MS-DRG per admission, APC per outpatient service (content/fee-schedules)."),
    _c("facility_codes", "VARCHAR", "The DRGs and APCs paid, e.g. 'DRG 470; DRG 863'."),
    _c("asa", "DOUBLE", "ASA class used for bundle eligibility, where the template measures it."),
    _c("hcc_score", "DOUBLE", "CMS-HCC V24 score of the patient."),
    _c("complication", "DOUBLE", "1 if the bundle's complication measure recorded an event, 0 if not, null if not measured."),
    _c("ffs_paid", "DOUBLE", "Fee-for-service payment: claim charges + facility payments, plus warranty events after the cycle."),
    _c("bundle_id", "VARCHAR", "Bundle paying the cycle (null: not eligible or no bundle)."),
    _c("bundle_eligible", "BOOLEAN", "Whether the cycle met the bundle's eligibility (null: no bundle for the condition)."),
    _c("bundle_ineligible_reason", "VARCHAR", "Why a cycle of the bundle's conditions is paid fee-for-service: ASA class above the limit or not recorded, an eligibility-excluding diagnosis."),
    _c("bundle_price", "DOUBLE", "Risk-adjusted bundle price of the cycle."),
    _c("exclusions", "VARCHAR", "Bundle exclusions (ids) that carved care inside the window out of the bundle, e.g. unrelated-trauma."),
    _c("excluded_care_paid", "DOUBLE", "Fee-for-service payment for the carved-out care, paid beside the price."),
    _c("prom_improvement", "DOUBLE", "PROM-contingent term: follow-up − baseline score of the term's instrument (null: not both scored)."),
    _c("prom_reached", "BOOLEAN", "Whether the improvement reached the term's threshold (null: not measured)."),
    _c("prom_adjustment", "DOUBLE", "What the PROM-contingent term adds (+ bonus) or keeps back (− withhold) of the price, when applied."),
    _c("bundle_outlier", "DOUBLE", "Stop-loss (outlier) payment on top of the price."),
    _c("bundle_paid", "DOUBLE", "Payment under the bundle: price + outlier + care outside the bundle (after the window, excluded care) at FFS; ineligible cycles FFS."),
    _c("warranty_cost_provider", "DOUBLE", "Cost of warranty-covered events the provider bears without payment."),
    _c("warranty_paid_by_payer", "DOUBLE", "Charges of warranty-type events beyond the warranty, paid by the payer."),
    _c("complication_care_cost", "DOUBLE", "TDABC cost of the cycle's complication care: its encounters from day 1 after the index date with a complication diagnosis or a revision (the bundle's complication_care code sets)."),
    _c("complication_care_paid", "DOUBLE", "What fee-for-service pays for that complication care (claim charges + facility payments)."),
    _c("bundle_complication_paid", "DOUBLE", "What the bundle pays for it beyond the price: complication care after the window at FFS, except warranty-covered events."),
    _c("pac_complication_paid", "DOUBLE", "What the PAC-allowance case rate pays for it beyond the price: complication care after its window at FFS."),
    _c("warranty_price_complication_paid", "DOUBLE", "What the warranty price pays for it beyond the price: complication care after its window at FFS."),
    _c("pac_price", "DOUBLE", "PROMETHEUS-style case rate of the cycle: (typical cost + PAC allowance) × margin × risk factor."),
    _c("pac_paid", "DOUBLE", "Payment under the PAC-allowance case rate: price + stop-loss + care after its window at FFS; ineligible cycles FFS."),
    _c("warranty_price", "DOUBLE", "ProvenCare-style fixed price of the cycle (typical cost + share of complication cost in its window)."),
    _c("warranty_price_paid", "DOUBLE", "Payment under the warranty price: price + care after its window at FFS; ineligible cycles FFS."),
    _c("tb_paid", "DOUBLE", "Time-based payment (per member per period); FFS where no rate applies."),
    _c("capitation_paid", "DOUBLE", "Condition capitation: the condition's mean cycle cost × the patient's HCC factor."),
    _c("episode_model", "VARCHAR", "CMS episode model reconciling the cycle, if any."),
    _c("episode_target", "DOUBLE", "The cycle's risk-adjusted episode target price."),
    _c("episode_reconciliation", "DOUBLE", "The cycle's share of its provider's reconciliation payment (+) or repayment (−)."),
    _c("episode_paid", "DOUBLE", "FFS payment plus the reconciliation share."),
), stage="payment")

BUNDLE_PRICES = Table("bundle_prices", "Proposed price per bundle: expected included cost + warranty reserve + margin.", ("bundle_id",), (
    _c("bundle_id", "VARCHAR", "Bundle.", True),
    _c("cycles", "BIGINT", "Eligible cycles the price is estimated from."),
    _c("expected_included_cost", "DOUBLE", "Mean TDABC cost of the included services."),
    _c("warranty_reserve", "DOUBLE", "Mean cost of warranty-covered events after the bundle window."),
    _c("margin", "DOUBLE", "Margin, a fraction."),
    _c("proposed_price", "DOUBLE", "(expected cost + reserve) × (1 + margin)."),
    _c("reference_price", "DOUBLE", "Published price, when public."),
    _c("p10", "DOUBLE", "10th percentile of included cost + covered events per cycle."),
    _c("p50", "DOUBLE", "Median."),
    _c("p90", "DOUBLE", "90th percentile."),
    _c("status", "VARCHAR", "ok, or why the price is not estimable."),
    _c("ineligible_cycles", "BIGINT", "Cycles of the bundle's conditions paid fee-for-service instead (ASA class, eligibility exclusions)."),
    _c("eligibility_excluded_cycles", "BIGINT", "Of those, cycles excluded for an eligibility-excluding diagnosis."),
    _c("carved_out_cycles", "BIGINT", "Eligible cycles with excluded care (e.g. unrelated trauma) paid fee-for-service beside the price."),
), stage="payment")

EPISODE_RECONCILIATION = Table("episode_reconciliation", "CMS episode-model reconciliation per provider and episode category.",
    ("model", "category", "organization_id"), (
    _c("model", "VARCHAR", "Episode model (content/episode-models).", True),
    _c("category", "VARCHAR", "Episode category.", True),
    _c("track", "VARCHAR", "Track whose limits applied."),
    _c("organization_id", "VARCHAR", "Hospital.", True),
    _c("episodes", "BIGINT", "Episodes reconciled."),
    _c("target", "DOUBLE", "Sum of the episodes' target prices."),
    _c("spending", "DOUBLE", "FFS spending within anchor + post-anchor days."),
    _c("raw", "DOUBLE", "target − spending."),
    _c("quality", "DOUBLE", "Quality score 0-1 (rank of the complication rate among providers)."),
    _c("quality_adjusted", "DOUBLE", "Amount after the quality adjustment."),
    _c("reconciliation", "DOUBLE", "Amount paid (+) or repaid (−) after stop-gain / stop-loss."),
    _c("limit_applied", "VARCHAR", "stop-gain, stop-loss or empty."),
), stage="payment")

TABLES: tuple[Table, ...] = (PAYMENT_LEDGER, BUNDLE_PRICES, EPISODE_RECONCILIATION)
