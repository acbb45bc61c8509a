"""The operational database (users, tokens, the audit log, the PROM inbox): SQLite files beside the
store by default, or one PostgreSQL database for multi-user deployments (``CAREVALUE_DATABASE_URL``).

Both speak the same small SQL (``?`` placeholders, ``ON CONFLICT``, ``RETURNING``); the tables come
from Alembic migrations (one branch per store, upgraded to head by ``ensure``). Every ``connect()``
is one short transaction, committed on success.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from carevalue.api.sqlite_file import SqliteFile

Dialect = Literal["sqlite", "postgresql"]
ENV = "CAREVALUE_DATABASE_URL"


class Cursor(Protocol):
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Cursor: ...


class OpsDB(Protocol):
    dialect: Dialect

    def connect(self) -> contextlib.AbstractContextManager[Connection]: ...

    def single(self) -> contextlib.AbstractContextManager[Connection]: ...

    def ensure(self, branch: str) -> None: ...


class SqliteOps:
    """One SQLite file per store (``users.sqlite``, ``audit.sqlite``, ``prom-inbox.sqlite``)."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: SqliteFile | None = None

    def ensure(self, branch: str) -> None:
        """Upgrade the file's store (its Alembic branch) to head, creating the file if need be."""
        from carevalue.api.schema_migrations import upgrade

        self._file = SqliteFile(self.path)
        upgrade(self.path, branch)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        if self._file is None:
            raise RuntimeError("ensure() the schema first")
        with self._file.connect() as con:
            yield con  # type: ignore[misc]

    def single(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection for one statement (SQLite: the same short transaction as ``connect``)."""
        return self.connect()


class Row(tuple[Any, ...]):
    """A result row read by position or by column name, like ``sqlite3.Row``."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def _row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())
    kind = type("Row", (Row,), {"names": names})
    return lambda values: kind(values)


class _PgConnection:
    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        if not params:
            return self.con.execute(sql)  # type: ignore[no-any-return]
        return self.con.execute(sql.replace("?", "%s"), tuple(params))  # type: ignore[no-any-return]


class PostgresOps:
    """One PostgreSQL database shared by every worker process (a small connection pool each)."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str, min_size: int = 4, max_size: int = 8) -> None:
        from psycopg_pool import ConnectionPool

        self.url = url
        self.pool = ConnectionPool(url, min_size=min_size, max_size=max_size, open=True,
                                   kwargs={"row_factory": _row_factory, "autocommit": True},
                                   name="carevalue-ops")

    def ensure(self, branch: str) -> None:
        """Upgrade the store's Alembic branch to head (workers starting at once take turns)."""
        from carevalue.api.schema_migrations import upgrade

        upgrade(self.url, branch)

    @contextlib.contextmanager
    def connect(self) -> Iterator[Connection]:
        """One transaction (BEGIN ... COMMIT, rolled back on an exception)."""
        with self.pool.connection() as con, con.transaction():
            yield _PgConnection(con)

    @contextlib.contextmanager
    def single(self) -> Iterator[Connection]:
        """A connection for one statement, which PostgreSQL commits by itself (autocommit): one
        round trip instead of three for a read, or for a write that is one statement."""
        with self.pool.connection() as con:
            yield _PgConnection(con)

    def close(self) -> None:
        self.pool.close()


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def open_ops(url: str | None, folder: Path, name: str) -> OpsDB:
    """The PostgreSQL database at ``url`` (shared by all stores of a deployment) or, without one,
    the SQLite file ``folder/name.sqlite``."""
    if url and is_postgres(url):
        return _shared_pg(url)
    if url:
        raise ValueError(f"{ENV} must be a postgresql:// URL (got {url.split('://')[0]}://...)")
    return SqliteOps(folder / f"{name}.sqlite")


_POOLS: dict[tuple[int, str], PostgresOps] = {}


def _shared_pg(url: str) -> PostgresOps:
    """One pool per process and URL (users, audit and inbox share it)."""
    key = (os.getpid(), url)
    if key not in _POOLS:
        _POOLS[key] = PostgresOps(url)
    return _POOLS[key]


def database_url(given: str | None = None) -> str | None:
    """The operational database: ``given`` (``--database``), else ``CAREVALUE_DATABASE_URL``, else None."""
    return given or os.environ.get(ENV) or None


def integrity_errors() -> tuple[type[BaseException], ...]:
    """The exceptions a constraint or trigger violation raises, in either dialect."""
    out: list[type[BaseException]] = [sqlite3.DatabaseError]
    with contextlib.suppress(ImportError):
        import psycopg

        out.append(psycopg.Error)
    return tuple(out)
