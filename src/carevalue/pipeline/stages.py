"""The engine stages in run order, each a thin adapter from the run context to pure engine code."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis

from carevalue.pipeline import network_stage, payment_stage
from carevalue.pipeline.stage import Stage, StageContext, StageError, StageResult

CORE_EVENTS = ("patients", "encounters", "conditions", "procedures", "observations")


def _count(ctx: StageContext, names: tuple[str, ...]) -> dict[str, int]:
    return {n: int(ctx.con.table(n).count().execute()) for n in names}


def record_rules(ctx: StageContext) -> Any:
    """The library's rule of which records count (content/record-rules/default)."""
    return ctx.library.get("record-rules", "default")


def snomed_crosswalk(ctx: StageContext) -> Any:
    """The library's SNOMED CT -> ICD-10-CM crosswalk targets (content/crosswalks), or None."""
    from carevalue.engine.riskscores.crosswalk import from_library

    return from_library(ctx.library)


@dataclass
class ObservationStage:
    name: str = "observation"
    reads: tuple[str, ...] = ("patients", "encounters", "claims")
    writes: tuple[str, ...] = ("observation_periods",)

    def run(self, ctx: StageContext) -> StageResult:
        from carevalue.engine import observation

        rule = ctx.library.get("observation-periods", "default")
        n = observation.run(ctx.con, rule, record_rules(ctx))["observation_periods"]
        return StageResult(self.name, {"observation_periods": n}, [f"observation: {n:,} observation periods"])


@dataclass
class CyclesStage:
    name: str = "cycles"
    reads: tuple[str, ...] = (*CORE_EVENTS, "observation_periods")
    writes: tuple[str, ...] = ("care_cycles", "cycle_events")

    def run(self, ctx: StageContext) -> StageResult:
        from carevalue.engine import cycles

        counts = cycles.run(ctx.con, ctx.library.conditions(), rules=record_rules(ctx),
                            periods=ctx.con.table("observation_periods"))
        t = ctx.con.table("care_cycles")
        per = t.group_by("condition").aggregate(n=t.count()).order_by("condition").execute()
        lines = [f"cycles: {counts['care_cycles']:,} care cycles, {counts['cycle_events']:,} cycle events"]
        lines += [f"cycles: {r.condition}: {int(r.n):,}" for r in per.itertuples()]
        return StageResult(self.name, {k: counts[k] for k in self.writes}, lines)


@dataclass
class SegmentsStage:
    name: str = "segments"
    reads: tuple[str, ...] = (*CORE_EVENTS, "observation_periods")
    writes: tuple[str, ...] = ("segments", "segment_transitions")

    def run(self, ctx: StageContext) -> StageResult:
        from carevalue.engine import segments

        lib = ctx.library
        counts = segments.run(ctx.con, lib.segments(), lib.kind("value-sets"), rules=record_rules(ctx),
                              periods=ctx.con.table("observation_periods"))
        return StageResult(self.name, {k: counts[k] for k in self.writes},
                           [f"segments: {counts['segments']:,} intervals, "
                            f"{counts['segment_transitions']:,} transitions"])


@dataclass
class CostingStage:
    name: str = "costing"
    reads: tuple[str, ...] = ("resources", "activities", "care_cycles", "cycle_events")
    writes: tuple[str, ...] = ("capacity_cost_rates", "activity_costs", "cycle_costs", "cycle_cost_totals",
                               "cost_periods", "capacity_use", "cost_opportunities")

    def run(self, ctx: StageContext) -> StageResult:
        from carevalue.engine.costing_run import run_costing

        rows = run_costing(ctx.con, ctx.library.process_maps(), ctx.library.costing_policy(), record_rules(ctx))
        return StageResult(self.name, rows, [f"costing: {n} {k:,}" for n, k in rows.items()])


@dataclass
class RiskScoresStage:
    name: str = "risk-scores"
    reads: tuple[str, ...] = ("patients", "encounters", "conditions")
    writes: tuple[str, ...] = ("patient_risk_scores", "patient_charlson")

    def run(self, ctx: StageContext) -> StageResult:
        from carevalue.engine.riskscores import comorbidity, hcc

        last = ctx.con.table("encounters").start_ts.max().execute()
        if last is None:
            raise StageError("risk-scores: the store has no encounters to date the scores; ingest data first")
        as_of = last.date()
        xw = snomed_crosswalk(ctx)
        h = hcc.run(ctx.con, as_of, rules=record_rules(ctx), crosswalk=xw)
        c = comorbidity.run(ctx.con, as_of, rules=record_rules(ctx), crosswalk=xw, index="charlson")
        return StageResult(self.name, {"patient_risk_scores": h["rows"], "patient_charlson": c["rows"]},
                           [f"risk scores: {h['rows']:,} CMS-HCC scores and {c['rows']:,} Charlson "
                            f"indices as of {as_of}"])


