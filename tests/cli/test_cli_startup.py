"""`carevalue --help` starts fast (no engine imported), --version, completion, 80-column tables."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import tomllib
from pathlib import Path

from typer.testing import CliRunner

import carevalue
from carevalue.cli import app
from carevalue.cli.output import cell, header

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("ibis", "pandas", "duckdb", "numpy", "scipy", "statsmodels", "plotly", "carevalue.workspace",
         "carevalue.engine", "carevalue.definitions")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin", "COLUMNS": "80"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)


def test_help_imports_no_engine_and_takes_under_a_second_of_cpu() -> None:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = _python("import sys\nfrom carevalue.cli import app\n"
                  "try:\n    app(['--help'])\nexcept SystemExit:\n    pass\n"
                  f"print('LOADED', sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r} "
                  f"or any(m.startswith(h + '.') or m == h for h in {HEAVY!r})))")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert "run" in out.stdout and "segments" in out.stdout
    assert out.stdout.strip().endswith("LOADED []"), out.stdout[-400:]
    assert cpu < 1.0, f"--help used {cpu:.2f} s of CPU"


def test_version_matches_the_package() -> None:
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and res.stdout.strip() == f"carevalue {meta}" == f"carevalue {carevalue.__version__}"


def test_shell_completion_is_offered() -> None:
    res = CliRunner().invoke(app, ["--help"])
    assert "--install-completion" in res.stdout and "--show-completion" in res.stdout


def test_cells_read_as_numbers_people_use() -> None:
    assert [cell(12345), cell(1234.567), cell(123.456), cell(1.23456), cell(0.012345), cell(None), cell(True)] == [
        "12,345", "1,235", "123.5", "1.23", "0.0123", "", "yes"]
    assert cell(1961, "birth_year") == "1961" and header("organization_id") == "provider"
    assert header("patients_moved_in") == "moved in" and header("mean_cost") == "mean cost"


def test_tables_fit_80_columns(store: Path) -> None:
    for args in (["segments"], ["risk-scores"], ["list", "conditions"], ["list", "providers"], ["runs"]):
        res = CliRunner().invoke(app, [*args, "--store", str(store)], env={"COLUMNS": "80"})
        assert res.exit_code == 0, res.stderr
        wide = [line for line in res.stdout.splitlines() if len(line) > 80]
        assert not wide, (args, wide)
        assert not re.search(r"\bnan\b|\bNone\b", res.stdout), res.stdout
