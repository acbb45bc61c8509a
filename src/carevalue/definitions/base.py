"""Base class and registry for definitions: content is YAML, validated by a pydantic model per kind.

A kind is a folder under ``content/`` (``conditions``, ``segments``, ``instruments``, ...); its
module calls :func:`register_kind` so the loader knows which model validates which folder.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

KINDS: dict[str, type[Definition]] = {}


class Definition(BaseModel):
    """Fields every definition has. Unknown fields are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", description="Stable id, lower-case with hyphens.")
    title: str = Field(description="Human-readable name.")
    description: str = Field(default="", description="What it is and where it comes from.")


def register_kind(folder: str):  # type: ignore[no-untyped-def]
    """Class decorator: files under content/<folder>/ are validated by this model."""

    def deco(cls: type[Definition]) -> type[Definition]:
        KINDS[folder] = cls
        return cls

    return deco
