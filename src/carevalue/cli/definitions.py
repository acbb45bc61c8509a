"""`carevalue definitions validate | schema`: check content files, export JSON Schema for editors."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console, emit

definitions_app = typer.Typer(help="Definitions as data: validate content, export JSON Schema.",
                              no_args_is_help=True)
app.add_typer(definitions_app, name="definitions")
PATH = typer.Argument(None, help="Content folder, kind folder or one YAML file (default: packaged content).")
JSON = typer.Option(False, "--json", help="Print the rows as JSON.")
OUT = typer.Option(..., "--out", help="Folder for <kind>.schema.json files.")


@definitions_app.command("validate")
def validate_cmd(
    path: Path | None = PATH,
    as_json: bool = JSON,
) -> None:
    """Validate definitions; each error names the file, the field and what is allowed."""
    from carevalue.definitions.loader import load

    lib = load(path, strict=False)
    rows = [{"level": "error", "message": m} for m in lib.errors]
    rows += [{"level": "warning", "message": m} for m in lib.warnings]
    counts = {k: len(v) for k, v in sorted(lib.by_kind.items())}
    if as_json:
        emit(rows or [{"level": "ok", "message": f"valid: {counts}"}], "definitions", True)
    else:
        for r in rows:
            colour = "red" if r["level"] == "error" else "yellow"
            console.print(f"[{colour}]{r['level']}[/{colour}] {r['message']}", highlight=False)
        console.print(f"{sum(counts.values())} definitions valid: "
                      + ", ".join(f"{k} {n}" for k, n in counts.items()))
    if lib.errors:
        raise typer.Exit(1)


@definitions_app.command("schema")
def schema_cmd(out: Path = OUT) -> None:
    """Write one JSON Schema per kind (for YAML editors / language servers)."""
    from carevalue.definitions.schema_export import export

    for p in export(out):
        console.print(str(p))
