"""Volume-value meta-regression and the IPU assessment on hand-built evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from carevalue.definitions.ipu_facts import IpuFacts, load_facts
from carevalue.engine.network.ipu import assess
from carevalue.engine.network.ipu_evidence import ServiceEvidence
from carevalue.engine.network.volume_value import meta_regression, volume_value


def test_meta_regression_recovers_a_planted_slope() -> None:
    # y = 1 - 0.5 log2(volume) exactly, equal variances: slope -0.5, no heterogeneity
    x = np.log2(np.array([5.0, 10, 20, 40, 80]))
    b, se, tau2 = meta_regression(1 - 0.5 * x, np.full(5, 0.01), x)
    assert b == pytest.approx(-0.5) and tau2 == 0.0
    # se of a WLS slope with equal weights: sqrt(v / sum((x - mean)^2)) = sqrt(0.01 / 10) (x = log2 5 + 0..4)
    assert se == pytest.approx((0.01 / 10) ** 0.5)


def test_volume_value_findings_and_not_estimable() -> None:
    vol = pd.DataFrame({"condition": "c", "organization_id": ["a", "b", "c", "d"], "mean_per_year": [5.0, 10, 20, 40]})
    costs = pd.DataFrame({"condition": "c", "organization_id": ["a", "b", "c", "d"], "n": 100,
                          "mean_cost": [2000.0, 1600, 1280, 1024], "sd_cost": 100.0})  # -20% per doubling
    outs = pd.DataFrame({"condition": "c", "measure": "m", "time_point": "1y", "scale": None, "statistic": "O-E mean",
                         "organization_id": ["a", "b"], "n": 10, "observed": 1.0, "expected": 1.0, "oe": [0.0, 1.0],
                         "ci_low": [-1.0, 0.0], "ci_high": [1.0, 2.0], "flag_95": "as expected"})
    df = volume_value(vol, outs, costs, {"m": "higher-better"}).set_index("target")
    assert df.loc["cost", "slope_per_doubling"] == pytest.approx(np.log(0.8), abs=1e-3)
    assert df.loc["cost", "finding"] == "higher volume goes with lower cost"
    assert df.loc["outcome", "status"] == "not estimable"


def _evidence() -> ServiceEvidence:
    services = pd.DataFrame({"condition": "c", "organization_id": ["hub", "ch"], "cycles": [50, 10], "ipu_cycles": [50, 0]})
    teams = pd.DataFrame({"care_team_id": "ipu-c", "organization_id": "hub", "condition": "c",
                          "member_id": ["p1", "p2", "p3"], "role_code": ["surgeon", "nurse", "care-manager"],
                          "member_org": "hub"})
    clinicians = pd.DataFrame({"condition": "c", "organization_id": ["hub"] * 3 + ["ch"] * 2,
                               "practitioner_id": ["p1", "p2", "p3", "q1", "q2"],
                               "role": ["surgeon", "nurse", "care-manager", "surgeon", "nurse"],
                               "clinician_org": ["hub"] * 3 + ["ch", "ch"], "minutes": [600.0, 500, 400, 50, 40],
                               "all_minutes": [1000.0, 1000, 1000, 1000, 1000]})
    phases = pd.DataFrame({"condition": "c", "organization_id": ["hub", "hub", "ch", "ch"],
                           "phase": ["intervening", "monitoring-managing", "intervening", "monitoring-managing"],
                           "facility_id": ["hub", "hub", "ch", "rehab"], "minutes": [100.0, 50, 100, 60]})
    compared = pd.DataFrame({"condition": "c", "organization_id": ["hub", "ch"], "measures": [3, 3]})
    return ServiceEvidence(services, teams, clinicians, phases, compared)


def test_ipu_assessment_scores_the_integrated_unit_higher_with_evidence() -> None:
    facts = IpuFacts.model_validate({"units": [
        {"organization_id": "hub", "single_scheduling": "yes", "team_meetings_per_month": 4,
         "joint_accountability": "bundled-payment", "source": "test"}]})
    df = assess(_evidence(), facts, {"c": ["intervening", "monitoring-managing"]}, {"c": ["surgeon"]})
    s = df.pivot(index="attribute_no", columns="organization_id", values="score")
    assert s["hub"].tolist() == [2, 2, 2, 2, 2, 1, 2, 2, 2, 2]
    # community service: no team, clinicians 5% / 4% on the condition, monitoring at the rehab site
    assert s["ch"].tolist() == [0, 0, 1, 0, 1, 0, 1, 0, 1, 0]
    assert df.evidence.str.len().gt(10).all()
    assert set(df[df.organization_id == "ch"].basis) <= {"store", "none"}


def test_facts_file_errors_name_the_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "facts.yaml"
    p.write_text("units:\n  - {organization_id: x, single_scheduling: maybe, source: me}\n")
    with pytest.raises(ValueError, match=r"units\.0\.single_scheduling"):
        load_facts(p)
