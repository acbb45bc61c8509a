"""Schema migrations of the operational store with Alembic (``carevalue/api/migrations``): every
store upgrades its branch to head when it is opened, so a server, ``carevalue users add`` or
``proms drain`` always finds the tables it expects; a database made before Alembic is adopted (the
first revisions create only what is missing) and keeps its rows.

Migrations go through SQLAlchemy Core on their own short-lived connection; requests never do.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

BRANCHES = ("users", "audit", "inbox")
FOLDER = Path(__file__).with_name("migrations")

_lock = threading.Lock()
_script: ScriptDirectory | None = None


def sqlalchemy_url(target: str | Path) -> str:
    """The SQLAlchemy URL of a ``postgresql://`` libpq URL (driver psycopg 3) or a SQLite file path."""
    s = str(target)
    for scheme in ("postgresql://", "postgres://"):
        if s.startswith(scheme):
            return "postgresql+psycopg://" + s[len(scheme):]
    return f"sqlite:///{Path(s).resolve()}"


def config(target: str | Path) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(FOLDER))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(target).replace("%", "%%"))
    return cfg


def script() -> ScriptDirectory:
    global _script
    from alembic.script import ScriptDirectory

    if _script is None:
        _script = ScriptDirectory.from_config(config("unused.sqlite"))
    return _script


def head(branch: str) -> str:
    """The head revision of one store's branch."""
    rev = script().get_revision(f"{branch}@head")
    assert rev is not None
    return rev.revision


def _run(target: str | Path, fn: str, revision: str) -> None:
    from alembic import command
    from sqlalchemy import create_engine, pool

    engine = create_engine(sqlalchemy_url(target), poolclass=pool.NullPool)
    try:
        with engine.connect() as con:
            cfg = config(target)
            cfg.attributes["connection"] = con
            getattr(command, fn)(cfg, revision)
            con.commit()
    finally:
        engine.dispose()


def current(target: str | Path) -> set[str]:
    """The revisions the database is at (one per branch it holds; empty before Alembic)."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine, pool

    engine = create_engine(sqlalchemy_url(target), poolclass=pool.NullPool)
    try:
        with engine.connect() as con:
            return set(MigrationContext.configure(con).get_current_heads())
    finally:
        engine.dispose()


def upgrade(target: str | Path, branch: str, revision: str = "head") -> None:
    """Upgrade one store's branch (``users``, ``audit``, ``inbox``) to ``revision`` (default head)."""
    if branch not in BRANCHES:
        raise ValueError(f"no store {branch!r} (one of {', '.join(BRANCHES)})")
    with _lock:  # at head already: Alembic reads the version table and does nothing
        _run(target, "upgrade", f"{branch}@{revision}")


def downgrade(target: str | Path, branch: str, revision: str = "base") -> None:
    """Downgrade one store's branch to ``revision`` (default: no tables of that store left)."""
    with _lock:
        _run(target, "downgrade", f"{branch}@{revision}")
