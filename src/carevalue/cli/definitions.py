"""`carevalue definitions validate | schema`: check content files, export JSON Schema for editors."""

from __future__ import annotations

from pathlib import Path

import typer

from carevalue.cli import app
from carevalue.cli.output import console, emit

definitions_app = typer.Typer(help="Definitions as data: validate content, export JSON Schema.",
                              no_args_is_help=True)
app.add_typer(definitions_app, name="definitions")
PATHS = typer.Argument(None, help=(
    "Content folders, kind folders or YAML files to check on top of the packaged content "
    "(later ones override earlier ones by kind and id)."))
CONTENT = typer.Option(None, "--content", help="A content folder layered over the packaged content (repeatable).")
JSON = typer.Option(False, "--json", help="Print the rows as JSON.")
OUT = typer.Option(..., "--out", help="Folder for <kind>.schema.json files.")


@definitions_app.command("validate")
def validate_cmd(
    paths: list[Path] | None = PATHS,
    content: list[Path] | None = CONTENT,
    as_json: bool = JSON,
) -> None:
    """Validate the definitions library; each error names the file, the field and what is allowed."""
    from carevalue.definitions.loader import load_library

    lib = load_library([*(content or []), *(paths or [])], strict=False)
    rows = [{"level": "error", "message": m} for m in lib.errors]
    rows += [{"level": "warning", "message": m} for m in lib.warnings]
    rows += [{"level": "override", "message": m} for m in lib.overrides]
    counts = {k: len(v) for k, v in sorted(lib.by_kind.items())}
    if as_json:
        emit(rows or [{"level": "ok", "message": f"valid: {counts}"}], "definitions", True)
    else:
        colours = {"error": "red", "warning": "yellow", "override": "cyan"}
        for r in rows:
            colour = colours[r["level"]]
            console.print(f"[{colour}]{r['level']}[/{colour}] {r['message']}", highlight=False)
        console.print(f"{sum(counts.values())} definitions {'with errors' if lib.errors else 'valid'}: "
                      + ", ".join(f"{k} {n}" for k, n in counts.items()) + f" (version {lib.digest()})")
    if lib.errors:
        raise typer.Exit(1)


@definitions_app.command("schema")
def schema_cmd(out: Path = OUT) -> None:
    """Write one JSON Schema per kind (for YAML editors / language servers)."""
    from carevalue.definitions.schema_export import export

    for p in export(out):
        console.print(str(p))
