"""Load and validate the YAML content: one definition per file, one folder per kind, one Library.

The library is the packaged content plus any number of content folders, later ones overriding
earlier ones by (kind, id); it records the file each definition came from. Errors are for people:
each names the file, the field path and what is allowed. Cross-references (a template naming a
bundle or an instrument) are checked; a reference to a kind that has no content yet is a warning.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from carevalue.definitions.base import KINDS, Definition
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.instrument import Instrument
from carevalue.definitions.process_map import CostingPolicy, ProcessMap
from carevalue.definitions.segment import Segment
from carevalue.definitions.yaml_text import read_yaml

CONTENT = Path(__file__).resolve().parents[1] / "content"


def register_all() -> dict[str, type[Definition]]:
    """Import every module of this package so each kind registers itself."""
    import carevalue.definitions as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("loader", "schema_export", "checks", "sources"):
            importlib.import_module(f"carevalue.definitions.{mod.name}")
    return KINDS


@dataclass
class Library:
    """Every definition loaded, by kind folder and id, with the file each came from.

    Engine code takes a Library (never reloads packaged content): ``library.kind("process_maps")``,
    or the typed helpers below.
    """

    by_kind: dict[str, dict[str, Definition]] = field(default_factory=dict)
    files: dict[tuple[str, str], Path] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)
    overrides: list[str] = field(default_factory=list)

    def kind(self, folder: str) -> dict[str, Any]:
        return self.by_kind.get(folder, {})

    def get(self, folder: str, id_: str) -> Any:
        return self.by_kind[folder][id_]

    def file_of(self, folder: str, id_: str) -> Path:
        """The file the definition was read from (the last one, when a content folder overrides it)."""
        return self.files[(folder, id_)]

    def conditions(self) -> list[ConditionTemplate]:
        return list(self.kind("conditions").values())

    def segments(self) -> list[Segment]:
        """Primary-care segments in evaluation order (priority)."""
        return sorted(self.kind("segments").values(), key=lambda s: s.priority)

    def process_maps(self) -> list[ProcessMap]:
        return list(self.kind("process_maps").values())

    def instruments(self) -> dict[str, Instrument]:
        return dict(self.kind("instruments"))

    def costing_policy(self, policy_id: str = "default") -> CostingPolicy:
        """The named costing policy; the model's defaults when the library has none of that id."""
        found = self.kind("costing_policies").get(policy_id)
        return found if found is not None else CostingPolicy(id=policy_id, title="Built-in defaults")

    def digest(self) -> str:
        """A short hash of every definition's content: the definitions version a run records."""
        h = hashlib.sha256()
        for folder in sorted(self.by_kind):
            for id_, obj in sorted(self.by_kind[folder].items()):
                h.update(f"{folder}/{id_}\n".encode())
                h.update(obj.model_dump_json().encode())
        return h.hexdigest()[:16]


class DefinitionError(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("invalid definitions:\n" + "\n".join(errors))
        self.errors = errors


def _unwrap(tp: Any) -> list[Any]:
    """The model classes an annotation can hold (through Annotated, Optional, unions, list, dict)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin in (list, tuple, set):
        return [m for a in typing.get_args(tp) for m in _unwrap(a)]
    if origin is dict:
        return _unwrap(typing.get_args(tp)[1])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    return []


def _has(model: type[BaseModel], part: str) -> str | None:
    if part in model.model_fields:
        return part
    return next((k for k, f in model.model_fields.items() if f.alias == part), None)


def _tagged(models: list[type[BaseModel]], tag: str) -> type[BaseModel] | None:
    """The union member whose ``kind`` literal is ``tag`` (pydantic puts the tag in the error path)."""
    for m in models:
        f = m.model_fields.get("kind")
        if f is not None and tag in typing.get_args(f.annotation):
            return m
    return None


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    cands: list[type[BaseModel]] = [model]
    for part in loc:
        if not cands:
            return None
        if isinstance(part, int):
            continue  # list index
        hit = next(((m, n) for m in cands if (n := _has(m, str(part)))), None)
        if hit is None:
            tagged = _tagged(cands, str(part))
            cands = [tagged] if tagged else cands  # a union tag, or a dict key
            continue
        cands = _unwrap(hit[0].model_fields[hit[1]].annotation)
    return cands[0] if len(cands) == 1 else None


def _field_names(model: type[BaseModel]) -> list[str]:
    return [f.alias or k for k, f in model.model_fields.items()]


def _tags(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The ``kind`` values a discriminated union at ``loc`` accepts."""
    cands: list[type[BaseModel]] = [model]
    for part in loc:
        if isinstance(part, int):
            continue
        hit = next(((m, n) for m in cands if (n := _has(m, str(part)))), None)
        if hit is None:
            return []
        cands = _unwrap(hit[0].model_fields[hit[1]].annotation)
    return [str(t) for m in cands if "kind" in m.model_fields for t in typing.get_args(m.model_fields["kind"].annotation)]


def explain(model: type[BaseModel], err: ValidationError, label: str) -> list[str]:
    """One readable line per pydantic error: file: field.path: what is wrong; what is allowed."""
    out = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = ".".join(str(p) for p in loc) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        ctx = e.get("ctx") or {}
        if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            field_ = ctx.get("discriminator", "kind").strip("'")
            allowed = ", ".join(_tags(model, loc)) or ctx.get("expected_tags", "")
            path = f"{path}.{field_}"
            msg = (f"unknown {field_} {ctx.get('tag')!r}" if e["type"] == "union_tag_invalid"
                   else "required field is missing") + f"; allowed: {allowed}"
            out.append(f"{label}: {path}: {msg}")
            continue
        if path == "(top level)" and (m := re.match(r"^([A-Za-z_][\w.\-]*): (.*)$", msg, re.S)):
            path, msg = m.group(1), m.group(2)  # a model check that names the field it is about
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
        data = read_yaml(path)
    except yaml.YAMLError as e:
        return None, [f"{label}: not valid YAML: {e}"]
    except UnicodeDecodeError as e:
        return None, [f"{label}: not UTF-8 text (byte {e.start}); save the definition as UTF-8 YAML"]
    if not isinstance(data, dict):
        return None, [f"{label}: (top level): expected a mapping of fields, got {type(data).__name__}"]
    try:
        obj = model.model_validate(data)
    except ValidationError as e:
        return None, explain(model, e, label)
    if obj.id != path.stem:
        return obj, [f"{label}: id: {obj.id!r} must equal the file name {path.stem!r}"]
    return obj, []


def _targets(root: Path, kinds: dict[str, type[Definition]], lib: Library) -> list[tuple[str, Path]]:
    """(kind folder, file) of every YAML file under a content folder, a kind folder or one file."""
    if root.is_file():
        return [(root.parent.name, root)]
    if not root.is_dir():
        lib.errors.append(f"{root}: no such file or folder")
        return []
    if root.name in kinds and not any((root / k).is_dir() for k in kinds):
        return [(root.name, p) for p in sorted(root.glob("*.y*ml"))]
    out: list[tuple[str, Path]] = []
    for folder in sorted(kinds):
        out += [(folder, p) for p in sorted((root / folder).glob("*.y*ml"))]
    for extra in sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in kinds):
        lib.warnings.append(f"{root / extra}: folder is not a known kind; known: {', '.join(sorted(kinds))}")
    return out


