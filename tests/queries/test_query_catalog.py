"""The catalog: names beside ids, and ids that match nothing answered with what exists."""

from __future__ import annotations

import ibis
import pandas as pd
import pytest

from carevalue.definitions.loader import load_library
from carevalue.queries import catalog
from carevalue.queries.base import QueryError


@pytest.fixture(scope="module")
def lib():  # type: ignore[no-untyped-def]
    return load_library()


@pytest.fixture(scope="module")
def con():  # type: ignore[no-untyped-def]
    """Provider h1 with 12 patients' hip cycles, h2 with 2 patients' migraine cycles; 14 patients."""
    c = ibis.duckdb.connect()
    c.create_table("organizations", pd.DataFrame({"organization_id": ["h1", "h2", "pay1"],
                                                  "name": ["Riverside", "Hilltop", "Payer"], "type_code": ["prov", "prov", "pay"],
                                                  "city": ["R", "H", "P"]}))
    pts = [f"p{i:02d}" for i in range(14)]
    c.create_table("patients", pd.DataFrame({"patient_id": pts, "sex": ["female"] * 14,
                                             "birth_date": pd.to_datetime(["1950-02-03"] * 14).date,
                                             "death_date": pd.Series([None] * 14, dtype="datetime64[s]")}))
    c.create_table("care_cycles", pd.DataFrame({
        "cycle_id": [f"k{i}" for i in range(14)], "patient_id": pts,
        "condition": ["hip-osteoarthritis"] * 12 + ["migraine"] * 2, "organization_id": ["h1"] * 12 + ["h2"] * 2}))
    return c


def test_require_lists_close_matches_and_everything(lib) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError) as e:
        catalog.require_condition(lib, "hip")
    msg = str(e.value)
    assert "unknown condition 'hip'" in msg and "did you mean hip-osteoarthritis" in msg
    assert "type-2-diabetes (Type 2 diabetes)" in msg and "carevalue list conditions" in msg
    assert catalog.require_condition(lib, "migraine") == "migraine"


def test_time_points_are_checked_against_the_measure(lib) -> None:  # type: ignore[no-untyped-def]
    catalog.require_measure(lib, "hip-osteoarthritis", "physical-function", "1 year")
    with pytest.raises(QueryError, match=r"unknown time point '2 years'.*6 months"):
        catalog.require_measure(lib, "hip-osteoarthritis", "physical-function", "2 years")


def test_definitions_without_a_store(lib) -> None:  # type: ignore[no-untyped-def]
    rows = catalog.conditions(None, lib)
    assert {r["condition"] for r in rows} == set(lib.kind("conditions")) and "cycles" not in rows[0]
    hip = [r for r in catalog.measures(None, lib, condition="hip-osteoarthritis") if r["measure"] == "physical-function"]
    assert hip and hip[0]["time_points"] == "baseline, 6 months, 1 year"
    prio = [r["priority"] for r in catalog.segments(None, lib)]
    assert prio == sorted(prio) and len(prio) == len(lib.kind("segments"))


def test_counts_from_the_store_are_suppressed(con, lib) -> None:  # type: ignore[no-untyped-def]
    by = {r["condition"]: r for r in catalog.conditions(con, lib)}
    assert (by["hip-osteoarthritis"]["cycles"], by["hip-osteoarthritis"]["patients"]) == (12, 12)
    assert by["migraine"]["patients"] == "<11" and by["migraine"]["cycles"] is None
    prov = {r["organization_id"]: r for r in catalog.providers(con, lib)}
    assert prov["h1"]["name"] == "Riverside" and prov["h1"]["patients"] == 12
    assert prov["h2"]["patients"] == "<11" and "pay1" not in prov  # a payer with no cycles is not a provider


def test_patients_listing(con, lib) -> None:  # type: ignore[no-untyped-def]
    rows = catalog.patients(con, lib, limit=3)
    assert [r["patient_id"] for r in rows] == ["p00", "p01", "p02"]
    assert rows[0] == {"patient_id": "p00", "sex": "female", "birth_year": 1950, "death_date": None,
                       "conditions": "hip-osteoarthritis"}
    with pytest.raises(QueryError, match="--limit"):
        catalog.patients(con, lib, limit=0)
