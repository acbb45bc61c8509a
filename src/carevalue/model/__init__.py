"""The common data model: core tables (written by ingest) and measure tables (written by stages)."""

from carevalue.model import network, observation, payment
from carevalue.model.measures import MEASURE_TABLES as _ENGINE_TABLES
from carevalue.model.schema import BY_NAME, TABLES, Column, Table, table

# What the engine stages write, by area.
MEASURE_TABLES: tuple[Table, ...] = (*observation.TABLES, *_ENGINE_TABLES, *payment.TABLES, *network.TABLES)

__all__ = ["ALL_TABLES", "BY_NAME", "MEASURE_TABLES", "TABLES", "Column", "Table", "declared", "table"]

# Every declared table: the core model first, then what the engine stages write.
ALL_TABLES: tuple[Table, ...] = (*TABLES, *MEASURE_TABLES)
_DECLARED = {t.name: t for t in ALL_TABLES}


def declared(name: str) -> Table:
    """The declaration of any table, core or measure; KeyError names the known tables."""
    try:
        return _DECLARED[name]
    except KeyError:
        raise KeyError(f"table {name!r} is not declared in carevalue.model; "
                       f"known: {', '.join(sorted(_DECLARED))}") from None
