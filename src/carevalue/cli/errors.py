"""The one place where carevalue's errors become a one-line message and a non-zero exit code.

Every command's callback is wrapped by :func:`guarded` when the app is assembled (``cli/__init__``);
no traceback reaches a user. ``CAREVALUE_DEBUG=1`` re-raises, for developers.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import typer

USAGE, FAILED, LOCKED, INTERRUPTED = 2, 1, 3, 130
# typer vendors click: take its exception classes from typer, whichever click that is
CLICK_EXCEPTIONS: tuple[type[BaseException], ...] = tuple(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException" and issubclass(c, BaseException))
PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, *CLICK_EXCEPTIONS)


def _first_line(text: str) -> str:
    lines = [x.strip() for x in str(text).splitlines() if x.strip()]
    return lines[0] if lines else ""


def _duckdb(e: Exception) -> tuple[str, int]:
    text = _first_line(str(e))
    low = text.lower()
    if "lock" in low:
        return ("the store is open in another process (an ingest or run still writing?); "
                f"wait for it to finish and try again [{text}]", LOCKED)
    if "not a valid duckdb" in low or "unable to open database" in low or "magic" in low:
        return (f"this file is not a carevalue store (not a DuckDB database): {text}; "
                "pass the file written by `carevalue ingest` with --store", USAGE)
    if "catalog error" in low or "does not exist" in low:
        return (f"the store lacks a table this needs ({text}); is it a carevalue store? "
                "Create one with `carevalue ingest PATH --store FILE`", USAGE)
    return f"the store could not be read: {text}", FAILED


def describe(e: BaseException) -> tuple[str, int]:
    """A one-line message saying what is wrong and what to do, and the exit code."""
    from carevalue.definitions.loader import DefinitionError
    from carevalue.pipeline.runs import RunLocked
    from carevalue.pipeline.stage import StageError
    from carevalue.queries.base import QueryError
    from carevalue.workspace import WorkspaceError

    if isinstance(e, KeyboardInterrupt):
        return "interrupted", INTERRUPTED
    if isinstance(e, RunLocked):
        return str(e), LOCKED
    if isinstance(e, DefinitionError):
        more = f" (and {len(e.errors) - 1} more)" if len(e.errors) > 1 else ""
        return (f"invalid definitions: {_first_line(e.errors[0]) if e.errors else e}{more}; "
                "`carevalue definitions validate` lists them all", USAGE)
    if isinstance(e, QueryError | WorkspaceError):
        return _first_line(str(e)), USAGE
    if isinstance(e, StageError):
        return _first_line(str(e)), FAILED
    if isinstance(e, FileNotFoundError):
        return f"no such file or folder: {e.filename or e}", USAGE
    if isinstance(e, IsADirectoryError | NotADirectoryError | PermissionError):
        return f"{e.strerror or e}: {e.filename}", USAGE
    if isinstance(e, UnicodeDecodeError):
        return (f"a file is not UTF-8 text (binary, or another encoding): {e.reason} at byte {e.start}; "
                "definitions and data files must be UTF-8", USAGE)
    try:
        import duckdb

        if isinstance(e, duckdb.Error):
            return _duckdb(e)  # type: ignore[arg-type]
    except ImportError:  # pragma: no cover - duckdb is a dependency
        pass
    return (f"unexpected error: {type(e).__name__}: {_first_line(str(e))} "
            "(rerun with CAREVALUE_DEBUG=1 for the traceback, and please report it)", FAILED)


def fail(message: str, code: int, as_json: bool = False) -> None:
    """Print ``error: message`` on stderr (and ``{"error": ...}`` on stdout with --json), then exit."""
    from carevalue.cli.output import errors, print_json

    if as_json:
        print_json({"error": message, "exit_code": code})
    errors.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def guarded(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a command so carevalue's errors print one line and exit non-zero."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kw: Any) -> Any:
        from carevalue.cli.common import close_opened

        try:
            return fn(*args, **kw)
        except PASS_THROUGH:
            raise
        except (Exception, KeyboardInterrupt) as e:
            if os.environ.get("CAREVALUE_DEBUG"):
                raise
            message, code = describe(e)
            fail(message, code, bool(kw.get("as_json")))
        finally:
            close_opened()

    wrapper.__carevalue_guarded__ = True  # type: ignore[attr-defined]
    return wrapper


def guard_all(app: typer.Typer) -> None:
    """Wrap every command of ``app`` and of its sub-apps (idempotent)."""
    for cmd in app.registered_commands:
        if cmd.callback is not None and not getattr(cmd.callback, "__carevalue_guarded__", False):
            cmd.callback = guarded(cmd.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            guard_all(group.typer_instance)
