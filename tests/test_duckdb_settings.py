"""DuckDB is tuned from the environment: the settings reach every connection the store opens."""

from __future__ import annotations

from pathlib import Path

import pytest

from carevalue.backends import connect, duckdb_settings
from carevalue.ingest.store import Store
from carevalue.pipeline.runs import RunStore


def _setting(con: object, name: str) -> str:
    run = con.raw_sql if hasattr(con, "raw_sql") else con.execute  # type: ignore[attr-defined]
    return str(run(f"SELECT current_setting('{name}')").fetchone()[0])


@pytest.fixture()
def tuned(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("CAREVALUE_DUCKDB_THREADS", "1")
    monkeypatch.setenv("CAREVALUE_DUCKDB_MEMORY_LIMIT", "512MiB")
    monkeypatch.setenv("CAREVALUE_DUCKDB_TEMP_DIR", str(tmp_path / "spill"))
    return tmp_path / "s.duckdb"


def test_environment_reaches_connect(tuned: Path, tmp_path: Path) -> None:
    con = connect(tuned)
    assert _setting(con, "threads") == "1"
    assert _setting(con, "memory_limit") == "512.0 MiB"
    assert _setting(con, "temp_directory") == str(tmp_path / "spill")
    con.disconnect()


def test_environment_reaches_ingest_and_runs(tuned: Path) -> None:
    with Store(tuned) as s:
        assert _setting(s.con, "memory_limit") == "512.0 MiB"
    rs = RunStore(tuned)
    with rs.lock():
        rec, con = rs.begin(["observation"], "test")
        assert _setting(con, "threads") == "1"
        assert _setting(con, "preserve_insertion_order") == "False"  # stage writes need no order
        rs.publish(rec, con)
    reader = rs.open_reader()
    assert _setting(reader, "memory_limit") == "512.0 MiB"
    assert _setting(reader, "preserve_insertion_order") == "True"
    reader.disconnect()


def test_defaults_a_third_of_the_memory_and_spill_beside_the_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for var in ("THREADS", "MEMORY_LIMIT", "TEMP_DIR"):
        monkeypatch.delenv(f"CAREVALUE_DUCKDB_{var}", raising=False)
    monkeypatch.setattr("carevalue.backends._physical_memory", lambda: 24 * 2**30)
    s = duckdb_settings(tmp_path / "store.duckdb")
    assert s["memory_limit"] == "8192MiB"  # 24 GiB machine -> 8 GiB; with the process and workers <= 12
    assert s["temp_directory"] == str(tmp_path / "store.duckdb.tmp")
    con = connect(tmp_path / "store.duckdb")
    assert _setting(con, "temp_directory") == str(tmp_path / "store.duckdb.tmp")
    assert _setting(con, "memory_limit") in ("8.0 GiB", "8192.0 MiB")
    con.disconnect()
    assert "temp_directory" not in duckdb_settings(None)


def test_bad_thread_count_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAREVALUE_DUCKDB_THREADS", "many")
    with pytest.raises(ValueError, match="CAREVALUE_DUCKDB_THREADS"):
        duckdb_settings(None)
