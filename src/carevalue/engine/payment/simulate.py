"""The payment simulation (F17): what each care cycle would be paid under fee-for-service, the
bundle, a time-based payment, condition capitation and a CMS episode model, on the same cycles,
and who pays for warranty events. Works on the per-cycle money frame (engine/payment/frame.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from carevalue.definitions.bundle import Bundle, ComplicationAllowance, PromContingent
from carevalue.definitions.payment_model import EpisodeModel, TimeBasedPayment
from carevalue.engine.payment.episode import reconcile, target_price, weighted_baseline
from carevalue.engine.payment.pricing import MIN_CYCLES, PERCENTILES, Price, propose, risk_factor
from carevalue.engine.payment.timebased import time_based


@dataclass(frozen=True)
class Options:
    """The knobs an analyst turns: margin, warranty length, stop-loss, episode track, quality."""

    margin: float | None = None            # None = each bundle's own
    warranty_years: float | None = None    # None = the bundle's; overrides years and extended years
    stop_loss_threshold: float | None = None
    use_reference_price: bool = False      # pay the published price instead of the proposed one
    episode_track: str | None = None       # None = the model's last (most two-sided) track
    capitation_margin: float = 0.0
    facility_payments: bool = True        # False: fee-for-service pays the claim charges only
    prom_contingent: bool | None = None   # None = each bundle's own (its term's `active`)


@dataclass
class Result:
    ledger: pd.DataFrame
    prices: list[Price] = field(default_factory=list)
    reconciliations: list[dict[str, object]] = field(default_factory=list)


def settle_warranty(events: pd.DataFrame, window_days: int, warranty_years: float | None = None) -> pd.DataFrame:
    """Split warranty events into the provider's (covered: within the warranty, after the bundle
    window) and the payer's (beyond the warranty: paid fee-for-service). One row per cycle."""
    if events.empty:
        return pd.DataFrame(columns=["cycle_id", "covered_cost", "covered_charges_in_cycle",
                                     "uncovered_charges_out", "out_cost", "out_charges", "warranty_events"])
    e = _settle_events(events, window_days, warranty_years)
    cols = list(WARRANTY_SUMS)
    return e.groupby("cycle_id", as_index=False)[cols].sum()


WARRANTY_SUMS = ("covered_cost", "covered_charges_in_cycle", "uncovered_charges_out", "out_cost", "out_charges",
                 "warranty_events")


def _settle_by_position(led: pd.DataFrame, warranty: pd.DataFrame, rows: pd.Series, window_days: int,
                        warranty_years: float | None) -> pd.DataFrame:
    """:func:`settle_warranty` summed onto the ledger's rows (0 where a cycle has no event), the
    events matched to rows by position (``warranty["_pos"]``, set once in :func:`simulate`) instead
    of re-indexing millions of string ids."""
    n = len(led)
    out = pd.DataFrame({c: np.zeros(n) for c in WARRANTY_SUMS}, index=led.index)
    if warranty.empty:
        return out
    pos = warranty["_pos"].to_numpy()
    keep = (pos >= 0) & rows.to_numpy()[np.maximum(pos, 0)]
    ev = warranty[keep]
    if ev.empty:
        return out
    settled = _settle_events(ev, window_days, warranty_years)
    where = ev["_pos"].to_numpy()
    for c in WARRANTY_SUMS:
        out[c] = np.bincount(where, weights=settled[c].to_numpy(dtype="float64"), minlength=n)
    return out


def _settle_events(events: pd.DataFrame, window_days: int, warranty_years: float | None) -> pd.DataFrame:
    """Per warranty event: what the provider covers and what the payer pays (see settle_warranty)."""
    e = events.copy()
    limit = np.where(e["extended"].astype(bool), e["extended_days"], e["covered_days"]).astype("float64")
    if warranty_years is not None:
        limit = np.full(len(e), warranty_years * 365.25)
    after_window = e["day"] > window_days
    covered = after_window & (e["day"] <= limit)
    inside = e["in_cycle"].astype(bool)
    e["covered_cost"] = np.where(covered, e["cost"], 0.0)
    e["covered_charges_in_cycle"] = np.where(covered & inside, e["charges"], 0.0)
    e["uncovered_charges_out"] = np.where(~covered & ~inside, e["charges"], 0.0)
    e["out_cost"] = np.where(~inside, e["cost"], 0.0)
    e["out_charges"] = np.where(~inside, e["charges"], 0.0)
    e["warranty_events"] = 1
    return e


