"""Load and validate the YAML content: one definition per file, one folder per kind.

Errors are for people: each names the file, the field path and what is allowed. Cross-references
(a template naming a bundle or an instrument) are checked; a reference to a kind that has no
content folder yet is a warning, not an error.
"""

from __future__ import annotations

import importlib
import pkgutil
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from carevalue.definitions.base import KINDS, Definition

CONTENT = Path(__file__).resolve().parents[1] / "content"


def register_all() -> dict[str, type[Definition]]:
    """Import every module of this package so each kind registers itself."""
    import carevalue.definitions as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("loader", "schema_export"):
            importlib.import_module(f"carevalue.definitions.{mod.name}")
    return KINDS


@dataclass
class Library:
    """Every definition loaded, by kind folder and id."""

    by_kind: dict[str, dict[str, Definition]] = field(default_factory=dict)
    files: dict[tuple[str, str], Path] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def kind(self, folder: str) -> dict[str, Any]:
        return self.by_kind.get(folder, {})

    def get(self, folder: str, id_: str) -> Any:
        return self.by_kind[folder][id_]


class DefinitionError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid definitions:\n" + "\n".join(errors))
        self.errors = errors


def _unwrap(tp: Any) -> list[Any]:
    """The model classes an annotation can hold (through Optional, list, dict)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin in (list, tuple, set):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin is dict:
        return _unwrap(typing.get_args(tp)[1])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    cur: type[BaseModel] | None = model
    for part in loc:
        if cur is None:
            return None
        if isinstance(part, int) or part not in cur.model_fields and not any(
            f.alias == part for f in cur.model_fields.values()
        ):
            continue  # list index, dict key, or union tag
        name = part if part in cur.model_fields else next(k for k, f in cur.model_fields.items() if f.alias == part)
        models = _unwrap(cur.model_fields[name].annotation)
        cur = models[0] if models else None
    return cur


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or k for k, f in model.model_fields.items()]


def explain(model: type[BaseModel], err: ValidationError, label: str) -> list[str]:
    """One readable line per pydantic error: file: field.path: what is wrong; what is allowed."""
    out = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = ".".join(str(p) for p in loc) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            parent = _model_at(model, loc[:-1])
            allowed = ", ".join(_field_names(parent)) if parent else "see the JSON Schema"
            msg = f"unknown field; allowed fields here: {allowed}"
        elif e["type"] == "missing":
            msg = "required field is missing"
        elif "input" in e and e["type"] not in ("model_type", "dict_type", "list_type"):
            got = e["input"]
            if not isinstance(got, dict | list):
                msg += f" (got {got!r})"
        out.append(f"{label}: {path}: {msg}")
    return out


def load_file(path: Path, model: type[Definition], label: str | None = None) -> tuple[Definition | None, list[str]]:
    label = label or str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        return None, [f"{label}: not valid YAML: {e}"]
    if not isinstance(data, dict):
        return None, [f"{label}: (top level): expected a mapping of fields, got {type(data).__name__}"]
    try:
        obj = model.model_validate(data)
    except ValidationError as e:
        return None, explain(model, e, label)
    if obj.id != path.stem:
        return obj, [f"{label}: id: {obj.id!r} must equal the file name {path.stem!r}"]
    return obj, []


def load(root: Path | str | None = None, strict: bool = True) -> Library:
    """Load every kind folder under ``root`` (default: the packaged content).

    ``root`` may also be one kind folder or one file; references are then checked against the
    packaged content too. With ``strict`` a library with errors raises :class:`DefinitionError`.
    """
    kinds = register_all()
    root = Path(root) if root else CONTENT
    lib = Library()
    targets: list[tuple[str, Path]] = []
    if root.is_file():
        targets = [(root.parent.name, root)]
    elif root.name in kinds and not any((root / k).is_dir() for k in kinds):
        targets = [(root.name, p) for p in sorted(root.glob("*.y*ml"))]
    else:
        for folder in sorted(kinds):
            targets += [(folder, p) for p in sorted((root / folder).glob("*.y*ml"))]
        for extra in sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in kinds) if root.is_dir() else []:
            lib.warnings.append(f"{root / extra}: folder is not a known kind; known: {', '.join(sorted(kinds))}")
    if not targets and not root.exists():
        lib.errors.append(f"{root}: no such file or folder")
    for folder, path in targets:
        model = kinds.get(folder)
        if model is None:
            lib.errors.append(f"{path}: folder {folder!r} is not a known kind; known: {', '.join(sorted(kinds))}")
            continue
        obj, errs = load_file(path, model)
        lib.errors += errs
        if obj is not None and not errs:
            if obj.id in lib.by_kind.get(folder, {}):
                lib.errors.append(f"{path}: id: {obj.id!r} is defined twice (also in {lib.files[(folder, obj.id)]})")
            lib.by_kind.setdefault(folder, {})[obj.id] = obj
            lib.files[(folder, obj.id)] = path
    _check_references(lib, root, kinds)
    if strict and lib.errors:
        raise DefinitionError(lib.errors)
    return lib


def _check_references(lib: Library, root: Path, kinds: dict[str, type[Definition]]) -> None:
    packaged: Library | None = None
    for folder, objs in list(lib.by_kind.items()):
        for obj in objs.values():
            refs: list[tuple[str, str, str]] = getattr(obj, "references", list)()
            for kind, ref, where in refs:
                known = lib.kind(kind)
                if ref in known:
                    continue
                if root != CONTENT:
                    if packaged is None:
                        packaged = load(CONTENT, strict=False)
                    if ref in packaged.kind(kind):
                        continue
                label = f"{lib.files[(folder, obj.id)]}: {where}"
                has_content = any((base / kind).is_dir() and any((base / kind).glob("*.y*ml"))
                                  for base in {root if root.is_dir() else root.parent.parent, CONTENT})
                if kind not in kinds or not has_content:
                    lib.warnings.append(f"{label}: {kind} {ref!r} not checked: no {kind} content yet")
                else:
                    ids = sorted(set(lib.kind(kind)) | set(packaged.kind(kind) if packaged else {}))
                    lib.errors.append(f"{label}: unknown {kind[:-1]} id {ref!r}; known: {', '.join(ids) or 'none'}")


def load_library(content: Sequence[Path | str] = (), strict: bool = True) -> Library:
    """The packaged content plus each folder in ``content``; a later definition replaces an earlier
    one of the same kind and id (so a user's folder can override or add templates)."""
    lib = load(CONTENT, strict=strict)
    for root in content:
        extra = load(root, strict=strict)
        lib.errors += extra.errors
        lib.warnings += extra.warnings
        for folder, objs in extra.by_kind.items():
            for id_, obj in objs.items():
                lib.by_kind.setdefault(folder, {})[id_] = obj
                lib.files[(folder, id_)] = extra.files[(folder, id_)]
    return lib
