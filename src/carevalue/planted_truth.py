"""Checking the engine against the synthetic population's planted truth: build a store with the
outcome tables for some conditions, and read which providers were planted better or worse."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

# The resource types outcome measurement reads; the rest of the population is not ingested.
OUTCOME_SOURCES = ("Patient", "Organization", "Location", "Practitioner", "PractitionerRole", "CareTeam",
                   "Encounter", "Condition", "Observation", "Procedure", "Questionnaire",
                   "QuestionnaireResponse")


def outcome_store(patients: int, seed: int, out: Path, conditions: Sequence[str]) -> tuple[Any, list[Any]]:
    """Generate a population into ``out``, ingest it, build the conditions' cycles, PROM scores
    and outcome values; return the open Ibis connection and the condition templates."""
    from carevalue import synth
    from carevalue.backends import connect
    from carevalue.definitions.loader import load
    from carevalue.engine import cycles, outcomes
    from carevalue.ingest.run import ingest
    from carevalue.ingest.store import Store

    synth.generate(patients, seed, out)
    files = sorted(p for p in (out / "source").iterdir() if p.name.split(".")[0] in OUTCOME_SOURCES)
    with Store(out / "store.duckdb") as s:
        ingest(files, s)
    lib = load()
    templates = [lib.get("conditions", c) for c in conditions]
    con = connect(out / "store.duckdb")
    rules = lib.get("record-rules", "default")
    cycles.run(con, templates, rules)
    outcomes.run_proms(con, list(lib.instruments().values()), rules)
    outcomes.run_values(con, templates, lib.kind("value-sets"), rules)
    return con, templates


def planted_odds_ratios(out: Path, condition: str) -> pd.DataFrame:
    """organization_id, odds_ratio, note: the complication odds ratio planted per provider."""
    eff = pd.read_csv(out / "truth" / "provider_effects.csv")
    eff = eff[(eff.condition == condition) & (eff.effect == "odds_ratio")]
    return eff[["organization_id", "value", "note"]].rename(columns={"value": "odds_ratio"})
