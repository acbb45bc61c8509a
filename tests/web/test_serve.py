"""`carevalue serve` says where the dashboard is and who can reach it before it starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from carevalue.cli import app


@pytest.fixture()
def served(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    import carevalue.api.server as server

    monkeypatch.setattr(server, "serve", lambda store, content, **kw: calls.append(kw))
    return calls


def test_serve_prints_the_dashboard_url_and_binds_locally(dashboard_store: Path, served: list) -> None:
    r = CliRunner().invoke(app, ["serve", "--store", str(dashboard_store), "--port", "8765"],
                           env={"CAREVALUE_DATABASE_URL": ""})
    assert r.exit_code == 0, r.output
    assert "http://127.0.0.1:8765/dashboard/" in r.output and "http://127.0.0.1:8765/api/v1" in r.output
    assert "127.0.0.1 only" in r.output
    assert served == [{**served[0], "host": "127.0.0.1", "port": 8765}]


def test_another_host_says_other_machines_can_reach_it(dashboard_store: Path, served: list) -> None:
    r = CliRunner().invoke(app, ["serve", "--store", str(dashboard_store), "--host", "0.0.0.0"],
                           env={"CAREVALUE_DATABASE_URL": ""})
    assert r.exit_code == 0, r.output
    assert "http://0.0.0.0:8000/dashboard/" in r.output and "reachable from other machines" in r.output
    assert served[0]["host"] == "0.0.0.0"
