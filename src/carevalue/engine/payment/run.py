"""Run the payment simulation on a store: build the money frames, simulate, return declared tables."""

from __future__ import annotations

from dataclasses import asdict

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
from ibis.backends import BaseBackend

from carevalue.definitions.bundle import Bundle
from carevalue.definitions.loader import Library
from carevalue.definitions.payment_model import EpisodeModel
from carevalue.engine.payment.frame import money_frames
from carevalue.engine.payment.simulate import Options, Result, simulate
from carevalue.model.payment import BUNDLE_PRICES, EPISODE_RECONCILIATION, PAYMENT_LEDGER

DEFAULT_TIME_BASED = "porter-primary-care-pmpm"
DEFAULT_EPISODE_MODEL = "cms-team"


def complications(con: BaseBackend, measures: list[str], names: set[str] | None = None) -> pd.DataFrame:
    """cycle_id, organization_id, event of the bundles' complication measures (first time point).
    ``names``: the store's tables, when the caller has listed them."""
    if "outcome_values" not in (names if names is not None else set(con.list_tables())) or not measures:
        return pd.DataFrame(columns=["cycle_id", "organization_id", "event"])
    ov = con.table("outcome_values")
    ov = ov.filter(ov.measure.isin(measures) & ov.event.notnull())
    agg = ov.group_by("cycle_id", "organization_id").aggregate(event=ov.event.max().cast("float64"))
    return agg.execute()


def window_conditions(bundles: list[Bundle], episode_model: EpisodeModel | None) -> list[str]:
    """The conditions whose cycles the simulation reads day windows of: the bundles' (price, PAC
    allowance, warranty price) and the episode model's categories' (episode spending)."""
    conds = {c for b in bundles for c in b.conditions}
    if episode_model is not None:
        conds |= {c for cat in episode_model.categories for c in cat.conditions}
    return sorted(conds)


def simulate_store(con: BaseBackend, lib: Library, opt: Options | None = None,
                   time_based_id: str = DEFAULT_TIME_BASED, episode_model_id: str = DEFAULT_EPISODE_MODEL,
                   names: set[str] | None = None) -> Result:
    """Build the money frames and simulate every model; ``names``: the store's tables, if listed."""
    names = names if names is not None else set(con.list_tables())
    bundles = list(lib.kind("bundles").values())
    tb = lib.kind("time-based-payments").get(time_based_id)
    em = lib.kind("episode-models").get(episode_model_id)
    windows = [b.window_days for b in bundles] + ([em.post_anchor_days] if em else [])
    fees = list(lib.kind("fee-schedules").values()) if (opt is None or opt.facility_payments) else []
    frames = money_frames(con, list(lib.kind("conditions").values()), bundles, windows, fees, names,
                          window_conditions(bundles, em))
    comp = complications(con, [b.pricing.complication_measure for b in bundles if b.pricing.complication_measure], names)
    return simulate(frames.cycles, frames.warranty, bundles, tb, em, comp, opt)


def tables(result: Result) -> dict[str, pd.DataFrame]:
    """The result as the declared tables (columns in declared order)."""
    ledger = result.ledger.copy(deep=False)  # copy-on-write: the result's ledger is left as it is
    ledger["bundle_eligible"] = ledger["bundle_eligible"].astype("boolean")
    renamed = {"ineligible": "ineligible_cycles", "eligibility_excluded": "eligibility_excluded_cycles",
               "carved_out": "carved_out_cycles"}
    prices = pd.DataFrame([{**{renamed.get(k, k): v for k, v in asdict(p).items() if k not in ("percentiles", "bundle")},
                            "bundle_id": p.bundle, "p10": p.percentiles.get(10), "p50": p.percentiles.get(50),
                            "p90": p.percentiles.get(90)} for p in result.prices])
    recs = pd.DataFrame(result.reconciliations)
    out = {}
    for table, frame in ((PAYMENT_LEDGER, ledger), (BUNDLE_PRICES, prices), (EPISODE_RECONCILIATION, recs)):
        frame = frame.reindex(columns=table.column_names)
        out[table.name] = frame
    return out


_IBIS_TYPES = {"VARCHAR": "string", "DOUBLE": "float64", "BIGINT": "int64", "BOOLEAN": "boolean"}


def as_tables(frames: dict[str, pd.DataFrame]) -> dict[str, ir.Table]:
    """The frames of :func:`tables` as Ibis tables typed by their declarations (null-only columns too).

    Converted column by column to Arrow with the declared types (NaN and None become null), not
    through Python objects per cell: the ledger has a row per care cycle."""
    decl = {t.name: t for t in (PAYMENT_LEDGER, BUNDLE_PRICES, EPISODE_RECONCILIATION)}
    out = {}
    for name, frame in frames.items():
        schema = ibis.schema({c.name: _IBIS_TYPES[c.type] for c in decl[name].columns})
        typed = frame.astype({c: ("Int64" if t.is_integer() else "boolean" if t.is_boolean() else
                                  "float64" if t.is_floating() else "object") for c, t in schema.items()
                              if not (t.is_string() and pd.api.types.is_string_dtype(frame[c].dtype)
                                      and frame[c].dtype != object)})  # pandas strings go to Arrow as they are
        arrow = pa.Table.from_pandas(typed, schema=schema.to_pyarrow(), preserve_index=False)
        out[name] = ibis.memtable(arrow)
    return out
