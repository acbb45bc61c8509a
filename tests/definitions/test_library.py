"""One definitions library: packaged content plus content folders, later ones overriding by (kind, id)."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.definitions.loader import CONTENT, load, load_library

MIGRAINE = yaml.safe_load((CONTENT / "conditions" / "migraine.yaml").read_text())
HEALTHY = yaml.safe_load((CONTENT / "segments" / "healthy.yaml").read_text())


def _write(root: Path, kind: str, data: dict) -> Path:
    (root / kind).mkdir(parents=True, exist_ok=True)
    p = root / kind / f"{data['id']}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_a_content_folder_adds_and_overrides_by_kind_and_id(tmp_path: Path) -> None:
    new = _write(tmp_path / "a", "conditions", dict(copy.deepcopy(MIGRAINE), id="cluster-headache",
                                                    title="Cluster headache", process_map=None))
    cheaper = _write(tmp_path / "a", "segments", dict(HEALTHY, pmpm_reference=4))
    lib = load(tmp_path / "a")
    assert lib.errors == []
    assert "cluster-headache" in lib.kind("conditions") and "migraine" in lib.kind("conditions")
    assert lib.file_of("conditions", "cluster-headache") == new
    assert lib.file_of("conditions", "migraine") == CONTENT / "conditions" / "migraine.yaml"
    assert lib.get("segments", "healthy").pmpm_reference == 4 and lib.file_of("segments", "healthy") == cheaper
    assert lib.overrides == [f"{cheaper}: segments 'healthy' overrides {CONTENT / 'segments' / 'healthy.yaml'}"]
    assert lib.digest() != load().digest()


def test_later_folders_override_earlier_ones(tmp_path: Path) -> None:
    _write(tmp_path / "a", "segments", dict(HEALTHY, pmpm_reference=4))
    last = _write(tmp_path / "b", "segments", dict(HEALTHY, pmpm_reference=6))
    lib = load_library([tmp_path / "a", tmp_path / "b"])
    assert lib.get("segments", "healthy").pmpm_reference == 6 and lib.file_of("segments", "healthy") == last
    assert len(lib.overrides) == 2 and lib.roots == [CONTENT, tmp_path / "a", tmp_path / "b"]


def test_a_kind_folder_or_one_file_can_be_layered(tmp_path: Path) -> None:
    p = _write(tmp_path, "segments", dict(HEALTHY, pmpm_reference=7))
    assert load(tmp_path / "segments").get("segments", "healthy").pmpm_reference == 7
    assert load(p).get("segments", "healthy").pmpm_reference == 7


def test_the_same_id_twice_in_one_folder_is_an_error(tmp_path: Path) -> None:
    _write(tmp_path, "segments", HEALTHY)
    (tmp_path / "segments" / "healthy.yml").write_text(yaml.safe_dump(HEALTHY))
    errors = load(tmp_path, strict=False).errors
    assert len(errors) == 1 and "id: 'healthy' is defined twice" in errors[0]


def test_without_the_packaged_content_references_are_checked_against_the_folder(tmp_path: Path) -> None:
    _write(tmp_path, "segments", HEALTHY)
    lib = load_library([tmp_path], packaged=False)
    assert list(lib.by_kind) == ["segments"]
    assert lib.costing_policy().title == "Built-in defaults"


def test_typed_helpers_take_the_library() -> None:
    lib = load()
    assert [s.priority for s in lib.segments()] == [1, 2, 3, 4, 5, 6]
    assert lib.costing_policy().practical_share == 0.8
    assert {m.applies_to for m in lib.process_maps()} >= {"hip-osteoarthritis", "healthy"}
    assert "hoos-ps" in lib.instruments()
    assert len(lib.conditions()) == 8


def test_cli_validate_takes_content_folders(tmp_path: Path) -> None:
    _write(tmp_path, "segments", dict(HEALTHY, pmpm_reference=4))
    res = CliRunner().invoke(app, ["definitions", "validate", "--content", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "override" in res.output and "definitions valid" in res.output


def test_an_item_split_at_a_comma_inside_a_flow_list_is_an_error(tmp_path: Path) -> None:
    # `[Therapy (relaxation, exercise)]` is two items in YAML; the packaged templates once had six of these.
    text = (CONTENT / "conditions" / "migraine.yaml").read_text().replace(
        '"Multimodal therapy (relaxation, exercise)"', "Multimodal therapy (relaxation, exercise)")
    assert "[Regular reviews, Medication management, Multimodal therapy (relaxation, exercise)]" in text
    (tmp_path / "conditions").mkdir()
    (tmp_path / "conditions" / "migraine.yaml").write_text(text)
    errors = load(tmp_path, strict=False).errors
    assert len(errors) == 1 and "'Multimodal therapy (relaxation' has unbalanced parentheses" in errors[0]
    assert load().get("conditions", "migraine").phases[2].activities[-1] == "Multimodal therapy (relaxation, exercise)"
