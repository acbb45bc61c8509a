"""Apply a fitted case-mix model inside the backend: coefficients become an Ibis expression.

Fitting happens once on a pandas frame; scoring every patient is a column expression
(linear predictor -> expit / exp) so it runs where the data lives (DuckDB or PySpark).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from carevalue.engine.risk.casemix import (
    INTERCEPT,
    CaseMixModel,
    RiskModelError,
    cumulative_hazard_at,
)


def linear_predictor_expression(table: ibis.Table, model: CaseMixModel) -> ir.FloatingValue:
    """x'beta as an Ibis expression (centred on the fit means for Cox models)."""
    if not model.usable:
        raise RiskModelError(
            f"case-mix model for '{model.outcome}' is not usable ({model.status}): {model.message}"
        )
    lp: ir.FloatingValue = ibis.literal(float(model.coefficients.get(INTERCEPT, 0.0)), "float64")
    for term, (var, level) in model.terms.items():
        if level is None:
            col = table[var].cast("float64")
        else:
            col = (table[var] == ibis.literal(level)).cast("float64")
        centre = float(model.means.get(term, 0.0))
        lp = lp + float(model.coefficients[term]) * (col - centre)
    return lp


def score_expression(table: ibis.Table, model: CaseMixModel) -> ir.FloatingValue:
    """Expected value per row of `table` as an Ibis column.

    logistic -> expit(x'beta); linear -> x'beta; cox -> probability of the event by the model's
    horizon, 1 - exp(-H0(horizon) * exp(x'beta)). Rows with a missing variable score null.
    """
    lp = linear_predictor_expression(table, model)
    if model.kind == "logistic":
        return (1.0 / (1.0 + (-lp).exp())).name(f"expected_{model.outcome}")
    if model.kind == "linear":
        return lp.name(f"expected_{model.outcome}")
    if model.horizon is None:
        raise RiskModelError("Cox model has no horizon: refit with horizon= to score a probability")
    h0 = float(cumulative_hazard_at(model, model.horizon))
    return (1.0 - (-(h0 * lp.exp())).exp()).name(f"expected_{model.outcome}")
