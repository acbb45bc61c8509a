"""`python -m carevalue.cli` runs the `carevalue` command."""

from carevalue.cli import main

main()
