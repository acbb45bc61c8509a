"""`carevalue run`: the engine stages in order, each reading the store and writing its tables.

A stage is a function ``(con, library) -> list[str]`` returning summary lines; add one by
appending it to :data:`STAGES`. Stages whose module is not available yet are skipped with a line
saying so, so the pipeline runs while parts are still being built.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

from ibis.backends import BaseBackend

from carevalue.backends import connect
from carevalue.definitions.loader import Library, load

Stage = Callable[[BaseBackend, Library], list[str]]


def stage_cycles(con: BaseBackend, lib: Library) -> list[str]:
    from carevalue.engine import cycles

    counts = cycles.run(con, list(lib.kind("conditions").values()))
    t = con.table("care_cycles")
    per = t.group_by("condition").aggregate(n=t.count()).order_by("condition").execute()
    lines = [f"cycles: {counts['care_cycles']:,} care cycles, {counts['cycle_events']:,} cycle events"]
    lines += [f"cycles: {r.condition}: {int(r.n):,}" for r in per.itertuples()]
    return lines


def stage_segments(con: BaseBackend, lib: Library) -> list[str]:
    from carevalue.engine import segments

    counts = segments.run(con, list(lib.kind("segments").values()), lib.kind("value-sets"))
    today = segments.segment_on(con, date.today().isoformat())
    per = today.group_by("segment").aggregate(n=today.count()).order_by("segment").execute()
    return ([f"segments: {counts['segments']:,} intervals, {counts['segment_transitions']:,} transitions"]
            + [f"segments: {r.segment} today: {int(r.n):,}" for r in per.itertuples()])


def stage_costing(con: BaseBackend, lib: Library) -> list[str]:
    from carevalue.engine.costing import run_costing

    counts = run_costing(con)
    return [f"costing: {name} {n:,}" for name, n in counts.items()]


def stage_proms(con: BaseBackend, lib: Library) -> list[str]:
    from carevalue.engine import outcomes

    return outcomes.stage_proms(con, lib)


def stage_outcomes(con: BaseBackend, lib: Library) -> list[str]:
    from carevalue.engine import outcomes

    return outcomes.stage_outcomes(con, lib)


def stage_risk_scores(con: BaseBackend, lib: Library) -> list[str]:
    """CMS-HCC and Charlson scores per patient, as of the last encounter in the store."""
    from carevalue.engine.riskscores import comorbidity, hcc

    enc = con.table("encounters")
    last = enc.start_ts.max().execute()
    if last is None:
        return ["risk scores: no encounters, nothing to score"]
    as_of = last.date()
    h = hcc.run(con, as_of)
    c = comorbidity.run(con, as_of, index="charlson")
    return [f"risk scores: {h['rows']:,} CMS-HCC scores and {c['rows']:,} Charlson indices as of {as_of}"]


STAGES: list[tuple[str, Stage]] = [
    ("cycles", stage_cycles),
    ("segments", stage_segments),
    ("costing", stage_costing),
    ("risk-scores", stage_risk_scores),
    ("proms", stage_proms),
    ("outcomes", stage_outcomes),
]


def run_all(store_path: str | Path, out_dir: str | Path | None = None,
            only: list[str] | None = None,
            on_stage: Callable[[str, int, int], None] | None = None) -> list[str]:
    """Run every stage (or ``only`` those named) on the store; write the summary to out_dir.

    ``on_stage(name, i, n)`` is called before each stage (for progress displays).
    """
    lib = load()
    con = connect(store_path)
    lines: list[str] = []
    chosen = [(n, s) for n, s in STAGES if not only or n in only]
    try:
        for i, (name, stage) in enumerate(chosen):
            if on_stage:
                on_stage(name, i, len(chosen))
            try:
                lines += stage(con, lib)
            except ImportError as e:
                lines.append(f"{name}: skipped ({e})")
    finally:
        con.disconnect()
    if out_dir:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "run-summary.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return lines
