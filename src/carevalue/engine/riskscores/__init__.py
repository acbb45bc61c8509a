"""Patient risk scores used as case-mix variables: CMS-HCC (from hccpy's CMS tables) and the
Charlson and Elixhauser comorbidity indices (Quan ICD-10 code lists), all computed as Ibis joins."""

from carevalue.engine.riskscores.comorbidity import (
    comorbidity_flags,
    comorbidity_from,
    comorbidity_scores,
)
from carevalue.engine.riskscores.diagnoses import icd10_diagnoses
from carevalue.engine.riskscores.hcc import (
    MODELS,
    apply_hierarchy,
    condition_categories,
    hcc_scores,
    hcc_variables,
    mapped_diagnoses,
    people,
    scores_from,
)

__all__ = ["MODELS", "apply_hierarchy", "comorbidity_flags", "comorbidity_from", "comorbidity_scores",
           "condition_categories", "hcc_scores", "hcc_variables", "icd10_diagnoses", "mapped_diagnoses",
           "people", "scores_from"]
