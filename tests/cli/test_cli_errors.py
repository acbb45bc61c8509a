"""No traceback ever reaches a user: each bad input gets one line saying what to do, and exit != 0.

And nothing that matches nothing exits 0 silently: the message lists what exists.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from small_store import copy_store
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.pipeline.runs import RunStore


def fails(args: list[str], *expected: str) -> str:
    """Run ``args``: non-zero exit, no traceback, one line on stderr containing ``expected``."""
    res = CliRunner().invoke(app, args)
    text = res.stdout + res.stderr
    assert res.exit_code not in (0, None), text
    assert "Traceback" not in text and res.exception is None or isinstance(res.exception, SystemExit), text
    lines = [x for x in res.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for e in expected:
        assert e in lines[0], lines[0]
    return lines[0]


def test_bad_date(store: Path) -> None:
    fails(["segments", "--store", str(store), "--on", "2024-13-45"], "not a date", "YYYY-MM-DD")


def test_empty_store(tmp_path: Path) -> None:
    import duckdb

    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    fails(["segments", "--store", str(empty)], "no patients table", "carevalue ingest")
    fails(["run", "--store", str(empty)], "ingest")


def test_foreign_store(tmp_path: Path) -> None:
    foreign = tmp_path / "notes.duckdb"
    foreign.write_text("shopping list\n" * 100)
    fails(["segments", "--store", str(foreign)], "not a carevalue store")
    fails(["list", "patients", "--store", str(foreign)], "not a carevalue store")


def test_store_in_missing_folder(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "s.duckdb"
    fails(["segments", "--store", str(missing)], "no store at", "carevalue ingest")
    fails(["ingest", str(tmp_path), "--store", str(missing)], "does not exist")


def test_store_locked_by_a_running_job(store: Path, tmp_path: Path) -> None:
    own = copy_store(tmp_path)
    with RunStore(own).lock():  # what a `carevalue run` in another process holds while it writes
        fails(["run", "--store", str(own), "--only", "segments"], "another `carevalue run` is writing")
        # readers are not locked out: they see the last published run
        res = CliRunner().invoke(app, ["segments", "--store", str(own), "--json"])
        assert res.exit_code == 0, res.stderr


def test_binary_yaml(tmp_path: Path, store: Path) -> None:
    content = tmp_path / "content" / "conditions"
    content.mkdir(parents=True)
    (content / "broken.yaml").write_bytes(bytes(range(256)) * 4)
    res = CliRunner().invoke(app, ["definitions", "validate", str(tmp_path / "content")])
    assert res.exit_code not in (0, None) and res.exception is None or isinstance(res.exception, SystemExit)
    out = "".join((res.stdout + res.stderr).split())  # rich folds long lines, even inside a path
    assert "broken.yaml:notUTF-8" in out  # validate lists it with its file
    fails(["run", "--store", str(store), "--content", str(tmp_path / "content"), "--only", "cycles"], "not UTF-8")


def test_synth_zero_patients(tmp_path: Path) -> None:
    fails(["synth", "--patients", "0", "--out", str(tmp_path / "p")], "--patients must be at least 1")
    fails(["demo", "--patients", "-5", "--out", str(tmp_path / "d")], "--patients must be at least 1")


def test_negative_top(store: Path) -> None:
    fails(["cost-opportunities", "--store", str(store), "--top", "-3"], "--top must be a positive")


def test_wrong_time_point_lists_the_ones_that_exist(store: Path) -> None:
    line = fails(["outcomes", "--store", str(store), "--condition", "hip-osteoarthritis",
                  "--measure", "physical-function", "--time-point", "7 years"],
                 "unknown time point '7 years'")
    assert "1 year" in line and "6 months" in line


def test_unknown_measure_lists_measures(store: Path) -> None:
    fails(["outcomes", "--store", str(store), "--condition", "hip-osteoarthritis", "--measure", "happiness"],
          "unknown measure 'happiness'", "physical-function")


def test_run_only_bogus_lists_stages(store: Path) -> None:
    fails(["run", "--store", str(store), "--only", "bogus"], "unknown stage(s) bogus", "cycles", "segments")


def test_costs_condition_hip_lists_conditions(store: Path) -> None:
    fails(["costs", "--store", str(store), "--condition", "hip"], "unknown condition or segment 'hip'",
          "did you mean hip-osteoarthritis", "knee-osteoarthritis", "at-risk (At risk)")
    fails(["value", "--store", str(store), "--condition", "hip"], "unknown condition 'hip'", "type-2-diabetes")


def test_unknown_patient_says_how_to_find_ids(store: Path) -> None:
    fails(["cycles", "--store", str(store), "--patient", "nobody"], "no patient 'nobody'", "carevalue list patients")


def test_empty_folder_to_ingest(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    fails(["ingest", str(tmp_path / "empty"), "--store", str(tmp_path / "s.duckdb")], "nothing to ingest")


def test_unknown_list_kind(store: Path) -> None:
    fails(["list", "hospitals", "--store", str(store)], "conditions", "measures", "providers", "patients", "segments")


def test_missing_table_names_the_command(store: Path) -> None:
    """The shared store has no costing run: the message names the command that builds the table."""
    fails(["list", "measures", "--condition", "hip"], "unknown condition 'hip'")
    fails(["risk-scores", "--store", str(store.parent / "nope.duckdb")], "no store at")


@pytest.mark.parametrize("bad", [["segments", "--on", "yesterday"], ["cycles", "--patient", "x", "--store", "/"]])
def test_other_bad_inputs_are_one_line(bad: list[str], store: Path) -> None:
    args = bad if "--store" in bad else [*bad, "--store", str(store)]
    fails(args)


def test_every_command_is_guarded() -> None:
    from carevalue.cli.errors import guarded

    def callbacks(t):  # type: ignore[no-untyped-def]
        for c in t.registered_commands:
            yield c.name, c.callback
        for g in t.registered_groups:
            yield from callbacks(g.typer_instance)

    unguarded = [n for n, cb in callbacks(app) if not getattr(cb, "__carevalue_guarded__", False)]
    assert not unguarded
    assert guarded  # the one place


def test_store_held_by_another_process(tmp_path: Path) -> None:
    """An ingest still writing in another process holds DuckDB's file lock: one line, exit 3."""
    import subprocess
    import sys

    import duckdb

    core = tmp_path / "busy.duckdb"
    duckdb.connect(str(core)).close()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time\n"
                               f"c = duckdb.connect({str(core)!r})\nprint('ready', flush=True)\ntime.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        (tmp_path / "data").mkdir()
        (tmp_path / "data" / "Patient.ndjson").write_text('{"resourceType": "Patient", "id": "p1"}\n')
        res = CliRunner().invoke(app, ["ingest", str(tmp_path / "data"), "--store", str(core)])
        assert res.exit_code == 3, res.stderr
        assert res.stderr.startswith("error: the store is open in another process") and len(res.stderr.splitlines()) == 1
    finally:
        holder.kill()
        holder.wait()


def test_readers_are_closed_after_each_command(store: Path) -> None:
    """A command that fails after opening the store leaves no connection behind: the next one works."""
    from carevalue.cli.common import OPENED

    for _ in range(3):
        fails(["cycles", "--store", str(store), "--patient", "nobody"], "no patient 'nobody'")
        fails(["costs", "--store", str(store), "--condition", "hip"], "hip-osteoarthritis")
    assert OPENED == []


def test_usage_errors_stay_clicks_own(store: Path) -> None:
    res = CliRunner().invoke(app, ["segments", "--store", str(store), "--bogus-flag"])
    assert res.exit_code == 2 and "No such option" in res.stderr and "Traceback" not in res.stderr


def test_network_condition_typo_lists_conditions(store: Path) -> None:
    fails(["network", "volume", "--store", str(store), "--condition", "knee"], "unknown condition 'knee'",
          "knee-osteoarthritis")
