"""The stage protocol: a named step that reads declared tables and writes declared tables.

A stage receives a :class:`StageContext` (the backend connection of the run, the one definitions
library, the run id) and returns a :class:`StageResult`; the engine code it calls stays pure. What a
stage writes is checked against ``carevalue.model``: an undeclared table or column stops the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.backends import write_table
from carevalue.definitions.loader import Library
from carevalue.model import declared


class StageError(RuntimeError):
    """A stage could not run or wrote something it may not; the message says what to do."""


@dataclass
class StageResult:
    name: str
    rows: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "rows": dict(self.rows), "lines": list(self.lines),
                "warnings": list(self.warnings)}


@dataclass
class StageContext:
    """What a stage gets: the run's connection, the definitions library and the run id."""

    con: BaseBackend
    library: Library
    run_id: str

    def write(self, name: str, expr: ir.Table) -> ir.Table:
        """Write a declared measure table (aside, in the run's own namespace) and return it."""
        check_columns(name, list(expr.columns))
        return write_table(self.con, name, expr)

    def tables(self) -> set[str]:
        return set(self.con.list_tables())


class Stage(Protocol):
    name: str
    reads: tuple[str, ...]
    writes: tuple[str, ...]

    def run(self, ctx: StageContext) -> StageResult: ...


def check_columns(name: str, columns: list[str]) -> None:
    """Refuse a table that is not declared or has columns its declaration lacks."""
    try:
        decl = declared(name)
    except KeyError as e:
        raise StageError(str(e.args[0])) from None
    extra = [c for c in columns if c not in decl.column_names]
    if extra:
        raise StageError(f"table {name!r} has undeclared column(s) {', '.join(extra)}; declare them in "
                         f"carevalue.model (declared: {', '.join(decl.column_names)})")
