"""Shared fixtures: where the read-only reference data lives."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
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


def shared_build(tmp_path_factory: pytest.TempPathFactory, name: str,
                 build: Callable[[Path], Path]) -> Path:
    """Build something once per test session, across pytest-xdist workers.

    The first worker to get here runs ``build(folder)`` under a file lock in a folder every worker
    shares; the others wait for it and use the same result. Callers that write must copy it.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' base folders are siblings
    folder = root / f"shared-{name}"
    done = root / f"shared-{name}.done"
    with open(root / f"shared-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)
                folder.mkdir()
                done.write_text(str(build(folder)), encoding="utf-8")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return Path(done.read_text(encoding="utf-8"))


def copy_store(src: Path, dest: Path) -> Path:
    """A private copy of a store and its runs folder (tests that write must not share one)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest / src.name)
    runs = src.with_name(src.name + ".runs")
    if runs.exists():
        shutil.copytree(runs, dest / (src.name + ".runs"), ignore=shutil.ignore_patterns("run.lock", "*.tmp"))
    return dest / src.name


def _synthetic_store(out: Path) -> Path:
    import warnings

    from carevalue.synth import generate
    from carevalue.workspace import Workspace

    warnings.filterwarnings("ignore")
    generate(patients=400, seed=7, out=out / "population")
    db = out / "carevalue.duckdb"
    Workspace.open(db, must_exist=False).ingest([out / "population" / "source"])
    ws = Workspace.open(db)
    ws.run()
    ws.close()
    return db


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store built from a 400-patient synthetic population (seed 7) with one full run, built
    once per session for all workers (~1-2 min). Read-only: copy it (``copy_store``) to write."""
    return shared_build(tmp_path_factory, "synthetic-400-7", _synthetic_store)


@pytest.fixture(scope="session")
def synthetic_workspace(synthetic_store: Path, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A workspace over this worker's own copy of :func:`synthetic_store` (its population folder
    beside it, as the build left it)."""
    from carevalue.workspace import Workspace

    out = tmp_path_factory.mktemp("synthetic-store")
    (out / "population").symlink_to(synthetic_store.parent / "population")
    ws = Workspace.open(copy_store(synthetic_store, out))
    yield ws
    ws.close()
