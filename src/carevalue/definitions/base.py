"""Base class and registry for definitions: content is YAML, validated by a pydantic model per kind.

A kind is a folder under ``content/`` (``conditions``, ``segments``, ``instruments``, ...); its
module calls :func:`register_kind` so the loader knows which model validates which folder. Code
groups (a code system and its codes) are shared by every kind that matches clinical codes.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from carevalue.definitions.codesystems import (
    CODE_SYSTEM_ALIASES as CODE_SYSTEM_ALIASES,  # re-exported
)
from carevalue.definitions.codesystems import SPELLINGS, canonical_system, known_systems_text

KINDS: dict[str, type[Definition]] = {}


def _known_system(v: str) -> str:
    name = canonical_system(v)
    if name is None:
        raise ValueError(f"unknown code system {v!r}; known: {known_systems_text()}")
    return name


# A code system by its known name (any known spelling is accepted and read as the name).
CodeSystem = Annotated[str, AfterValidator(_known_system),
                       WithJsonSchema({"type": "string", "enum": sorted(SPELLINGS)})]


class Definition(BaseModel):
    """Fields every definition has. Unknown fields are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", description="Stable id, lower-case with hyphens.")
    title: str = Field(description="Human-readable name.")
    description: str = Field(default="", description="What it is and where it comes from.")


class Part(BaseModel):
    """A nested part of a definition: unknown fields are errors here too."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class CodeGroup(Part):
    """Codes of one system. A code ending in ``.*`` or ``*`` is a prefix: ``M16.*`` is every M16 code."""

    system: CodeSystem = Field(description="Code system: SNOMED CT, ICD-10-CM, LOINC, CPT, HCPCS, RxNorm, CVX ... (content/code-systems.yaml).")
    codes: list[str] = Field(min_length=1, description="Codes; a trailing '*' or '.*' makes a prefix pattern.")
    display: str = Field(default="", description="What the codes mean, for readers.")

    @field_validator("codes")
    @classmethod
    def _no_blank(cls, v: list[str]) -> list[str]:
        for c in v:
            if not c.strip() or "*" in c.rstrip("*"):
                raise ValueError(f"code {c!r}: must be non-empty; '*' is allowed only at the end (prefix)")
        return v

    def exact(self) -> list[str]:
        return [c for c in self.codes if not c.endswith("*")]

    def prefixes(self) -> list[str]:
        """Prefixes without the trailing '.*'/'*' and without dots (stored codes are compared dot-free)."""
        return [c.rstrip("*").rstrip(".").replace(".", "") for c in self.codes if c.endswith("*")]


def register_kind(folder: str):  # type: ignore[no-untyped-def]
    """Class decorator: files under content/<folder>/ are validated by this model."""

    def deco(cls: type[Definition]) -> type[Definition]:
        KINDS[folder] = cls
        return cls

    return deco
