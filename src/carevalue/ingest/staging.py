"""A file's incoming rows while the store checks them: one ``_stage_<table>`` relation per table.

A stage starts as a view over the batch's Arrow table (no copy) and becomes a temporary table only
when a check has rows of it to remove; most tables of most files pass every check untouched and
go from Arrow straight into the store, which saves copying each file once more (about a tenth of
the write side, measured 2026-12-02).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    from carevalue.ingest.batch import Batch


class Staging:
    """The staged tables of one batch (``names``, in batch order) on ``con``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, batch: Batch) -> None:
        self.con = con
        self.names: list[str] = list(batch.tables)
        self._views: set[str] = set()
        for name in self.names:
            con.register(f"_arrow_{name}", batch.arrow(name))
            con.execute(f'CREATE OR REPLACE TEMP VIEW "_stage_{name}" AS SELECT * FROM "_arrow_{name}"')
            self._views.add(name)

    def _materialize(self, name: str) -> None:
        """Copy a stage still viewing Arrow into a temporary table, so rows can be deleted from it."""
        if name in self._views:
            self.con.execute(f'DROP VIEW "_stage_{name}"')
            self.con.execute(f'CREATE TEMP TABLE "_stage_{name}" AS SELECT * FROM "_arrow_{name}"')
            self._views.discard(name)

    def delete(self, name: str, sql: str, params: list[object] | None = None) -> None:
        """Run a ``DELETE FROM "_stage_<name>" ...`` statement (``sql``) on the stage of ``name``."""
        self._materialize(name)
        self.con.execute(sql, params or [])

    def remove_locators(self, locators_sql: str) -> None:
        """Remove every staged row (any table) whose ``_locator`` is in ``locators_sql`` (a query)."""
        for name in self.names:
            stage = f'"_stage_{name}"'
            if name in self._views:
                hit = self.con.execute(
                    f"SELECT 1 FROM {stage} WHERE _locator IN ({locators_sql}) LIMIT 1").fetchone()
                if not hit:
                    continue
            self.delete(name, f"DELETE FROM {stage} WHERE _locator IN ({locators_sql})")

    def drop(self) -> None:
        """Drop every stage and its Arrow registration (also after a rollback)."""
        for name in self.names:
            kind = "VIEW" if name in self._views else "TABLE"
            with contextlib.suppress(duckdb.Error):  # already gone with a rolled-back transaction
                self.con.execute(f'DROP {kind} IF EXISTS "_stage_{name}"')
            self.con.unregister(f"_arrow_{name}")
        self._views.clear()
