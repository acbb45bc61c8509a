"""`carevalue run --content DIR` uses the user's own templates; progress lines when not on a terminal."""

from __future__ import annotations

from pathlib import Path

from small_store import copy_store
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.definitions.loader import CONTENT
from carevalue.workspace import Workspace


def _own_template(root: Path) -> Path:
    """A condition template that exists only in ``root``: the packaged hip template under a new id."""
    text = (CONTENT / "conditions" / "hip-osteoarthritis.yaml").read_text(encoding="utf-8")
    text = text.replace("id: hip-osteoarthritis", "id: local-hip", 1).replace(
        "title: Osteoarthritis of the hip", "title: Local hip pathway", 1)
    (root / "conditions").mkdir(parents=True)
    (root / "conditions" / "local-hip.yaml").write_text(text, encoding="utf-8")
    return root


def test_run_with_content_builds_cycles_of_a_template_only_in_that_folder(tmp_path: Path) -> None:
    store = copy_store(tmp_path)
    content = _own_template(tmp_path / "my-content")
    res = CliRunner().invoke(app, ["run", "--store", str(store), "--content", str(content), "--only", "cycles"])
    assert res.exit_code == 0, res.stderr
    # stdout is not a terminal here: one progress line per stage, then the stage's summary
    assert "run 1/1 cycles" in res.stdout and "run done in" in res.stdout
    assert "cycles: local-hip:" in res.stdout
    with Workspace.open(store) as ws:
        t = ws.con.table("care_cycles")
        per = {r.condition: int(r.n) for r in t.group_by("condition").aggregate(n=t.count()).execute().itertuples()}
    assert per["local-hip"] == per["hip-osteoarthritis"] > 0  # same codes, same cycles
    listed = CliRunner().invoke(app, ["list", "conditions", "--store", str(store), "--content", str(content), "--json"])
    assert "Local hip pathway" in listed.stdout
    runs = CliRunner().invoke(app, ["runs", "--store", str(store)])
    assert runs.exit_code == 0 and "published" in runs.stdout


def test_without_content_the_template_is_unknown(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["costs", "--store", str(copy_store(tmp_path)), "--condition", "local-hip"])
    assert res.exit_code == 2 and "unknown condition or segment 'local-hip'" in res.stderr
