"""The shipped risk-score tables (package data under ``riskscores/data``) as Ibis tables.

The CSVs are converted from published sources by ``scripts/build_riskscore_tables.py``;
``data/SOURCE.md`` says which file came from where and under which licence.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.csv as pacsv

_INT_COLUMNS = {"age_lo", "age_hi", "age_below", "age_above", "min_hccs", "max_hccs", "weight"}
_FLOAT_COLUMNS = {"coefficient"}


def _path(folder: str, name: str) -> Any:
    return resources.files("carevalue.engine.riskscores") / "data" / folder / name


@lru_cache(maxsize=64)
def arrow(folder: str, name: str) -> pa.Table:
    """One shipped CSV as an Arrow table (codes as strings; empty cells are nulls)."""
    raw = _path(folder, f"{name}.csv").read_bytes()
    header = raw.split(b"\n", 1)[0].decode().split(",")
    types = {c: pa.int64() if c in _INT_COLUMNS else pa.float64() if c in _FLOAT_COLUMNS else pa.string()
             for c in header}
    return pacsv.read_csv(pa.py_buffer(raw), convert_options=pacsv.ConvertOptions(
        column_types=types, strings_can_be_null=True))


def table(folder: str, name: str) -> ir.Table:
    """One shipped CSV as an Ibis in-memory table, usable on any backend."""
    return ibis.memtable(arrow(folder, name))


@lru_cache(maxsize=8)
def settings(folder: str) -> dict[str, Any]:
    """The model's parameters (``model.json`` in its folder)."""
    loaded: dict[str, Any] = json.loads(_path(folder, "model.json").read_text())
    return loaded
