"""Definitions as data: the packaged content validates; errors name file, field and what is allowed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.definitions.loader import CONTENT, DefinitionError, load
from carevalue.definitions.schema_export import export
from carevalue.synth import codes

LIB = load()
HIP = yaml.safe_load((CONTENT / "conditions" / "hip-osteoarthritis.yaml").read_text())


def test_packaged_content_is_valid_and_complete() -> None:
    lib = load(strict=False)
    assert lib.errors == []
    assert set(lib.kind("conditions")) == set(codes.CONDITIONS)  # the CONTRACTS template ids
    assert set(lib.kind("segments")) == {"frail-elderly-disabled", "rare-condition", "complex", "chronic",
                                         "at-risk", "healthy"}
    assert sorted(s.priority for s in lib.kind("segments").values()) == [1, 2, 3, 4, 5, 6]
    assert "stockholm-hip-knee" in lib.kind("bundles")


@pytest.mark.parametrize("path", sorted(CONTENT.glob("*/*.yaml")), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_content_file_validates_on_its_own(path: Path) -> None:
    lib = load(path, strict=False)
    assert lib.errors == []


def test_templates_use_the_synthetic_codes() -> None:
    """Each template's diagnosis code set holds the SNOMED and ICD-10-CM codes synth writes."""
    from carevalue.engine.codesets import matches  # noqa: F401  (same matcher semantics below)

    for tid, (snomed, _, icd, _) in codes.CONDITIONS.items():
        groups = LIB.get("conditions", tid).code_sets["diagnosis"]
        sn = {c for g in groups if g.system == "SNOMED CT" for c in g.exact()}
        icd_prefixes = [p for g in groups if g.system == "ICD-10-CM" for p in g.prefixes()]
        icd_exact = {c.replace(".", "") for g in groups if g.system == "ICD-10-CM" for c in g.exact()}
        assert snomed in sn, tid
        assert icd.replace(".", "") in icd_exact or any(icd.replace(".", "").startswith(p) for p in icd_prefixes), tid


def test_stockholm_bundle_as_published() -> None:
    """MISSION.md F15: ~US$8,000; rehab up to 6 days; 1 follow-up within 3 months; 2-year warranty,
    5 years after a post-operative infection; ASA 1-2."""
    b = LIB.get("bundles", "stockholm-hip-knee")
    assert b.reference_price == 8000 and b.currency == "USD"
    comp = {c.id: c for c in b.components}
    assert comp["inpatient-rehab"].max_days == 6
    assert comp["follow-up-visit"].max_count == 1
    w = b.warranties[0]
    assert (w.years, w.extended_years) == (2, 5)
    assert b.eligibility.asa_max == 2


def test_outcome_sets_cover_all_three_tiers_for_surgical_templates() -> None:
    for tid in ("hip-osteoarthritis", "knee-osteoarthritis", "breast-cancer", "head-and-neck-cancer"):
        assert {o.tier for o in LIB.get("conditions", tid).outcomes} == {1, 2, 3}, tid


def _write(tmp: Path, kind: str, data: dict) -> Path:
    (tmp / kind).mkdir(parents=True, exist_ok=True)
    p = tmp / kind / f"{data['id']}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_error_names_file_field_and_allowed_values(tmp_path: Path) -> None:
    bad = dict(HIP, id="bad-hip", cycle=dict(HIP["cycle"], kind="acut"))
    p = _write(tmp_path, "conditions", bad)
    with pytest.raises(DefinitionError) as e:
        load(tmp_path)
    msg = "\n".join(e.value.errors)
    assert str(p) in msg
    assert "cycle.kind" in msg and "'acute' or 'chronic'" in msg and "got 'acut'" in msg


def test_unknown_field_lists_the_allowed_fields(tmp_path: Path) -> None:
    bad = dict(HIP, id="typo-hip")
    bad["phases"] = [dict(HIP["phases"][0], rules=[{"table": "encounters", "code_set": ["diagnosis"]}])]
    _write(tmp_path, "conditions", bad)
    errors = load(tmp_path, strict=False).errors
    assert any("phases.0.rules.0.code_set: unknown field; allowed fields here: table, code_sets, class_codes"
               in m for m in errors), errors


def test_unknown_code_set_and_unknown_bundle_are_errors(tmp_path: Path) -> None:
    bad = dict(HIP, id="refs-hip", bundle="no-such-bundle")
    bad["cycle"] = dict(HIP["cycle"], triggers=[{"table": "procedures", "code_set": "index-procedur"}])
    _write(tmp_path, "conditions", bad)
    errors = load(tmp_path, strict=False).errors
    assert any("cycle.triggers.0.code_set: unknown code set 'index-procedur'; allowed:" in m for m in errors), errors
    ok = dict(HIP, id="refs-hip2", bundle="no-such-bundle")
    _write(tmp_path, "conditions", ok)
    errors = load(tmp_path, strict=False).errors
    assert any("bundle: unknown bundle id 'no-such-bundle'; known:" in m and "stockholm-hip-knee" in m
               for m in errors), errors


def test_reference_to_a_kind_without_content_is_a_warning(tmp_path: Path) -> None:
    from carevalue.definitions import loader

    lib = loader.Library()
    lib.by_kind["conditions"] = {"x": LIB.get("conditions", "migraine").model_copy(update={"id": "x", "process_map": "nope"})}
    lib.files[("conditions", "x")] = tmp_path / "conditions" / "x.yaml"
    loader._check_references(lib, {"conditions": type(LIB.get("conditions", "migraine"))})
    assert lib.errors == [] and any("process_maps 'nope' not checked" in w for w in lib.warnings)


def test_file_name_must_match_id(tmp_path: Path) -> None:
    (tmp_path / "segments").mkdir()
    seg = yaml.safe_load((CONTENT / "segments" / "healthy.yaml").read_text())
    (tmp_path / "segments" / "wrong.yaml").write_text(yaml.safe_dump(seg))
    errors = load(tmp_path, strict=False).errors
    assert errors == [f"{tmp_path / 'segments' / 'wrong.yaml'}: id: 'healthy' must equal the file name 'wrong'"]


def test_segment_rule_needs_exactly_one_test(tmp_path: Path) -> None:
    seg = {"id": "odd", "title": "Odd", "priority": 7, "rule": {"age_at_least": 3, "always": True}}
    _write(tmp_path, "segments", seg)
    errors = load(tmp_path, strict=False).errors
    assert any("rule: a rule has exactly one of:" in m and "['age_at_least', 'always']" in m for m in errors), errors


def test_schema_export_and_cli(tmp_path: Path) -> None:
    written = export(tmp_path / "schema")
    names = {p.name for p in written}
    assert {"conditions.schema.json", "segments.schema.json", "bundles.schema.json"} <= names
    schema = json.loads((tmp_path / "schema" / "conditions.schema.json").read_text())
    assert "cycle" in schema["properties"] and "acute" in json.dumps(schema)
    runner = CliRunner()
    ok = runner.invoke(app, ["definitions", "validate"])
    assert ok.exit_code == 0, ok.output
    bad = dict(HIP, id="bad", cycle=dict(HIP["cycle"], days_after=0))
    _write(tmp_path / "content", "conditions", bad)
    res = runner.invoke(app, ["definitions", "validate", str(tmp_path / "content"), "--json"])
    assert res.exit_code == 1
    assert "cycle.days_after: Input should be greater than 0 (got 0)" in res.output
