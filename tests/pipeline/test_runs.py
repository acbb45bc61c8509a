"""Runs publish atomically: a reader in another process always sees one complete run, a killed run
leaves the previous one readable and is marked, and one run at a time writes a store."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from carevalue.model import MEASURE_TABLES
from carevalue.pipeline.runs import RunLocked, RunStore
from carevalue.pipeline.stage import StageError
from carevalue.synth import generate
from carevalue.workspace import MissingTable, Workspace

# The writer rebuilds the cheaper half of the pipeline: long enough for a reader to look in many times.
PART = ["observation", "cycles", "segments", "costing"]
WRITER = ("import sys; from carevalue.workspace import Workspace; "
          f"Workspace.open(sys.argv[1]).run(only={PART!r})")
PUBLISHED = {t.name for t in MEASURE_TABLES if t.stage in PART}


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ingested store with no runs yet (copied per test)."""
    out = tmp_path_factory.mktemp("runs")
    generate(patients=150, seed=3, out=out / "pop")
    ws = Workspace.open(out / "core.duckdb", must_exist=False)
    ws.ingest([out / "pop" / "source"])
    return out / "core.duckdb"


@pytest.fixture()
def store(core: Path, tmp_path: Path) -> Path:
    path = tmp_path / "s.duckdb"
    shutil.copy(core, path)
    return path


def _writer(store: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    return subprocess.Popen([sys.executable, "-c", WRITER, str(store)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _snapshot(store: Path) -> tuple[str, set[str], int]:
    """What a reader sees: the run id its `runs` table ends with, the tables, the cycles."""
    with Workspace.open(store) as ws:
        runs = ws.con.table("runs").execute()
        last = runs.iloc[-1]
        assert last.status == "published"
        return str(last.run_id), ws.tables(), int(ws.con.table("care_cycles").count().execute())


def test_reader_in_another_process_always_sees_one_complete_run(store: Path) -> None:
    first = Workspace.open(store).run(only=PART)
    seen = {_snapshot(store)[0]}
    assert seen == {first.run_id}
    writer = _writer(store)
    try:
        while writer.poll() is None:
            run_id, tables, cycles = _snapshot(store)
            assert tables >= PUBLISHED, PUBLISHED - tables
            assert cycles > 0
            seen.add(run_id)
            time.sleep(0.2)
    finally:
        writer.wait(timeout=300)
    assert writer.returncode == 0, writer.stderr.read() if writer.stderr else ""
    last = _snapshot(store)[0]
    assert last != first.run_id and seen <= {first.run_id, last}
    statuses = [r["status"] for r in Workspace.open(store).runs()]
    assert statuses == ["published", "published"]


def test_killed_run_leaves_previous_run_readable_and_marked(store: Path) -> None:
    first = Workspace.open(store).run(only=["observation", "cycles", "segments"])
    writer = _writer(store)
    rs = RunStore(store)
    deadline = time.time() + 120
    while not any(r.status == "running" for r in rs.records()):
        assert time.time() < deadline and writer.poll() is None
        time.sleep(0.05)
    with pytest.raises(RunLocked):  # one run at a time
        Workspace.open(store).run(only=["segments"])
    time.sleep(0.3)
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert _snapshot(store)[0] == first.run_id
    marks = [(r["run_id"], r["status"]) for r in Workspace.open(store).runs()]
    assert marks[0] == (first.run_id, "published") and marks[1][1] == "interrupted"
    again = Workspace.open(store).run(only=["segments"])
    assert _snapshot(store)[0] == again.run_id
    assert not rs.run_file(marks[1][0]).exists()  # the interrupted run's file is cleared away
    # --only carried the previous run's cycles over
    assert set(again.carried_over) >= {"care_cycles", "cycle_events", "observation_periods"}


def test_failed_stage_keeps_previous_run_and_records_why(store: Path) -> None:
    first = Workspace.open(store).run(only=["observation", "cycles"])
    with pytest.raises(StageError, match="costing"):
        Workspace.open(store).run(only=["value"])  # needs outcome_comparison: nothing built it
    assert _snapshot(store)[0] == first.run_id
    last = Workspace.open(store).runs()[-1]
    assert last["status"] == "failed" and "carevalue run --only" in last["message"]


def test_reading_before_any_run_names_the_command(store: Path) -> None:
    with Workspace.open(store) as ws, pytest.raises(MissingTable, match="stage cycles"):
        ws.require("care_cycles")


def _rows(ws: Workspace, name: str) -> list[tuple[object, ...]]:
    return sorted(ws.con.raw_sql(f'SELECT * FROM "{name}"').fetchall(), key=repr)


def test_a_run_of_some_stages_carries_the_rest_unchanged_and_rebuilds_its_own(store: Path) -> None:
    """``--only segments`` after a run of three stages: the new run's file starts as a copy of the
    current one; cycles come over row for row, segments are rebuilt (same rows: same input), and
    the copied file's old ``runs`` table is replaced by the new history."""
    first = Workspace.open(store).run(only=["observation", "cycles", "segments"])
    with Workspace.open(store) as ws:
        before = {n: _rows(ws, n) for n in ("care_cycles", "cycle_events", "segments")}
    again = Workspace.open(store).run(only=["segments"])
    assert set(again.carried_over) == {"observation_periods", "care_cycles", "cycle_events"}
    with Workspace.open(store) as ws:
        assert {n: _rows(ws, n) for n in before} == before
        runs = ws.con.table("runs").execute()
        assert list(runs.run_id) == [first.run_id, again.run_id]
        assert ws.tables() >= {"segments", "segment_transitions", "care_cycles"}
    rs = RunStore(store)
    assert rs.current_id() == again.run_id
    # the rebuilt tables were written by this run, not carried: the stage's row counts are its own
    seg = next(s for s in again.stages if s.name == "segments")
    assert seg.rows["segments"] == len(before["segments"])
