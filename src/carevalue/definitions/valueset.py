"""Value sets: named lists of codes shared by several definitions (e.g. the chronic conditions of
primary-care segmentation), so one list is maintained in one file."""

from __future__ import annotations

from pydantic import Field

from carevalue.definitions.base import CodeGroup, Definition, register_kind


@register_kind("value-sets")
class ValueSet(Definition):
    """A named set of codes in one or more code systems."""

    codes: list[CodeGroup] = Field(min_length=1)
