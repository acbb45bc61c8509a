"""One small synthetic store for the CLI and read-out tests, built once per test session.

120 synthetic patients (seed 5), ingested and run through the stages the read-outs here need
(observation, cycles, segments, risk-scores); tests that write copy it first with :func:`copy_store`.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

STAGES = ["observation", "cycles", "segments", "risk-scores"]
_BUILT: dict[str, Path] = {}


def small_store() -> Path:
    """The path of the shared store (built on first use; never write to it, copy it)."""
    if "store" not in _BUILT:
        from carevalue.synth import generate
        from carevalue.workspace import Workspace

        root = Path(tempfile.mkdtemp(prefix="carevalue-cli-"))
        generate(patients=120, seed=5, out=root / "population", workers=1)
        ws = Workspace.open(root / "s.duckdb", must_exist=False)
        ws.ingest([root / "population" / "source"])
        ws.run(only=STAGES)
        ws.close()
        _BUILT["store"] = root / "s.duckdb"
    return _BUILT["store"]


def copy_store(to: Path) -> Path:
    """A private copy of the shared store (core file and runs folder) under ``to``."""
    src = small_store()
    dst = to / "s.duckdb"
    shutil.copy2(src, dst)
    shutil.copytree(Path(str(src) + ".runs"), Path(str(dst) + ".runs"),
                    ignore=shutil.ignore_patterns("run.lock", "*.tmp"))
    return dst
