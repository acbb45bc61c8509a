"""The `carevalue` command. Each feature registers its commands from its own module.

Command modules import only typer at load time (the engine is imported inside each command), so
`carevalue --help` starts in well under a second. Errors are turned into one line in cli/errors.py.
"""

from __future__ import annotations

import typer

from carevalue import __version__

app = typer.Typer(help="carevalue: outcomes that matter ÷ cost of the full care cycle.",
                  no_args_is_help=True, add_completion=True, pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"carevalue {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """carevalue: outcomes that matter ÷ cost of the full care cycle."""


# One import per feature; each module adds its commands to `app`.
from carevalue.cli import catalog as _catalog  # noqa: E402,F401
from carevalue.cli import costs as _costs  # noqa: E402,F401
from carevalue.cli import definitions as _definitions  # noqa: E402,F401
from carevalue.cli import demo as _demo  # noqa: E402,F401
from carevalue.cli import ingest as _ingest  # noqa: E402,F401
from carevalue.cli import network as _network  # noqa: E402,F401
from carevalue.cli import outcomes as _outcomes  # noqa: E402,F401
from carevalue.cli import payment as _payment  # noqa: E402,F401
from carevalue.cli import report as _report  # noqa: E402,F401
from carevalue.cli import riskscores as _riskscores  # noqa: E402,F401
from carevalue.cli import run as _run  # noqa: E402,F401
from carevalue.cli import serve as _serve  # noqa: E402,F401
from carevalue.cli import synth as _synth  # noqa: E402,F401
from carevalue.cli.errors import guard_all  # noqa: E402

guard_all(app)


def main() -> None:
    app()
