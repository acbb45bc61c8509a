"""`carevalue serve` (the REST API over one store) and `carevalue users add|list` (its accounts)."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console, emit

STORE = typer.Option(Path("carevalue.duckdb"), "--store", help="DuckDB store written by ingest.")
CONTENT = typer.Option(None, "--content", help="Extra definitions folders (later ones override).")
OPS = typer.Option(None, "--ops", help="Folder of the SQLite user store, audit log and PROM inbox, and of the "
                                       "PROM batch files; default <store>.ops/.")
DATABASE = typer.Option(None, "--database", envvar="CAREVALUE_DATABASE_URL",
                        help="postgresql://... for users, tokens, audit log and PROM inbox (default: SQLite in --ops).")

users = typer.Typer(help="Accounts of the API and dashboard (stored apart from the analytic store).",
                    no_args_is_help=True)
app.add_typer(users, name="users")
proms = typer.Typer(help="The inbox of PROM answers submitted through the API.", no_args_is_help=True)
app.add_typer(proms, name="proms")


def _ops(store: Path, ops: Path | None) -> Path:
    from carevalue.api.app import ops_folder

    return ops if ops is not None else ops_folder(store)


LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")


def served_lines(store: Path, host: str, port: int, where: str) -> list[str]:
    """What `carevalue serve` prints before it starts: the dashboard's and the API's URLs, and
    whether other machines can reach them (only 127.0.0.1 unless --host says otherwise)."""
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    reach = ("bound to 127.0.0.1 only: reachable from this machine alone (--host to change it)"
             if host in LOCAL_HOSTS else
             f"bound to {host}: reachable from other machines; pages need a sign-in "
             "(`carevalue users add`)")
    return [f"serving {store}",
            f"  dashboard  {base}/dashboard/  (sign in with a user from `carevalue users add`)",
            f"  REST API   {base}/api/v1  (OpenAPI: {base}/openapi.json)",
            f"  {reach}",
            f"  users, audit log and PROM inbox in {where}"]


@app.command("serve")
def serve_cmd(
    store: Path = STORE,
    content: list[Path] | None = CONTENT,
    ops: Path | None = OPS,
    database: str | None = DATABASE,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    workers: int = typer.Option(1, "--workers", help="Worker processes (more than 1 needs --database)."),
    token_hours: float = typer.Option(8.0, "--token-hours", help="Hours a sign-in token stays valid."),
    drain_every: float = typer.Option(5.0, "--drain-every", help="Seconds between drains of the PROM inbox "
                                      "into the store (0: only `carevalue proms drain`)."),
) -> None:
    """Serve the web dashboard (/dashboard/) and the REST API (/api/v1, OpenAPI at /openapi.json)
    over one store; it prints both URLs. Binds to 127.0.0.1 unless --host says otherwise."""
    from carevalue.api.server import serve
    from carevalue.workspace import Workspace, WorkspaceError

    try:
        Workspace.open(store)
    except WorkspaceError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    where = "PostgreSQL" if database else str(_ops(store, ops))
    for line in served_lines(store, host, port, where):
        console.print(line, highlight=False, soft_wrap=True)
    try:
        serve(store, content or (), ops=ops, database=database, host=host, port=port, workers=workers,
              token_hours=token_hours, drain_every=drain_every or None)
    except ValueError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None


@users.command("add")
def users_add(
    username: str = typer.Argument(..., help="Sign-in name."),
    role: str = typer.Option(..., "--role", help="admin, analyst, clinician, payer, employer or patient."),
    patient_id: str | None = typer.Option(None, "--patient-id", help="patient role: the patient they are."),
    ipu: list[str] | None = typer.Option(None, "--ipu", help="clinician role: an IPU whose patients they see."),
    store: Path = STORE,
    ops: Path | None = OPS,
    database: str | None = DATABASE,
    password: str = typer.Option(..., "--password", prompt=True, hide_input=True, confirmation_prompt=True,
                                 envvar="CAREVALUE_PASSWORD", help="At least 12 characters (prompted)."),
) -> None:
    """Create a user of the API (password hashed with argon2id)."""
    from carevalue.api.audit import AuditLog, Entry
    from carevalue.api.opsdb import open_ops
    from carevalue.api.users import Role, UserError, UserStore

    folder = _ops(store, ops)
    if role not in Role.__members__:
        console.print(f"[red]unknown role {role!r}: choose one of {', '.join(Role.__members__)}[/red]")
        raise typer.Exit(2)
    try:
        u = UserStore(open_ops(database, folder, "users")).add(username, password, role, patient_id, ipu or ())
    except UserError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    AuditLog(open_ops(database, folder, "audit")).append(Entry(None, "cli", f"add user {u.username} ({u.role.value})",
                                                   u.patient_id, "command line", "allowed"))
    where = "PostgreSQL" if database else folder / "users.sqlite"
    console.print(f"user {u.username} ({u.role.value}) added to {where}", highlight=False)


@users.command("list")
def users_list(store: Path = STORE, ops: Path | None = OPS, database: str | None = DATABASE,
               as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON.")) -> None:
    """The API's users and their roles (never their passwords)."""
    from carevalue.api.opsdb import open_ops
    from carevalue.api.users import UserStore

    rows = [{"username": u.username, "role": u.role.value, "patient_id": u.patient_id,
             "ipu_ids": ",".join(u.ipu_ids)} for u in UserStore(open_ops(database, _ops(store, ops), "users")).list()]
    emit(rows, "users", as_json)


@proms.command("drain")
def proms_drain(store: Path = STORE, content: list[Path] | None = CONTENT, ops: Path | None = OPS,
                database: str | None = DATABASE,
                batch_size: int = typer.Option(5000, "--batch-size", help="Responses per ingested file."),
                every: float = typer.Option(0, "--every", help="Keep draining every this many seconds (0: once)."),
                as_json: bool = typer.Option(False, "--json", help="Print the batches as JSON.")) -> None:
    """Ingest the PROM answers waiting in the inbox into the store, in batches (each one NDJSON file)."""
    from carevalue.api.opsdb import open_ops
    from carevalue.api.prom_intake import DrainBusy, PromInbox, drain_forever
    from carevalue.workspace import Workspace, WorkspaceError

    folder = _ops(store, ops)
    inbox = PromInbox(open_ops(database, folder, "prom-inbox"), folder / "prom-batches")
    if every > 0:
        drain_forever(inbox, Workspace.open(store, content or ()), every, batch_size)
        return
    try:
        done = inbox.drain(Workspace.open(store, content or ()), batch_size=batch_size, wait=60)
    except (DrainBusy, WorkspaceError) as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    emit([b.as_json() | {"reasons": ", ".join(f"{k}: {v}" for k, v in b.reasons.items())} for b in done]
         if not as_json else [b.as_json() for b in done], "PROM batches ingested", as_json)