@dataclass
class PromsStage:
    name: str = "proms"
    reads: tuple[str, ...] = ("questionnaire_responses", "questionnaire_answers")
    writes: tuple[str, ...] = ("prom_scores",)

    def run(self, ctx: StageContext) -> StageResult:
        from carevalue.engine.proms import score_proms
        from carevalue.engine.record_filter import counting

        con = ctx.con
        insts = list(ctx.library.instruments().values())
        out = ctx.write("prom_scores", score_proms(con.table("questionnaire_answers"),
                                                   counting(con, "questionnaire_responses", record_rules(ctx)),
                                                   insts))
        n = int(out.count().execute())
        return StageResult(self.name, {"prom_scores": n}, [f"proms: {n:,} scores"])


@dataclass
class OutcomesStage:
    name: str = "outcomes"
    reads: tuple[str, ...] = ("care_cycles", "cycle_events", "prom_scores")
    writes: tuple[str, ...] = ("outcome_values", "outcome_evidence", "casemix_values", "outcome_comparison",
                               "outcome_calibration")

    def run(self, ctx: StageContext) -> StageResult:
        from carevalue.engine import outcomes
        from carevalue.engine.riskscores.crosswalk import code_map
        from carevalue.engine.value import comparison_patients

        con = ctx.con
        templates = ctx.library.conditions()
        counts = outcomes.run_values(con, templates, ctx.library.kind("value-sets"), record_rules(ctx),
                                     code_map(snomed_crosswalk(ctx)))
        table = outcomes.run_comparison(con, templates)
        # Patients behind each comparison row (n counts cycles; a chronic patient has one a year).
        with_patients = comparison_patients(con.table("outcome_comparison"), con.table("outcome_values"))
        ctx.write("outcome_comparison", ibis.memtable(with_patients.execute(), schema=with_patients.schema()))
        ok = table[table.status == "ok"]
        bad = table[table.status != "ok"]
        flagged = ok[ok.flag_998.isin(["better", "worse"])]
        blind = ok[ok.flag_998.fillna("").str.startswith("not assessable")]
        statuses = ", ".join(f"{k} {v}" for k, v in bad.status.value_counts().sort_index().items())
        n_cmp = ok.groupby(["condition", "measure", "time_point", "scale"], dropna=False).ngroups
        lines = [f"outcomes: {counts['outcome_values']:,} values, {counts['outcome_evidence']:,} evidence "
                 f"rows, {counts['casemix_values']:,} case-mix values",
                 f"outcomes: {n_cmp} comparisons, {len(flagged)} provider flags at 99.8%, {len(blind)} "
                 f"providers not assessable at 99.8%, {len(bad)} measures not compared"
                 + (f" ({statuses})" if statuses else "")]
        rows = {k: counts[k] for k in self.writes if k in counts}
        rows["outcome_comparison"] = len(table)
        return StageResult(self.name, rows, lines)


@dataclass
class ValueStage:
    name: str = "value"
    reads: tuple[str, ...] = ("outcome_comparison", "cycle_cost_totals")
    writes: tuple[str, ...] = ("value",)

    def run(self, ctx: StageContext) -> StageResult:
        from carevalue.engine.value import value_table

        out = ctx.write("value", value_table(ctx.con.table("outcome_comparison"),
                                             ctx.con.table("cycle_cost_totals")))
        n = int(out.count().execute())
        return StageResult(self.name, {"value": n}, [f"value: {n:,} provider × measure rows with cost beside"])


STAGES: tuple[Stage, ...] = (ObservationStage(), CyclesStage(), SegmentsStage(), CostingStage(), RiskScoresStage(),
                             PromsStage(), OutcomesStage(), ValueStage(), payment_stage.STAGE,
                             network_stage.STAGE)


def stage_names() -> list[str]:
    return [s.name for s in STAGES]


def chosen(only: list[str] | None) -> list[Stage]:
    """The stages to run, in order; an unknown name is an error listing the known ones."""
    if not only:
        return list(STAGES)
    unknown = [n for n in only if n not in stage_names()]
    if unknown:
        raise StageError(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(stage_names())}")
    return [s for s in STAGES if s.name in only]


def producer(table: str) -> str | None:
    """The stage that writes ``table`` (None for core tables)."""
    return next((s.name for s in STAGES if table in s.writes), None)
