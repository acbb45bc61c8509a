"""Fixtures for the CLI tests: the shared small store and a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from small_store import small_store
from typer.testing import CliRunner


@pytest.fixture(scope="session")
def store() -> Path:
    return small_store()


@pytest.fixture
def cli() -> CliRunner:
    return CliRunner()