def prom_fraction(cycles: pd.DataFrame, term: PromContingent) -> pd.Series:
    """Per eligible cycle: the fraction of its price the PROM term adds (+) or keeps back (−).

    Per provider: share = patients reaching the threshold / eligible cycles (missing follow-up counts
    as not reaching) or / measured cycles (``missing: excluded``); fraction = −withhold + withhold ×
    min(share / target_share, 1) + bonus × max(0, (share − target_share) / (1 − target_share)).
    Fewer than ``min_measured`` measured patients: 0 (the term is not applied)."""
    reached = cycles["prom_reached"] if "prom_reached" in cycles else pd.Series(np.nan, index=cycles.index)
    out = pd.Series(0.0, index=cycles.index)
    for _, idx in cycles.groupby("organization_id", observed=True).groups.items():
        r = reached.loc[idx]
        measured = int(r.notna().sum())
        if measured < term.min_measured:
            continue
        hits = int(r.eq(True).sum())
        share = hits / (len(r) if term.missing == "not-reached" else measured)
        frac = -term.withhold + term.withhold * min(share / term.target_share, 1.0)
        if term.bonus and term.target_share < 1:
            frac += term.bonus * max(0.0, (share - term.target_share) / (1 - term.target_share))
        out.loc[idx] = frac
    return out


def _ineligible_reason(led: pd.DataFrame, b: Bundle, excluded: pd.Series) -> pd.Series:
    """Why a cycle of the bundle's conditions is paid fee-for-service instead (None: eligible)."""
    asa_max = b.eligibility.asa_max
    reason = np.full(len(led), None, dtype=object)
    if asa_max is not None:
        asa = led["asa"].to_numpy(dtype="float64", na_value=np.nan)
        reason[asa > asa_max] = f"ASA class above {asa_max}"
        reason[np.isnan(asa)] = "ASA class not recorded"
    reason[excluded.to_numpy(dtype=bool)] = "excluded diagnosis (eligibility)"
    return pd.Series(reason, index=led.index)


def _allowance(led: pd.DataFrame, b: Bundle, pol: ComplicationAllowance, key: str, elig: pd.Series,
               rows: pd.Series, out_charges: pd.Series, carved_cost: pd.Series | float, carved_paid: pd.Series,
               opt: Options) -> Price | None:
    """A complication-allowance policy (PROMETHEUS-style PAC allowance, ProvenCare-style warranty
    price) on the bundle's eligible cycles: price = (mean typical cost + share × mean complication
    cost within the window) × (1 + margin) × risk factor; paid = price (+ stop-loss) + care after the
    window and beyond the cycle at FFS + carved-out care. Ineligible cycles: FFS."""
    w = pol.window_days or b.window_days
    if f"cost_w{w}" not in led:  # a frame built without the policy's window split
        return None
    included = (led[f"cost_w{w}"].astype("float64") - carved_cost).clip(lower=0.0)
    pac = np.minimum(led[f"comp_cost_w{w}"].astype("float64"), included) if f"comp_cost_w{w}" in led else \
        pd.Series(0.0, index=led.index)
    typical = included - pac
    m = opt.margin if opt.margin is not None else pol.margin if pol.margin is not None else b.pricing.margin
    n = int(elig.sum())
    pid = f"{b.id}:{key}"
    if n < MIN_CYCLES:
        return Price(pid, n, None, None, m, None, None, {}, f"not estimable: {n} eligible cycles (< {MIN_CYCLES})")
    mean_typical, allowance = float(typical[elig].mean()), pol.allowance_share * float(pac[elig].mean())
    base = (mean_typical + allowance) * (1 + m)
    factor = _factor(led, elig, included, b)
    threshold = opt.stop_loss_threshold or b.pricing.stop_loss_threshold
    outlier: pd.Series | float = 0.0
    if pol.stop_loss and threshold:
        over = (led[f"charges_w{w}"] - carved_paid).clip(lower=0.0) - threshold
        outlier = b.pricing.stop_loss_share * over.clip(lower=0.0)
    after = np.maximum(led["charges"] - led[f"charges_w{w}"], 0.0)
    paid = base * factor + outlier + after + out_charges + carved_paid
    led.loc[elig, f"{key}_price"] = base * factor
    led.loc[elig, f"{key}_paid"] = paid[elig]
    if "comp_paid_all" in led and f"comp_paid_w{w}" in led:
        led.loc[elig, f"{key}_complication_paid"] = (led["comp_paid_all"] - led[f"comp_paid_w{w}"])[elig]
    led.loc[rows & ~elig, f"{key}_paid"] = led.loc[rows & ~elig, "ffs_paid"]
    total = (typical + pol.allowance_share * pac)[elig]
    return Price(pid, n, mean_typical, allowance, m, base, None,
                 {p: float(np.percentile(total, p)) for p in PERCENTILES}, "ok")


