"""What the API tests share outside fixtures: the test users' password and a store copier
(imported by module name; ``conftest`` is ambiguous when several test folders have one)."""

from __future__ import annotations

import shutil
from pathlib import Path

PASSWORD = "correct horse battery"


def copy_store(src: Path, dest: Path) -> Path:
    """A private copy of a store and its runs folder (tests that write must not share one)."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, dest / src.name)
    shutil.copytree(src.with_name(src.name + ".runs"), dest / (src.name + ".runs"))
    return dest / src.name
