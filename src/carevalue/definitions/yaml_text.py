"""Read a content YAML file: libyaml's C parser when PyYAML has it, and each file parsed once per
process while it is unchanged (content is read by every workspace, test and stage)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_PARSED: dict[tuple[str, int, int], Any] = {}


def parse(text: str) -> Any:
    """The YAML document in ``text`` (safe types only); raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - a safe loader


def read_yaml(path: Path) -> Any:
    """The parsed document of a UTF-8 YAML file, re-read when its size or modification time
    changes; callers get their own copy. Raises ``yaml.YAMLError`` / ``UnicodeDecodeError``."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    if key not in _PARSED:
        _PARSED[key] = parse(path.read_text(encoding="utf-8"))
    return copy.deepcopy(_PARSED[key])
