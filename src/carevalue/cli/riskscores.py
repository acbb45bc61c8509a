"""`carevalue risk-scores`: CMS-HCC and Charlson scores summarised by primary-care segment."""

from __future__ import annotations

from pathlib import Path

from carevalue.cli import app
from carevalue.cli.common import CONTENT, JSON, STORE, workspace
from carevalue.cli.output import emit, errors


@app.command("risk-scores")
def risk_scores_cmd(store: Path = STORE, content: list[Path] | None = CONTENT, as_json: bool = JSON) -> None:
    """Patients, mean and 90th-percentile CMS-HCC score and mean Charlson index per segment.

    Segments with fewer than 11 patients are suppressed. The scores come from the risk-scores
    stage of `carevalue run`.
    """
    rows = workspace(store, content).risk_scores()
    day = rows[0]["as_of"] if rows else "?"
    emit(rows, f"Risk scores by primary-care segment on {day} (CMS-HCC V24, Charlson)", as_json,
         columns=["segment", "name", "patients", "mean_hcc", "p90_hcc", "mean_charlson"])
    low = [r for r in rows if r.get("low_coding_coverage") and not r.get("suppressed")]
    if low:
        from carevalue.engine.riskscores.summary import LOW_CODING_COVERAGE

        names = ", ".join(f"{r['segment']} {r['icd10_share']:.0%}" for r in low)
        errors.print(f"warning: fewer than {LOW_CODING_COVERAGE:.0%} of patients have any ICD-10 diagnosis (own or "
                     f"mapped from SNOMED CT) in: {names}; their scores are mostly demographic", highlight=False)