def _factor(led: pd.DataFrame, elig: pd.Series, cost: pd.Series, b: Bundle) -> pd.Series | float:
    """The eligible cycles' risk factors on the ledger's whole index (1.0 elsewhere), so the payment
    arithmetic runs on aligned series instead of re-aligning a subset on millions of rows."""
    if not b.pricing.risk_adjusted:
        return 1.0
    full = pd.Series(1.0, index=led.index)
    full[elig] = risk_factor(led.loc[elig, ["asa", "hcc_score"]], cost[elig]).to_numpy()
    return full


POLICIES = (("pac_allowance", "pac"), ("warranty_price", "warranty_price"))


def _bundle(led: pd.DataFrame, b: Bundle, warranty: pd.DataFrame, complications: pd.Series,
            opt: Options, policy_prices: list[Price] | None = None) -> Price | None:
    rows = led["condition"].isin(b.conditions)
    if not rows.any():
        return None
    w = b.window_days
    excluded = led["eligibility_excluded"].astype(bool) if "eligibility_excluded" in led else \
        pd.Series(False, index=led.index)
    reason = _ineligible_reason(led, b, excluded)
    elig = rows & reason.isna()
    ws = _settle_by_position(led, warranty, rows, w, opt.warranty_years)
    carved_cost = led["excluded_cost"].astype("float64") if "excluded_cost" in led else 0.0
    carved_paid = led["excluded_charges"].astype("float64") if "excluded_charges" in led else \
        pd.Series(0.0, index=led.index)
    # Carved-out care (an exclusion inside the window) is neither priced nor covered by the price.
    included = (led[f"cost_w{w}"].astype("float64") - carved_cost).clip(lower=0.0)
    reserve = ws["covered_cost"]
    price = propose(b, included.where(elig), reserve.where(elig), opt.margin)
    price = replace(price, ineligible=int((rows & ~elig).sum()), eligibility_excluded=int((rows & excluded).sum()),
                    carved_out=int((elig & (carved_paid > 0)).sum()))
    base = b.reference_price if opt.use_reference_price and b.reference_price else price.proposed_price
    led.loc[rows, "bundle_eligible"] = elig[rows]
    led.loc[rows & ~elig, "bundle_ineligible_reason"] = reason[rows & ~elig]
    if base is None:
        return price
    factor = _factor(led, elig, included + reserve, b)
    threshold = opt.stop_loss_threshold or b.pricing.stop_loss_threshold
    window_ffs = led[f"charges_w{w}"]
    in_window_ffs = (window_ffs - carved_paid).clip(lower=0.0)
    outlier = (b.pricing.stop_loss_share * np.maximum(in_window_ffs - threshold, 0.0)) if threshold else 0.0
    after_window_ffs = np.maximum(led["charges"] - window_ffs - ws["covered_charges_in_cycle"], 0.0)
    paid = base * factor + outlier + after_window_ffs + ws["uncovered_charges_out"] + carved_paid
    term = b.prom_contingent
    if term is not None and (opt.prom_contingent if opt.prom_contingent is not None else term.active):
        adjustment = prom_fraction(led.loc[elig, [c for c in ("organization_id", "prom_reached") if c in led]], term) * \
            pd.Series(base * factor, index=led.index)[elig]
        led.loc[elig, "prom_adjustment"] = adjustment
        paid = paid + adjustment.reindex(led.index).fillna(0.0)
    led.loc[elig, "bundle_id"] = b.id
    led.loc[elig, "bundle_price"] = base * factor
    led.loc[elig, "bundle_outlier"] = pd.Series(outlier, index=led.index)[elig] if threshold else 0.0
    led.loc[elig, "excluded_care_paid"] = carved_paid[elig]
    led.loc[elig, "bundle_paid"] = paid[elig]
    led.loc[rows, "warranty_cost_provider"] = ws.loc[rows, "covered_cost"]
    led.loc[rows, "warranty_paid_by_payer"] = ws.loc[rows, "uncovered_charges_out"]
    led.loc[rows, "cost"] = led.loc[rows, "cost"] + ws.loc[rows, "out_cost"]
    led.loc[rows, "ffs_paid"] = led.loc[rows, "ffs_paid"] + ws.loc[rows, "out_charges"]
    led.loc[rows & ~elig, "bundle_paid"] = led.loc[rows & ~elig, "ffs_paid"]
    if "comp_cost_all" in led and f"comp_paid_w{w}" in led:
        # complication care of the whole cycle; the bundle pays (FFS) only what falls after its
        # window and is not a warranty-covered event
        led.loc[rows, "complication_care_cost"] = led.loc[rows, "comp_cost_all"]
        led.loc[rows, "complication_care_paid"] = led.loc[rows, "comp_paid_all"]
        after = (led["comp_paid_all"] - led[f"comp_paid_w{w}"] - ws["covered_charges_in_cycle"]).clip(lower=0.0)
        led.loc[elig, "bundle_complication_paid"] = after[elig]
    for attr, key in POLICIES:
        pol = getattr(b, attr)
        if pol is not None:
            p = _allowance(led, b, pol, key, elig, rows, ws["out_charges"], carved_cost, carved_paid, opt)
            if p is not None and policy_prices is not None:
                policy_prices.append(p)
    return price


