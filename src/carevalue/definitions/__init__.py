"""Definitions: pydantic models of every content kind. Importing this package registers them all."""

from carevalue.definitions import instrument as _instrument  # noqa: F401
from carevalue.definitions import process_map as _process_map  # noqa: F401
