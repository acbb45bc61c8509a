"""The common data model: table declarations and code systems."""

from carevalue.model.schema import BY_NAME, TABLES, Column, Table, table

__all__ = ["BY_NAME", "TABLES", "Column", "Table", "table"]
