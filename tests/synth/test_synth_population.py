"""The synthetic population: valid FHIR, deterministic, and the distributions it was designed to have."""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from carevalue.synth import generate, system
from carevalue.synth.pricing import CONVERSION_FACTOR, Pricing
from carevalue.synth.tables import ORG_IDS, ORG_INDEX
from carevalue.synth.writer import simulate


@pytest.fixture(scope="module")
def population(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "pop"
    generate(patients=2500, seed=11, out=out)
    return out


@pytest.fixture(scope="module")
def surgical() -> pd.DataFrame:
    """Hip and knee cycles of a 60k population (in memory, no files) with the true case-mix."""
    pop, _tb, truth, asa = simulate(60_000, seed=5)
    cyc = {k: np.concatenate([c[k] for c in truth.cycles]) for k in truth.cycles[0]}
    df = pd.DataFrame({"pat": cyc["pat"], "condition": cyc["condition"], "org": np.array(ORG_IDS)[cyc["org"]],
                       "complication": cyc["complication"].astype(int)})
    df = df[df.condition.isin(["hip-osteoarthritis", "knee-osteoarthritis"])].copy()
    df["asa"] = asa[df.pat]
    df["age"] = pop.age[df.pat]
    df["bmi"] = pop.bmi[df.pat]
    df["smoker"] = (pop.smoking[df.pat] == 2).astype(int)
    df["diabetes"] = pop.has["type-2-diabetes"][df.pat].astype(int)
    df["deprivation"] = pop.deprivation[df.pat]
    return df


def _digest(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.is_file():
            h.update(f.relative_to(folder).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()


def test_fhir_validates_with_fhir_resources_r4b(population: Path) -> None:
    """Up to 1,000 resources of every type parse and validate as FHIR R4 (fhir.resources.R4B)."""
    seen = {}
    for f in sorted((population / "source").glob("*.ndjson")):
        rtype = f.name.split(".")[0]
        model = getattr(importlib.import_module(f"fhir.resources.R4B.{rtype.lower()}"), rtype)
        with f.open("rb") as fh:
            for i, line in enumerate(fh):
                if i >= 1000:
                    break
                model.model_validate(orjson.loads(line))
                seen[rtype] = seen.get(rtype, 0) + 1
    expected = {"Patient", "Encounter", "Condition", "Observation", "Procedure", "MedicationRequest", "Claim",
                "Questionnaire", "QuestionnaireResponse", "Organization", "Location", "Practitioner",
                "PractitionerRole", "CareTeam", "Coverage"}
    assert expected <= set(seen)
    for rtype in ("Patient", "Encounter", "Condition", "Observation", "Claim", "QuestionnaireResponse"):
        assert seen[rtype] == 1000, rtype


def test_validation_would_catch_an_invalid_resource() -> None:
    from fhir.resources.R4B.encounter import Encounter

    with pytest.raises(ValueError):
        Encounter.model_validate({"resourceType": "Encounter", "id": "x", "status": "finished"})  # no class


def test_same_seed_same_bytes_other_seed_differs(tmp_path: Path) -> None:
    generate(patients=300, seed=3, out=tmp_path / "a", workers=1)
    generate(patients=300, seed=3, out=tmp_path / "b", workers=2)
    generate(patients=300, seed=4, out=tmp_path / "c", workers=1)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_every_planted_cycle_trigger_exists(population: Path) -> None:
    cycles = pd.read_csv(population / "truth" / "care_cycles.csv")
    ids: set[str] = set()
    for rtype in ("Procedure", "Condition"):
        for f in (population / "source").glob(f"{rtype}.*.ndjson"):
            ids |= {orjson.loads(line)["id"] for line in f.open("rb")}
    assert len(cycles) > 0
    assert set(cycles.trigger_id) <= ids
    assert set(cycles.condition) == {"hip-osteoarthritis", "knee-osteoarthritis", "breast-cancer", "type-2-diabetes",
                                     "heart-failure", "migraine", "head-and-neck-cancer", "kidney-transplant"}


def test_activities_link_to_encounters_and_resources(population: Path) -> None:
    src = population / "source"
    act = pd.concat([pd.read_csv(f) for f in sorted(src.glob("activities.*.csv"))])
    res = pd.read_csv(src / "resources.csv")
    enc = {orjson.loads(line)["id"] for f in src.glob("Encounter.*.ndjson") for line in f.open("rb")}
    assert set(act.encounter_id) <= enc
    assert set(act.resource_id) <= set(res.resource_id)
    assert (act.minutes > 0).all()
    # practical capacity is what TDABC divides by; utilisation lands below 100%
    used = act.groupby("resource_id").minutes.sum()
    util = used / res.set_index("resource_id").practical_capacity_minutes.reindex(used.index)
    assert util.max() <= 1.0 and util.median() > 0.5
    # an interpreter adds minutes to the same step
    pts = pd.read_csv(population / "truth" / "patients.csv")
    wellness = act[act.step_code == "pc-wellness"].merge(res[["resource_id", "role"]], on="resource_id")
    doc = wellness[wellness.role == "physician"].merge(pts[["patient_id", "interpreter_needed"]], on="patient_id")
    means = doc.groupby("interpreter_needed").minutes.mean()
    assert 12 < means[True] - means[False] < 18


def test_charges_come_from_the_fee_schedule_not_costs() -> None:
    """CPT 27130: facility total RVU 38.93 (CMS PFS 2025) x 32.3465 x academic-centre markup 3.0."""
    p = Pricing(ORG_IDS)
    charge = p.charge("27130", np.array([ORG_INDEX[system.AC]]), facility=True)[0]
    assert charge == pytest.approx(round(round(38.93 * CONVERSION_FACTOR, 2) * 3.0, 2))


def test_hip_knee_complications_calibrated_to_cms_national_rate(surgical: pd.DataFrame) -> None:
    """CMS COMP_HIP_KNEE national rate 3.5% (Complications_and_Deaths-National.csv, 2020-2023)."""
    assert 0.028 < surgical.complication.mean() < 0.042


def test_complication_rate_rises_with_asa_class(surgical: pd.DataFrame) -> None:
    rate = surgical.groupby("asa").complication.mean()
    assert list(rate.index) == [1, 2, 3, 4]
    assert rate.is_monotonic_increasing
    assert rate[4] > 3 * rate[1]


def test_planted_worse_provider_has_more_complications_among_comparable_patients(surgical: pd.DataFrame) -> None:
    df = surgical.copy()
    df["org"] = pd.Categorical(df.org, categories=[system.CH1] + [o for o in system.ARTHROPLASTY_PROVIDERS
                                                                   if o != system.CH1])
    fit = smf.logit("complication ~ C(asa) + age + bmi + smoker + diabetes + deprivation + org", df).fit(disp=0)
    ci = fit.conf_int()
    worse = f"org[T.{system.CH2}]"
    better = f"org[T.{system.AC}]"
    sicker = f"org[T.{system.CH3}]"
    assert ci.loc[worse, 0] > 0, "CH2 planted OR 2.3 should be significantly worse than CH1"
    assert ci.loc[better, 1] < 0, "AC planted OR 0.45 should be significantly better than CH1"
    # CH3 treats sicker patients: crude rate higher, adjusted effect compatible with none
    crude = surgical.groupby("org").complication.mean()
    assert crude[system.CH3] > crude[system.CH1]
    assert ci.loc[sicker, 0] < 0 < ci.loc[sicker, 1]
    # comparable patients (ASA 1-2): the worse provider still has more complications
    low = surgical[surgical.asa <= 2].groupby("org").complication.mean()
    assert low[system.CH2] > low[system.CH1]


def test_segment_truth_proportions_plausible(population: Path) -> None:
    seg = pd.read_csv(population / "truth" / "segments.csv").segment.value_counts(normalize=True)
    assert set(seg.index) >= {"healthy", "at-risk", "chronic", "complex", "frail-elderly-disabled"}
    assert 0.15 < seg["healthy"] < 0.45
    assert 0.15 < seg["at-risk"] < 0.40
    assert 0.20 < seg["chronic"] < 0.45
    assert 0.02 < seg["complex"] < 0.15
    assert 0.02 < seg["frail-elderly-disabled"] < 0.10
    assert seg.get("rare-condition", 0.0) < 0.01
