"""Which numbers in content have no ``source`` in scope.

A number is in scope of a source when the part that holds it, or any part above it up to the
definition, has a non-empty ``source`` (a citation, or ``assumption: <who/why>``) or ``sources``
list. Only numbers written in the content file count (defaults are code, not content), and a field
whose ``source`` is an enumeration (an outcome measure's data source) is not a citation.
"""

from __future__ import annotations

import typing
from typing import Any

from pydantic import BaseModel

CITATION_FIELDS = ("source", "sources")


def _is_citation_field(model: type[BaseModel], name: str) -> bool:
    info = model.model_fields.get(name)
    return info is not None and typing.get_origin(info.annotation) is not typing.Literal


def has_source(obj: BaseModel) -> bool:
    """True when this part itself carries a non-empty citation."""
    return any(_is_citation_field(type(obj), f) and bool(getattr(obj, f))
               for f in CITATION_FIELDS if f in type(obj).model_fields)


def _numbers(value: Any, path: str) -> list[str]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [path]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _numbers(v, f"{path}.{i}")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _numbers(v, f"{path}.{k}")]
    return []


def unsourced_numbers(obj: BaseModel, path: str = "", covered: bool = False) -> list[str]:
    """Field paths of the numbers set in content with no source in scope."""
    covered = covered or has_source(obj)
    out: list[str] = []
    for name in obj.model_fields_set:
        value = getattr(obj, name)
        where = f"{path}.{name}" if path else name
        items = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, BaseModel) for v in items):
            for i, v in enumerate(items):
                if isinstance(v, BaseModel):
                    out += unsourced_numbers(v, f"{where}.{i}" if value is items else where, covered)
        elif isinstance(value, dict) and any(isinstance(v, BaseModel) for v in value.values()):
            for k, v in value.items():
                for j, part in enumerate(v if isinstance(v, list) else [v]):
                    if isinstance(part, BaseModel):
                        out += unsourced_numbers(part, f"{where}.{k}.{j}", covered)
        elif not covered:
            out += _numbers(value, where)
    return sorted(out)
