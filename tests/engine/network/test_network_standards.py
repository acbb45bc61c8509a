"""Minimum-volume standards: the content's figures (YAML cases, each verified against its source),
validation errors, and the check with the G-BA prognosis rule."""

from __future__ import annotations

from pathlib import Path

import ibis
import pytest

from carevalue.definitions.loader import DefinitionError, load
from carevalue.engine.network.standards import check, threshold_table, unchecked

# (standard, threshold, level, minimum, valid_from) as published; see each threshold's source.
PUBLISHED = [
    ("leapfrog-surgical-volume", "tkr-hospital", "organization", 50, 2024),
    ("leapfrog-surgical-volume", "tkr-surgeon", "clinician", 25, 2024),
    ("leapfrog-surgical-volume", "thr-hospital", "organization", 50, 2024),
    ("leapfrog-surgical-volume", "thr-surgeon", "clinician", 25, 2024),
    ("leapfrog-surgical-volume", "bariatric-hospital", "organization", 50, None),
    ("leapfrog-surgical-volume", "esophagectomy-surgeon", "clinician", 7, None),
    ("leapfrog-surgical-volume", "lung-resection-hospital", "organization", 40, None),
    ("leapfrog-surgical-volume", "pancreatectomy-hospital", "organization", 20, None),
    ("leapfrog-surgical-volume", "rectal-cancer-hospital", "organization", 16, None),
    ("leapfrog-surgical-volume", "carotid-hospital", "organization", 20, None),
    ("leapfrog-surgical-volume", "open-aortic-hospital", "organization", 10, None),
    ("leapfrog-surgical-volume", "mitral-hospital", "organization", 40, None),
    ("g-ba-mindestmengen", "knee-tep", "facility", 50, 2015),
    ("g-ba-mindestmengen", "kidney-transplant", "facility", 25, None),
    ("g-ba-mindestmengen", "liver-transplant", "facility", 20, None),
    ("g-ba-mindestmengen", "oesophagus-complex", "facility", 26, 2023),
    ("g-ba-mindestmengen", "pancreas-complex", "facility", 20, 2025),
    ("g-ba-mindestmengen", "breast-cancer-surgery", "facility", 100, 2025),
    ("g-ba-mindestmengen", "breast-cancer-surgery-2024", "facility", 50, 2024),
    ("g-ba-mindestmengen", "lung-cancer-surgery", "facility", 75, 2025),
]


@pytest.fixture(scope="module")
def lib():  # type: ignore[no-untyped-def]
    return load()


@pytest.mark.parametrize("std,tid,level,minimum,valid_from", PUBLISHED)
def test_published_figures(lib, std: str, tid: str, level: str, minimum: int, valid_from: int | None) -> None:  # type: ignore[no-untyped-def]
    t = {x.id: x for x in lib.get("standards", std).thresholds}[tid]
    assert (t.level, t.minimum, t.valid_from) == (level, minimum, valid_from)
    assert len(t.source) > 10


def test_gba_has_the_prognosis_rule_and_leapfrog_none(lib) -> None:  # type: ignore[no-untyped-def]
    assert lib.get("standards", "g-ba-mindestmengen").prognosis.basis == "previous-year"
    assert lib.get("standards", "leapfrog-surgical-volume").prognosis is None


@pytest.mark.parametrize("body,needle", [
    ("  - {id: a, procedure: p, level: organization, minimum: 5, valid_from: 2025, valid_to: 2024, source: somewhere}",
     "valid_to 2024 is before valid_from 2025"),
    ("  - {id: a, procedure: p, level: hospital, minimum: 5, source: somewhere}", "thresholds.0.level"),
    ("  - {id: a, procedure: p, level: organization, minimum: 0, source: somewhere}", "thresholds.0.minimum"),
    ("  - {id: a, procedure: p, level: organization, minimum: 5, source: somewhere, per_week: 1}", "unknown field"),
    ("  - {id: a, procedure: p, conditions: [no-such-condition], level: organization, minimum: 5, source: somewhere}",
     "unknown condition id 'no-such-condition'"),
])
def test_invalid_standards_are_explained(tmp_path: Path, body: str, needle: str) -> None:
    d = tmp_path / "standards"
    d.mkdir()
    (d / "bad.yaml").write_text("id: bad\ntitle: t\nauthority: a\nsource: somewhere\nthresholds:\n" + body + "\n")
    with pytest.raises(DefinitionError) as e:
        load(d)
    assert needle in str(e.value)


def _vol(rows: list[tuple[str, str, str, int, int]]) -> ibis.Table:
    return ibis.memtable([{"condition": c, "level": lv, "unit_id": u, "organization_id": u, "year": y, "cycles": n,
                           "patients": n} for c, lv, u, y, n in rows],
                         schema={"condition": "string", "level": "string", "unit_id": "string",
                                 "organization_id": "string", "year": "int64", "cycles": "int64", "patients": "int64"})


def test_check_with_prognosis_and_years_in_force(lib) -> None:  # type: ignore[no-untyped-def]
    stds = list(lib.kind("standards").values())
    vol = _vol([("breast-cancer", "facility", "s1", 2024, 60), ("breast-cancer", "facility", "s2", 2024, 120),
                ("knee-osteoarthritis", "facility", "s1", 2023, 49), ("knee-osteoarthritis", "organization", "o1", 2023, 70),
                ("knee-osteoarthritis", "organization", "o1", 2024, 49)])
    df = ibis.duckdb.connect().execute(check(vol, threshold_table(stds)))
    by = {(r.threshold, r.unit_id, r.year): r for r in df.itertuples()}
    # 2024 breast minimum 50 (transition), next year's 100: s1 (60) meets 2024 but may not operate in 2025
    s1 = by[("breast-cancer-surgery-2024", "s1", 2024)]
    assert (s1.meets, s1.next_year_minimum, s1.permitted_next_year) == (True, 100, False)
    assert by[("breast-cancer-surgery-2024", "s2", 2024)].permitted_next_year
    k = by[("knee-tep", "s1", 2023)]
    assert (k.meets, k.shortfall, k.permitted_next_year) == (False, 1, False)
    # Leapfrog hip/knee in force from 2024 only; no prognosis rule
    assert ("tkr-hospital", "o1", 2023) not in by
    # Leapfrog accepts the two-year annual average: 2024 has 49 (< 50) but (70 + 49) / 2 = 59.5 >= 50
    lf = by[("tkr-hospital", "o1", 2024)]
    assert (lf.meets, lf.basis, lf.two_year_average, lf.shortfall) == (True, "two-year average", 59.5, 0)
    assert lf.permitted_next_year is None


def test_thresholds_without_a_template_are_listed(lib) -> None:  # type: ignore[no-untyped-def]
    names = unchecked(list(lib.kind("standards").values()))
    assert any("bariatric-hospital" in n for n in names)
    assert not any("tkr-hospital" in n for n in names)
