"""The cost, outcome and value read-outs: the CLI's --json rows are the façade's rows, every table fits
80 columns, and the report is built through the same Workspace. Needs a full run (slow fixture)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from carevalue.cli import app

pytestmark = pytest.mark.slow


def _json(args: list[str]) -> Any:
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout, parse_constant=lambda t: pytest.fail(f"{t} in --json"))


def test_readouts_cli_equals_facade(synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    ws = synthetic_workspace
    s = str(ws.store)
    tpl = next(t for t in ws.library.kind("conditions").values() if t.outcomes)
    measure = tpl.outcomes[0].id
    cases = {
        ("costs", "--store", s): lambda: ws.costs(),
        ("costs", "--store", s, "--condition", tpl.id): lambda: ws.costs(tpl.id),
        ("capacity", "--store", s): lambda: ws.capacity(),
        ("cost-opportunities", "--store", s, "--top", "5"): lambda: ws.cost_opportunities(top=5),
        ("outcomes", "--store", s, "--condition", tpl.id, "--measure", measure): lambda: ws.outcomes(tpl.id, measure),
        ("value", "--store", s): lambda: ws.value(),
    }
    for args, facade in cases.items():
        rows = facade()
        ws.close()
        assert _json(list(args)) == json.loads(json.dumps(rows)), args
    assert len(_json(["cost-opportunities", "--store", s, "--top", "5"])) <= 5


def test_readout_tables_fit_80_columns(synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    s = str(synthetic_workspace.store)
    synthetic_workspace.close()
    for args in (["costs"], ["capacity"], ["cost-opportunities"], ["value"]):
        res = CliRunner().invoke(app, [*args, "--store", s], env={"COLUMNS": "80"})
        assert res.exit_code == 0, res.stderr
        assert not [line for line in res.stdout.splitlines() if len(line) > 80], args


def test_report_through_the_workspace(synthetic_workspace, tmp_path) -> None:  # type: ignore[no-untyped-def]
    s = str(synthetic_workspace.store)
    synthetic_workspace.close()
    res = CliRunner().invoke(app, ["report", "--store", s, "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "r.html").stat().st_size > 10_000 and "Report:" in res.stdout
