"""Synthetic population with planted truth: a health system, patients, care cycles, costs (issue 3).

``generate(patients, seed, out)`` writes ``out/source`` (FHIR R4 NDJSON + costing CSVs, as a real
source would) and ``out/truth`` (what the engine must rediscover) and returns a summary dict.
"""

from __future__ import annotations

from pathlib import Path


def generate(patients: int, seed: int, out: Path, workers: int | None = None) -> dict[str, object]:
    """Write a synthetic population of ``patients`` people, deterministic for ``seed``, into ``out``.

    ``workers`` processes write the NDJSON files (default: up to 2); the output does not depend on it.
    """
    from carevalue.synth.writer import write_population

    return write_population(patients=patients, seed=seed, out=Path(out), workers=workers)
