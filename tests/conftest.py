"""Shared fixtures: where the read-only reference data lives."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO / ".." / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data next to the checkout (present on developer machines and in CI)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def synthetic_workspace(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A store built from a 400-patient synthetic population (seed 7) with one full run.

    Slow (synth + ingest + every stage, ~1-2 min): use from tests marked ``slow``.
    """
    import warnings

    from carevalue.synth import generate
    from carevalue.workspace import Workspace

    out = tmp_path_factory.mktemp("synthetic-store")
    warnings.filterwarnings("ignore")
    generate(patients=400, seed=7, out=out / "population")
    db = out / "carevalue.duckdb"
    Workspace.open(db, must_exist=False).ingest([out / "population" / "source"])
    ws = Workspace.open(db)
    ws.run()
    yield ws
    ws.close()
