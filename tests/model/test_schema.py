"""The data model declaration is consistent and its documentation is current."""

from __future__ import annotations

from pathlib import Path

from carevalue.ingest.store import Store
from carevalue.model import TABLES
from carevalue.model.docs import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "data-model.md"


def test_every_key_is_a_column_and_names_are_unique() -> None:
    names = [t.name for t in TABLES]
    assert len(names) == len(set(names))
    for t in TABLES:
        cols = t.column_names
        assert len(cols) == len(set(cols)), t.name
        assert set(t.key) <= set(cols), t.name
        for c in t.columns:
            assert c.type in {"VARCHAR", "DATE", "TIMESTAMP", "DOUBLE", "BIGINT", "BOOLEAN"}, (t.name, c.name)
        if t.parent:
            assert set(t.parent_key) <= set(cols)


def test_store_creates_every_table(tmp_path: Path) -> None:
    with Store(tmp_path / "s.duckdb") as store:
        present = {r[0] for r in store.con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    assert {t.name for t in TABLES} <= present


def test_data_model_doc_is_generated_from_schema() -> None:
    assert DOC.read_text() == render(), "run: python -m carevalue.model.docs docs/data-model.md"
