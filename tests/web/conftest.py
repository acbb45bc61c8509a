"""The dashboard store, built once for the web tests and published as a store on disk."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import dashboard_fixture  # noqa: E402


@pytest.fixture(scope="session")
def dashboard_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return dashboard_fixture.publish(tmp_path_factory.mktemp("dashboard-store"))


@pytest.fixture(scope="session")
def dashboard_ws(dashboard_store: Path):  # type: ignore[no-untyped-def]
    from carevalue.workspace import Workspace

    return Workspace.open(dashboard_store)
