"""Charges from the Medicare physician fee schedule (RVUs x conversion factor) times a facility markup.

Charges are what a claim says, never what care costs: costs come from resources x minutes (TDABC).
The fee-schedule rows used are shipped in ``data/pfs-rvu-2025-subset.csv`` (copied from the CMS
2025 PFS relative value file); laboratory codes use an assumed chargemaster (codes.LAB_CHARGES).
"""

from __future__ import annotations

import csv
from importlib import resources

import numpy as np

from carevalue.synth import codes, system

CONVERSION_FACTOR = 32.3465  # CY2025 PFS conversion factor
# Chargemaster markup over the Medicare allowed amount by facility type (assumed).
MARKUP = {"academic-centre": 3.0, "community-hospital": 2.5, "ambulatory-surgery-centre": 2.0,
          "rehab-facility": 1.8, "primary-care-practice": 1.6, "payer": 1.0}


def load_rvus() -> dict[str, tuple[float, float]]:
    """HCPCS -> (non-facility total RVU, facility total RVU) from the shipped subset."""
    text = resources.files("carevalue.synth.data").joinpath("pfs-rvu-2025-subset.csv").read_text()
    out: dict[str, tuple[float, float]] = {}
    for row in csv.DictReader(text.splitlines()):
        out[row["hcpcs"]] = (float(row["nonfacility_total_rvu"]), float(row["facility_total_rvu"]))
    return out


class Pricing:
    """Unit charge of a billing code at an organization."""

    def __init__(self, org_ids: tuple[str, ...]) -> None:
        self.rvus = load_rvus()
        kinds = [system.FACILITY_BY_ID[o].kind if o in system.FACILITY_BY_ID else "payer" for o in org_ids]
        self.markup = np.array([MARKUP[k] for k in kinds])

    def allowed(self, code: str, facility: bool) -> float:
        if code in codes.LAB_CHARGES:
            return codes.LAB_CHARGES[code]
        nonfac, fac = self.rvus[code]
        return round((fac if facility else nonfac) * CONVERSION_FACTOR, 2)

    def charge(self, code: str, org: np.ndarray, facility: bool) -> np.ndarray:
        return np.asarray(np.round(self.allowed(code, facility) * self.markup[org], 2))
