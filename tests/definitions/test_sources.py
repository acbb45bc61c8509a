"""Every clinical or financial number in content carries a source (a citation or 'assumption: ...')."""

from __future__ import annotations

from carevalue.definitions.loader import load
from carevalue.definitions.process_map import ProcessMap
from carevalue.definitions.segment import Segment
from carevalue.definitions.sources import unsourced_numbers

LIB = load()


def test_every_number_in_the_packaged_content_has_a_source_in_scope() -> None:
    missing = {f"{folder}/{did}": unsourced_numbers(obj)
               for folder, objs in LIB.by_kind.items() for did, obj in objs.items()}
    missing = {k: v for k, v in missing.items() if v}
    assert missing == {}, "numbers without a source: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in missing.items())


def test_the_walker_sees_the_process_map_numbers() -> None:
    """Without its source a process map's minutes are reported (the test above is not vacuous):
    the packaged maps hold about 290 numbers."""
    total = sum(len(unsourced_numbers(m.model_copy(update={"source": ""}))) for m in LIB.kind("process_maps").values())
    assert 280 <= total <= 320, total
    hip = LIB.get("process_maps", "hip-osteoarthritis").model_copy(update={"source": ""})
    assert "steps.0.resources.0.minutes" in unsourced_numbers(hip)
    assert "steps.0.resources.0.variations.0.extra_minutes" in unsourced_numbers(hip)


def test_a_step_source_covers_only_that_step() -> None:
    pm = ProcessMap.model_validate({
        "id": "x", "title": "X", "applies_to": "migraine",
        "steps": [{"step_code": "a", "description": "A", "phase": "diagnosing", "setting": "clinic",
                   "source": "assumption: test", "resources": [{"role": "nurse", "minutes": 10}]},
                  {"step_code": "b", "description": "B", "phase": "diagnosing", "setting": "clinic",
                   "resources": [{"role": "nurse", "minutes": 5}]}]})
    assert unsourced_numbers(pm) == ["steps.1.resources.0.minutes"]


def test_defaults_are_not_content_and_enumerated_sources_are_not_citations() -> None:
    seg = Segment.model_validate({"id": "s", "title": "S", "priority": 1, "rule": {"always": True}})
    assert unsourced_numbers(seg) == ["priority"]  # rule defaults (at_least=1 ...) are code, not content
    tpl = LIB.get("conditions", "hip-osteoarthritis").model_copy(update={"sources": []})
    # an outcome measure's `source: survival` names where data comes from, it is no citation
    assert any(p.startswith("outcomes.0.time_points.0.day") for p in unsourced_numbers(tpl))


def test_missing_sources_are_reported_by_the_loader(tmp_path) -> None:
    (tmp_path / "segments").mkdir()
    (tmp_path / "segments" / "odd.yaml").write_text(
        "id: odd\ntitle: Odd\npriority: 7\npmpm_reference: 12\nrule: {age_at_least: 3}\n")
    lib = load(tmp_path, strict=False)
    assert lib.errors == []
    assert any(w.startswith(f"{tmp_path / 'segments' / 'odd.yaml'}: 3 numbers without a source in scope "
                            "(pmpm_reference, priority, rule.age_at_least)") for w in lib.warnings), lib.warnings
