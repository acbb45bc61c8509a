"""`carevalue serve` (the REST API over one store) and `carevalue users add|list` (its accounts)."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console, emit

STORE = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest.")
CONTENT = typer.Option(None, "--content", help="Extra definitions folders (later ones override).")
OPS = typer.Option(None, "--ops", help="Folder of the user store and audit log; default <store>.ops/.")

users = typer.Typer(help="Accounts of the API and dashboard (stored apart from the analytic store).",
                    no_args_is_help=True)
app.add_typer(users, name="users")


def _ops(store: Path, ops: Path | None) -> Path:
    from carevalue.api.app import ops_folder

    return ops if ops is not None else ops_folder(store)


@app.command("serve")
def serve_cmd(
    store: Path = STORE,
    content: list[Path] | None = CONTENT,
    ops: Path | None = OPS,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    token_hours: float = typer.Option(8.0, "--token-hours", help="Hours a sign-in token stays valid."),
) -> None:
    """Serve the REST API (OpenAPI at /openapi.json, routes under /api/v1) over one store."""
    from datetime import timedelta

    import uvicorn

    from carevalue.api.app import create_app
    from carevalue.workspace import WorkspaceError

    try:
        api = create_app(store, content or (), ops=ops, token_ttl=timedelta(hours=token_hours))
    except WorkspaceError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    console.print(f"serving {store} at http://{host}:{port}/api/v1 (OpenAPI: /openapi.json; "
                  f"users and audit log in {_ops(store, ops)})", highlight=False)
    uvicorn.run(api, host=host, port=port, log_level="warning")


@users.command("add")
def users_add(
    username: str = typer.Argument(..., help="Sign-in name."),
    role: str = typer.Option(..., "--role", help="admin, analyst, clinician, payer, employer or patient."),
    patient_id: str | None = typer.Option(None, "--patient-id", help="patient role: the patient they are."),
    ipu: list[str] | None = typer.Option(None, "--ipu", help="clinician role: an IPU whose patients they see."),
    store: Path = STORE,
    ops: Path | None = OPS,
    password: str = typer.Option(..., "--password", prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="CAREVALUE_PASSWORD", help="At least 12 characters (prompted)."),
) -> None:
    """Create a user of the API (password hashed with argon2id)."""
    from carevalue.api.audit import AuditLog, Entry
    from carevalue.api.users import Role, UserError, UserStore

    folder = _ops(store, ops)
    if role not in Role.__members__:
        console.print(f"[red]unknown role {role!r}: choose one of {', '.join(Role.__members__)}[/red]")
        raise typer.Exit(2)
    try:
        u = UserStore(folder / "users.sqlite").add(username, password, role, patient_id, ipu or ())
    except UserError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    AuditLog(folder / "audit.sqlite").append(Entry(None, "cli", f"add user {u.username} ({u.role.value})",
                                                   u.patient_id, "command line", "allowed"))
    console.print(f"user {u.username} ({u.role.value}) added to {folder / 'users.sqlite'}", highlight=False)


@users.command("list")
def users_list(store: Path = STORE, ops: Path | None = OPS,
               as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON.")) -> None:
    """The API's users and their roles (never their passwords)."""
    from carevalue.api.users import UserStore

    rows = [{"username": u.username, "role": u.role.value, "patient_id": u.patient_id,
             "ipu_ids": ",".join(u.ipu_ids)} for u in UserStore(_ops(store, ops) / "users.sqlite").list()]
    emit(rows, "users", as_json)
