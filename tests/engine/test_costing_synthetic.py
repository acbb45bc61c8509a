"""On the synthetic population, planted efficient/inefficient arthroplasty providers rank as planted
on TDABC cost per cycle among comparable patients (truth/provider_effects.csv: minutes multiplier
and extra length of stay per provider)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

synth = pytest.importorskip("carevalue.synth")
cycles = pytest.importorskip("carevalue.engine.cycles")


@pytest.fixture(scope="module")
def costed(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from carevalue.backends import connect
    from carevalue.definitions.loader import load
    from carevalue.engine.costing_run import run_costing
    from carevalue.ingest.run import ingest
    from carevalue.ingest.store import Store

    if not hasattr(synth, "generate") or not hasattr(cycles, "run"):
        pytest.skip("synth.generate / cycles.run not available yet")
    out = tmp_path_factory.mktemp("synth")
    warnings.filterwarnings("ignore")
    synth.generate(3000, 7, out)
    db = out / "store.duckdb"
    with Store(db) as s:
        ingest([out / "source"], s)
    con = connect(db)
    lib = load()
    rules = lib.get("record-rules", "default")
    cycles.run(con, list(lib.kind("conditions").values()), rules)
    run_costing(con, lib.process_maps(), lib.costing_policy(), rules)
    return con, out


def _planted(out: Path) -> dict[str, float]:
    eff = pd.read_csv(out / "truth" / "provider_effects.csv")
    m = eff[(eff.measure == "minutes") & (eff.condition == "hip-osteoarthritis")]
    return dict(zip(m.organization_id, m.value, strict=True))


def test_planted_providers_rank_on_cost_per_cycle(costed) -> None:  # type: ignore[no-untyped-def]
    import statsmodels.formula.api as smf

    con, out = costed
    planted = _planted(out)
    t = con.table("cycle_cost_totals")
    p = con.table("patients")
    t = t.filter(t.condition.isin(["hip-osteoarthritis", "knee-osteoarthritis"]))
    df = t.join(p, "patient_id").select(
        "total_cost", "condition", "organization_id", "sex",
        age=(t.start_ts.year() - p.birth_date.year())).execute().dropna()
    # Comparable patients: same condition, age and sex (OLS with the average community hospital as
    # reference); the planted minutes multiplier is the efficiency truth.
    ref = min(planted, key=lambda o: abs(planted[o] - 1.0))
    fit = smf.ols(f"total_cost ~ C(organization_id, Treatment('{ref}')) + C(condition) + age + C(sex)",
                  data=df).fit()
    effect = {o: fit.params.get(f"C(organization_id, Treatment('{ref}'))[T.{o}]", 0.0) for o in planted}
    effect[ref] = 0.0
    efficient = [o for o, v in planted.items() if v < 0.9]     # e.g. academic centre 0.85, ASC 0.80
    inefficient = [o for o, v in planted.items() if v >= 1.25]  # e.g. CH2 1.30
    assert efficient and inefficient
    for o in efficient:
        assert effect[o] < 0, (o, effect)
    for o in inefficient:
        assert effect[o] > 0, (o, effect)
        assert all(effect[o] > effect[e] for e in efficient)
