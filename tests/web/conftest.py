"""The in-memory dashboard store, built once for the web tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import dashboard_fixture  # noqa: E402


@pytest.fixture(scope="session")
def dashboard_ws():  # type: ignore[no-untyped-def]
    from carevalue.workspace import Workspace

    return Workspace.on_connection(dashboard_fixture.build())
