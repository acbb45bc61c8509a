"""Options every command shares and the one way a command opens the workspace."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from carevalue.workspace import Workspace

T = TypeVar("T")
OPENED: list[Workspace] = []

STORE = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by `carevalue ingest`.")
CONTENT = typer.Option(None, "--content", help="A content folder layered over the packaged definitions "
                       "(repeatable; later folders override by id).")
JSON = typer.Option(False, "--json", help="Print one JSON document instead of a table.")


def workspace(store: Path, content: Sequence[Path] | None = None, must_exist: bool = True,
              backend: str | None = None) -> Workspace:
    """``Workspace.open(store, content=...)``: the façade every command makes its one call into."""
    from carevalue.workspace import Workspace

    ws = Workspace.open(store, content=list(content or []), backend=backend, must_exist=must_exist)
    OPENED.append(ws)  # closed when the command ends, also when it fails (cli/errors.guarded)
    return ws


def close_opened() -> None:
    """Close every workspace a command opened (its read connection), newest first."""
    while OPENED:
        OPENED.pop().close()


def asked(call: Callable[[], T], check: Callable[[], Any]) -> T:
    """The façade's answer; when it fails (a missing table, an id the store does not have), ``check``
    runs first, so an id the definitions library does not know either is reported as the typo it is,
    with close matches. An id the store has but the library does not (another --content) still works."""
    from carevalue.queries.base import QueryError
    from carevalue.workspace import WorkspaceError

    try:
        return call()
    except (QueryError, WorkspaceError):
        check()
        raise