def _by_year(values: pd.Series, years: pd.Series) -> dict[int, float]:
    return {int(str(y)): float(v) for y, v in values.groupby(years).mean().items()}


def _episode(led: pd.DataFrame, m: EpisodeModel, quality: pd.Series, opt: Options) -> list[dict[str, object]]:
    track = m.track(opt.episode_track) if opt.episode_track else m.tracks[-1]
    out: list[dict[str, object]] = []
    d = m.post_anchor_days
    for cat in m.categories:
        rows = led["condition"].isin(cat.conditions)
        if not rows.any():
            continue
        ep = led.loc[rows, ["organization_id", "year", "asa", "hcc_score", f"charges_w{d}"]]
        spend = ep[f"charges_w{d}"]
        regional = weighted_baseline(_by_year(spend, ep["year"]), m.baseline_weights)
        factor = risk_factor(ep, spend)
        for org, grp in ep.groupby("organization_id", observed=True):
            own = weighted_baseline(_by_year(spend[grp.index], grp["year"]), m.baseline_weights)
            per = target_price(own, regional, m.hospital_blend, cat.discount)
            targets = per * factor[grp.index]
            q = float(quality.get(org, 0.5))
            r = reconcile(float(targets.sum()), float(spend[grp.index].sum()), track, q)
            share = targets / targets.sum() if targets.sum() > 0 else 1.0 / len(grp)
            led.loc[grp.index, "episode_model"] = m.id
            led.loc[grp.index, "episode_target"] = targets
            led.loc[grp.index, "episode_reconciliation"] = r.capped * share
            out.append({"model": m.id, "category": cat.id, "track": track.id, "organization_id": org,
                        "episodes": len(grp), "target": r.target, "spending": r.spending, "raw": r.raw,
                        "quality": q, "quality_adjusted": r.quality_adjusted, "reconciliation": r.capped,
                        "limit_applied": r.limit_applied})
    led["episode_paid"] = led["ffs_paid"] + led["episode_reconciliation"].fillna(0.0)
    return out


