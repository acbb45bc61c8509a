"""Case-mix variables (ICHOM "case-mix"): the patient factors that risk-adjust outcomes, as a typed
union told apart by ``kind``, so a typo is a validation error rather than a variable the engine
silently cannot compute.

Kinds: ``demographic`` (a patient field, or age at the cycle's index event), ``observation`` (the
latest observation of one code), ``condition-count`` (distinct active codes of a template code set),
``onset-years`` (years since the first condition of a code set), ``prom`` (an instrument's score at
a template time point) and ``risk-score`` (a patient risk score computed by the risk-scores stage).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from carevalue.definitions.base import CodeSystem, Part

# Patient fields a demographic variable may name: ``age`` is computed from the birth date at the
# cycle's index event; the others are columns of the core ``patients`` table.
DEMOGRAPHIC_FIELDS = ("age", "sex", "race", "ethnicity", "state", "postal_code", "deprivation_index")
DemographicField = Literal["age", "sex", "race", "ethnicity", "state", "postal_code", "deprivation_index"]
# Risk scores a variable may use, and the store table and column each is read from.
RISK_SCORE_TABLES: dict[str, tuple[str, str]] = {
    "cms-hcc": ("patient_risk_scores", "score"),
    "charlson": ("patient_charlson", "score"),
}
RiskScoreName = Literal["cms-hcc", "charlson"]


class _Variable(Part):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9\-]*$", description="Id the outcome measures' case_mix lists name.")
    title: str

    def is_prom_at(self, instrument: str | None, time_point: str) -> bool:
        """True when this variable is the given instrument's score at the given time point."""
        return False


class Demographic(_Variable):
    """A patient field: age in years at the cycle's index event, or a column of ``patients``."""

    kind: Literal["demographic"]
    field: DemographicField = Field(description=f"One of {', '.join(DEMOGRAPHIC_FIELDS)}.")


class Observation(_Variable):
    """The latest observation of this code up to two weeks after the index event: its number, else its
    coded value (e.g. a smoking status code)."""

    kind: Literal["observation"]
    system: CodeSystem = Field(description="Code system of the observation code (content/code-systems.yaml).")
    code: str = Field(min_length=1)


class ConditionCount(_Variable):
    """Number of distinct codes of a template code set among the conditions active at the index event."""

    kind: Literal["condition-count"]
    code_set: str = Field(description="Name of a code set of the template.")


class OnsetYears(_Variable):
    """Years from the first condition of a template code set to the index event (e.g. diabetes duration)."""

    kind: Literal["onset-years"]
    code_set: str = Field(description="Name of a code set of the template.")


class PromScore(_Variable):
    """An instrument's score (its first reported scale) at a time point of the template's outcome set."""

    kind: Literal["prom"]
    instrument: str = Field(description="Instrument id, one of the template's instruments.")
    time_point: str = Field(description="Label of a time point of an outcome measure using the instrument.")

    def is_prom_at(self, instrument: str | None, time_point: str) -> bool:
        return self.instrument == instrument and self.time_point == time_point


class RiskScore(_Variable):
    """A patient risk score from the risk-scores stage (CMS-HCC, Charlson), as of the store's last encounter."""

    kind: Literal["risk-score"]
    score: RiskScoreName = Field(description=f"One of {', '.join(RISK_SCORE_TABLES)}.")


CASE_MIX_KINDS = ("demographic", "observation", "condition-count", "onset-years", "prom", "risk-score")
CaseMixVariable = Annotated[
    Demographic | Observation | ConditionCount | OnsetYears | PromScore | RiskScore,
    Field(discriminator="kind"),
]