def load_library(content_dirs: Sequence[Path | str] = (), *, packaged: bool = True,
                 strict: bool = True) -> Library:
    """The packaged content, then each content folder in turn; a later definition with the same
    (kind, id) overrides an earlier one. A folder may also be one kind folder or one YAML file.

    References, phases, code systems and sources are checked on the whole library. With ``strict``
    a library with errors raises :class:`DefinitionError`.
    """
    kinds = register_all()
    lib = Library()
    roots = ([CONTENT] if packaged else []) + [Path(d) for d in content_dirs]
    for root in roots:
        lib.roots.append(root)
        seen: dict[tuple[str, str], Path] = {}
        for folder, path in _targets(root, kinds, lib):
            model = kinds.get(folder)
            if model is None:
                lib.errors.append(f"{path}: folder {folder!r} is not a known kind; known: {', '.join(sorted(kinds))}")
                continue
            obj, errs = load_file(path, model)
            lib.errors += errs
            if obj is None or errs:
                continue
            key = (folder, obj.id)
            if key in seen:
                lib.errors.append(f"{path}: id: {obj.id!r} is defined twice (also in {seen[key]})")
                continue
            seen[key] = path
            earlier = lib.files.get(key)
            if earlier is not None and earlier.resolve() != path.resolve():
                lib.overrides.append(f"{path}: {folder} {obj.id!r} overrides {earlier}")
            lib.by_kind.setdefault(folder, {})[obj.id] = obj
            lib.files[key] = path
    _check_references(lib, kinds)
    from carevalue.definitions.checks import check_library

    errors, warnings = check_library(lib)
    lib.errors += errors
    lib.warnings += warnings
    if strict and lib.errors:
        raise DefinitionError(lib.errors)
    return lib


def load(*roots: Path | str | None, strict: bool = True, packaged: bool = True) -> Library:
    """The packaged content plus each of ``roots`` (content folders, kind folders or files; None is
    skipped), later ones overriding earlier ones by (kind, id). See :func:`load_library`."""
    return load_library([r for r in roots if r is not None], packaged=packaged, strict=strict)


def _check_references(lib: Library, kinds: dict[str, type[Definition]]) -> None:
    """Every id a definition points to (a template's bundle, a map's template ...) is in the library."""
    for folder, objs in list(lib.by_kind.items()):
        for obj in objs.values():
            refs: list[tuple[str, str, str]] = getattr(obj, "references", list)()
            for kind, ref, where in refs:
                known = lib.kind(kind)
                if ref in known:
                    continue
                label = f"{lib.files[(folder, obj.id)]}: {where}"
                if kind not in kinds or not known:
                    lib.warnings.append(f"{label}: {kind} {ref!r} not checked: no {kind} content yet")
                else:
                    lib.errors.append(f"{label}: unknown {kind[:-1]} id {ref!r}; known: {', '.join(sorted(known))}")