def quality_scores(complications: pd.DataFrame) -> pd.Series:
    """0-1 per provider from its complication rate: the best provider 1, the worst 0 (0.5 if alone)."""
    if complications.empty:
        return pd.Series(dtype="float64")
    rate = complications.groupby("organization_id")["event"].mean()
    if len(rate) < 2 or rate.max() == rate.min():
        return pd.Series(0.5, index=rate.index)
    return 1 - (rate - rate.min()) / (rate.max() - rate.min())


def simulate(cycles: pd.DataFrame, warranty: pd.DataFrame, bundles: Sequence[Bundle],
             time_based_payment: TimeBasedPayment | None, episode_model: EpisodeModel | None,
             complications: pd.DataFrame, opt: Options | None = None) -> Result:
    """One ledger row per cycle with every model's payment; prices and reconciliations beside."""
    opt = opt or Options()
    led = cycles.copy(deep=False)  # copy-on-write (pandas 3): the caller's frame is never changed
    # Categorical codes for the few-valued string keys and one hash of the cycle ids: the bundle,
    # episode and capitation steps group and filter millions of rows by them (restored at the end).
    originals = {c: led[c] for c in ("condition", "organization_id") if c in led}
    for c in originals:
        led[c] = originals[c].astype("category")
    cycle_index = pd.Index(led["cycle_id"])
    warranty = warranty.assign(_pos=cycle_index.get_indexer(warranty["cycle_id"]) if len(warranty) else
                               np.zeros(0, dtype="int64"))
    led["ffs_paid"] = led["charges"].astype("float64")
    for col in ("bundle_paid", "bundle_price", "bundle_outlier", "excluded_care_paid", "prom_adjustment", "warranty_cost_provider",
                "warranty_paid_by_payer", "episode_target", "episode_reconciliation", "pac_paid", "pac_price",
                "warranty_price_paid", "warranty_price", "complication_care_cost", "complication_care_paid",
                "bundle_complication_paid", "pac_complication_paid", "warranty_price_complication_paid"):
        led[col] = np.nan
    led["bundle_id"], led["bundle_eligible"], led["episode_model"] = None, None, None
    led["bundle_ineligible_reason"] = None
    comp = complications.set_index("cycle_id")["event"] if not complications.empty else pd.Series(dtype="float64")
    policy_prices: list[Price] = []
    prices = [p for b in bundles if (p := _bundle(led, b, warranty, comp, opt, policy_prices)) is not None]
    prices += policy_prices
    for key in ("bundle", "pac", "warranty_price"):
        led[f"{key}_paid"] = led[f"{key}_paid"].fillna(led["ffs_paid"])
    led["months"] = 12.0
    if time_based_payment is not None:
        tb = time_based(led, time_based_payment)
        led["tb_paid"] = tb["tb_paid"].fillna(led["ffs_paid"])
    else:
        led["tb_paid"] = led["ffs_paid"]
    mean_cost = led.groupby("condition", observed=True)["cost"].transform("mean")
    hcc_mean = led.groupby("condition", observed=True)["hcc_score"].transform("mean")
    hcc_factor = (led["hcc_score"] / hcc_mean).where(hcc_mean > 0).fillna(1.0)
    led["capitation_paid"] = mean_cost * hcc_factor * (1 + opt.capitation_margin)
    recs = _episode(led, episode_model, quality_scores(complications), opt) if episode_model else []
    if "episode_paid" not in led:
        led["episode_paid"] = led["ffs_paid"]
    complication = np.full(len(led), np.nan)
    if len(comp):
        at = cycle_index.get_indexer(comp.index)
        complication[at[at >= 0]] = comp.to_numpy(dtype="float64")[at >= 0]
    led["complication"] = complication
    for c in originals:
        led[c] = originals[c]
    return Result(led.drop(columns=["months"]), prices, recs)
