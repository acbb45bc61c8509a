"""A Parquet store for Spark runs: `ingest --parquet` and `export-parquet` write one folder of Parquet
files per core table, replaced table by table; the Spark backend refuses a DuckDB file as its store."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.model import TABLES
from carevalue.synth import generate
from carevalue.workspace import Workspace, WorkspaceError


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pq-source")
    generate(patients=40, seed=5, out=out)
    return out / "source"


@pytest.fixture()
def store(source: Path, tmp_path: Path) -> Path:
    Workspace.open(tmp_path / "s.duckdb", must_exist=False).ingest([source])
    return tmp_path / "s.duckdb"


def _rows(folder: Path) -> int:
    return int(duckdb.sql(f"SELECT count(*) FROM read_parquet('{folder}/*.parquet')").fetchone()[0])  # type: ignore[index]


def test_export_writes_a_parquet_folder_per_core_table(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "pq"
    res = CliRunner().invoke(app, ["export-parquet", "--store", str(store), "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    listed = {r["table"]: r for r in json.loads(res.output)}
    assert set(listed) == {t.name for t in TABLES} == {p.name for p in out.iterdir()}
    with duckdb.connect(str(store), read_only=True) as con:
        for name in ("patients", "encounters", "claims"):
            assert _rows(out / name) == con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]  # type: ignore[index]
            assert listed[name]["files"] >= 1 and listed[name]["bytes"] > 0
    # a second export replaces each table's folder (no doubled rows, no scratch folders left)
    before = _rows(out / "encounters")
    Workspace.open(store).export_parquet(out)
    assert _rows(out / "encounters") == before
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_cli_ingest_parquet_option(tmp_path: Path, source: Path) -> None:
    res = CliRunner().invoke(app, ["ingest", str(source), "--store", str(tmp_path / "s.duckdb"),
                                   "--parquet", str(tmp_path / "pq"), "--json"])
    assert res.exit_code == 0, res.output
    assert _rows(tmp_path / "pq" / "patients") > 0


def test_spark_backend_needs_a_parquet_folder(store: Path) -> None:
    with pytest.raises(WorkspaceError, match="export-parquet"):
        Workspace.open(store, backend="spark")
    with pytest.raises(WorkspaceError, match="unknown backend"):
        Workspace.open(store, backend="sparky")
