"""Known code systems, read from ``content/code-systems.yaml``: each name with the spellings (FHIR
URI, names, OIDs) a store or a content file may use for it."""

from __future__ import annotations

from pathlib import Path

import yaml

CODE_SYSTEMS_FILE = Path(__file__).resolve().parents[1] / "content" / "code-systems.yaml"


def _read(path: Path) -> dict[str, tuple[str, ...]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {str(name): tuple(str(a) for a in aliases) for name, aliases in data.items()}


CODE_SYSTEM_ALIASES: dict[str, tuple[str, ...]] = _read(CODE_SYSTEMS_FILE)
SPELLINGS: dict[str, str] = {a: name for name, aliases in CODE_SYSTEM_ALIASES.items() for a in (name, *aliases)}


def canonical_system(system: str) -> str | None:
    """The known name of a code system spelt any known way, or None when it is not known."""
    return SPELLINGS.get(system)


def known_systems_text() -> str:
    """The allowed names, for error messages."""
    return (", ".join(CODE_SYSTEM_ALIASES)
            + " (or any of their URIs/OIDs listed in content/code-systems.yaml)")
