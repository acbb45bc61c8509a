"""The `carevalue` command. Each feature registers its commands from its own module."""

from __future__ import annotations

import typer

app = typer.Typer(help="carevalue: outcomes that matter ÷ cost of the full care cycle.",
                  no_args_is_help=True, add_completion=False)

# One import per feature; each module adds its commands to `app`.
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


def main() -> None:
    app()
