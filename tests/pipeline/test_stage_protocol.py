"""A stage may write only declared tables and columns; a stage's inputs must exist."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import pytest

from carevalue.backends import connect, write_table
from carevalue.definitions.loader import load_library
from carevalue.model import ALL_TABLES, MEASURE_TABLES, declared
from carevalue.pipeline.orchestrate import execute
from carevalue.pipeline.stage import StageContext, StageError, StageResult
from carevalue.pipeline.stages import STAGES, chosen, producer


@dataclass
class Writes:
    """A stage that writes ``segments`` with the given columns."""

    columns: tuple[str, ...]
    stray: str | None = None
    name: str = "probe"
    reads: tuple[str, ...] = ()

    @property
    def writes(self) -> tuple[str, ...]:
        return ("segments",)

    def run(self, ctx: StageContext) -> StageResult:
        frame = ibis.memtable({c: ["x"] for c in self.columns})
        write_table(ctx.con, "segments", frame)
        if self.stray:
            write_table(ctx.con, self.stray, frame)
        return StageResult(self.name)


def test_undeclared_column_stops_the_run() -> None:
    con = connect()
    with pytest.raises(StageError, match="undeclared column.*risk_colour"):
        execute(con, load_library(), "t", [Writes(("patient_id", "segment", "risk_colour"))])


def test_undeclared_table_stops_the_run() -> None:
    con = connect()
    with pytest.raises(StageError, match="undeclared table.*my_scratch"):
        execute(con, load_library(), "t", [Writes(("patient_id", "segment"), stray="my_scratch")])


def test_declared_columns_pass_and_context_write_checks_too() -> None:
    con = connect()
    assert execute(con, load_library(), "t", [Writes(("patient_id", "segment", "valid_from"))])
    ctx = StageContext(con, load_library(), "t")
    with pytest.raises(StageError, match="undeclared column"):
        ctx.write("segments", ibis.memtable({"patient_id": ["p"], "oops": [1]}))


def test_every_stage_writes_declared_tables_only() -> None:
    names = {t.name for t in MEASURE_TABLES}
    for stage in STAGES:
        assert set(stage.writes) <= names, stage.name
        for t in stage.writes:
            assert declared(t).stage == stage.name, (t, stage.name)
            assert producer(t) == stage.name
    assert len({t.name for t in ALL_TABLES}) == len(ALL_TABLES)


def test_unknown_stage_lists_the_known_ones() -> None:
    with pytest.raises(StageError, match="bogus.*cycles, segments"):
        chosen(["bogus"])
