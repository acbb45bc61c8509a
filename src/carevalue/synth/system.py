"""The synthetic health system: facilities, payers, IPUs, clinicians and their planted effects.

A fixed layout (it does not grow with the population): one academic centre with IPUs, four
community hospitals organised by specialty, an ambulatory surgery centre, two rehab facilities,
six primary-care practices of different sizes and four payers. The planted quality and efficiency
effects live here so that truth/provider_effects.csv and the generator read the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

AC = "org-ac"
CH1, CH2, CH3, CH4 = "org-ch1", "org-ch2", "org-ch3", "org-ch4"
ASC = "org-asc"
REHAB1, REHAB2 = "org-rehab1", "org-rehab2"
PRACTICES = ("org-pc1", "org-pc2", "org-pc3", "org-pc4", "org-pc5", "org-pc6")
PRACTICE_WEIGHTS = (0.30, 0.24, 0.16, 0.12, 0.10, 0.08)
PAYERS = {"org-pay-commercial": "commercial", "org-pay-medicare": "medicare",
          "org-pay-medicaid": "medicaid", "org-pay-employer": "employer"}


@dataclass(frozen=True)
class Facility:
    org_id: str
    name: str
    kind: str  # facility-type code
    city: str
    specialties: tuple[str, ...] = ()
    staff: dict[str, int] = field(default_factory=dict)  # role -> number of named clinicians


FACILITIES: tuple[Facility, ...] = (
    Facility(AC, "Riverside University Medical Centre", "academic-centre", "Riverside",
             ("orthopaedics", "oncology", "cardiology", "neurology", "transplant", "head-and-neck")),
    Facility(CH1, "Northgate Community Hospital", "community-hospital", "Northgate", ("orthopaedics", "oncology")),
    Facility(CH2, "Eastfield Community Hospital", "community-hospital", "Eastfield", ("orthopaedics", "cardiology")),
    Facility(CH3, "Southvale Community Hospital", "community-hospital", "Southvale",
             ("orthopaedics", "cardiology", "general-medicine")),
    Facility(CH4, "Lakeside Community Hospital", "community-hospital", "Lakeside", ("orthopaedics",)),
    Facility(ASC, "Meadow Ambulatory Surgery Centre", "ambulatory-surgery-centre", "Riverside",
             ("orthopaedics", "breast-surgery")),
    Facility(REHAB1, "Riverside Rehabilitation Institute", "rehab-facility", "Riverside", ("rehabilitation",)),
    Facility(REHAB2, "Valley Physiotherapy and Rehab", "rehab-facility", "Southvale", ("rehabilitation",)),
    Facility("org-pc1", "Oak Street Family Practice", "primary-care-practice", "Riverside"),
    Facility("org-pc2", "Northgate Health Partners", "primary-care-practice", "Northgate"),
    Facility("org-pc3", "Eastfield Family Medicine", "primary-care-practice", "Eastfield"),
    Facility("org-pc4", "Southvale Community Clinic", "primary-care-practice", "Southvale"),
    Facility("org-pc5", "Lakeside Medical Group", "primary-care-practice", "Lakeside"),
    Facility("org-pc6", "Hilltop Solo Practice", "primary-care-practice", "Hilltop"),
)
FACILITY_BY_ID = {f.org_id: f for f in FACILITIES}
PAYER_NAMES = {"org-pay-commercial": "Bluewater Commercial Health Plan",
               "org-pay-medicare": "Medicare-like Federal Program",
               "org-pay-medicaid": "State Medicaid-like Program",
               "org-pay-employer": "Riverside Employers Direct Contract"}

# IPUs (CareTeam kind 'ipu') at the academic centre: id -> (template id, name, team roles).
IPUS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "ipu-hip": ("hip-osteoarthritis", "Hip and Knee IPU (hip)",
                ("surgeon", "anaesthetist", "nurse-practitioner", "nurse", "physiotherapist", "care-manager")),
    "ipu-knee": ("knee-osteoarthritis", "Hip and Knee IPU (knee)",
                 ("surgeon", "anaesthetist", "nurse-practitioner", "nurse", "physiotherapist", "care-manager")),
    "ipu-breast": ("breast-cancer", "Breast Cancer IPU",
                   ("surgeon", "oncologist", "radiation-oncologist", "radiologist", "nurse", "care-manager")),
    "ipu-hf": ("heart-failure", "Heart Failure IPU", ("cardiologist", "nurse-practitioner", "nurse", "care-manager",
                                                      "dietitian")),
    "ipu-migraine": ("migraine", "Headache Centre", ("neurologist", "nurse", "educator")),
    "ipu-hnc": ("head-and-neck-cancer", "Head and Neck Cancer IPU",
                ("surgeon", "oncologist", "radiation-oncologist", "nurse", "speech-therapist", "dietitian",
                 "care-manager")),
    "ipu-ktx": ("kidney-transplant", "Kidney Transplant IPU",
                ("surgeon", "nephrologist", "nurse", "care-manager", "social-worker", "dietitian")),
}

# Role of the clinician who leads an encounter of each step's setting (for Encounter.participant).
PEOPLE_ROLES = ("surgeon", "anaesthetist", "nurse-practitioner", "nurse", "physiotherapist", "care-manager",
                "educator", "medical-assistant", "oncologist", "radiation-oncologist", "radiologist",
                "cardiologist", "neurologist", "nephrologist", "physician", "pathologist", "pharmacist",
                "radiographer", "radiation-therapist", "sonographer", "phlebotomist", "speech-therapist",
                "optometrist", "podiatrist", "social-worker", "dietitian", "endocrinologist")
SPACE_ROLES = ("exam-room", "imaging-xray", "imaging-mri", "imaging-ct", "imaging-mammography",
               "imaging-ultrasound", "imaging-echo", "operating-room", "inpatient-bed", "infusion-chair",
               "linac", "endoscope", "ed-bay", "dialysis-station", "laboratory", "retinal-camera")
# Annual cost of one unit of capacity (salary + benefits + space/supervision/IT overhead, or
# depreciation + maintenance + space), US-dollar planning values (assumed; see docs).
ANNUAL_COST = {
    "surgeon": 690_000, "anaesthetist": 560_000, "nurse-practitioner": 185_000, "nurse": 135_000,
    "physiotherapist": 115_000, "care-manager": 110_000, "educator": 98_000, "medical-assistant": 62_000,
    "oncologist": 470_000, "radiation-oncologist": 540_000, "radiologist": 500_000, "cardiologist": 500_000,
    "neurologist": 360_000, "nephrologist": 350_000, "physician": 330_000, "pathologist": 420_000,
    "pharmacist": 165_000, "radiographer": 98_000, "radiation-therapist": 120_000, "sonographer": 105_000,
    "phlebotomist": 55_000, "speech-therapist": 105_000, "optometrist": 150_000, "podiatrist": 160_000,
    "social-worker": 88_000, "dietitian": 86_000, "endocrinologist": 320_000,
    "exam-room": 38_000, "imaging-xray": 160_000, "imaging-mri": 950_000, "imaging-ct": 620_000,
    "imaging-mammography": 210_000, "imaging-ultrasound": 90_000, "imaging-echo": 120_000,
    "operating-room": 1_450_000, "inpatient-bed": 210_000, "infusion-chair": 45_000, "linac": 1_900_000,
    "endoscope": 70_000, "ed-bay": 260_000, "dialysis-station": 60_000, "laboratory": 400_000,
    "retinal-camera": 40_000,
}
PAID_MINUTES_PERSON = 2_080 * 60  # 52 weeks x 40 hours
PRACTICAL_SHARE_PERSON = 0.82  # after breaks, training, admin (~80-85%)
SPACE_MINUTES = {"operating-room": 250 * 10 * 60, "inpatient-bed": 365 * 24 * 60, "ed-bay": 365 * 24 * 60,
                 "linac": 250 * 10 * 60, "dialysis-station": 312 * 12 * 60}
DEFAULT_SPACE_MINUTES = 250 * 10 * 60
PRACTICAL_SHARE_SPACE = 0.85

# --- planted effects -----------------------------------------------------------------------------
# Hip/knee arthroplasty provider effects: complication odds ratio, minutes multiplier, extra LOS days.
ARTHROPLASTY_PROVIDERS = (AC, CH1, CH2, CH3, CH4, ASC)
ARTHROPLASTY_BASE_SHARE = {AC: 0.26, CH1: 0.26, CH2: 0.18, CH3: 0.09, CH4: 0.03, ASC: 0.22}
COMPLICATION_OR = {AC: 0.45, CH1: 1.0, CH2: 2.3, CH3: 1.0, CH4: 4.0, ASC: 1.0}
MINUTES_MULT = {AC: 0.85, CH1: 1.0, CH2: 1.30, CH3: 1.0, CH4: 1.15, ASC: 0.80}
LOS_EXTRA_DAYS = {AC: -0.5, CH1: 0.0, CH2: 1.0, CH3: 0.0, CH4: 0.5, ASC: 0.0}
PROM_GAIN_SHIFT = {AC: 0.25, CH1: 0.0, CH2: -0.25, CH3: 0.0, CH4: -0.3, ASC: 0.0}  # HOOS/KOOS item points
# Heart failure: 30-day readmission odds ratio by managing provider.
HF_PROVIDERS = (AC, CH2, CH3)
HF_READMIT_OR = {AC: 0.6, CH2: 1.7, CH3: 1.0}
# Breast / head and neck cancer: complication odds ratio.
CANCER_PROVIDERS = (AC, CH1)
CANCER_COMPLICATION_OR = {AC: 0.6, CH1: 1.0}
# Type 2 diabetes: HbA1c shift (percentage points) by primary-care practice.
HBA1C_SHIFT = {"org-pc1": 0.0, "org-pc2": -0.5, "org-pc3": 0.0, "org-pc4": 0.0, "org-pc5": 0.6, "org-pc6": 0.0}

PLANTED_NOTES = {
    AC: "academic centre IPU: better outcomes and more efficient (planted)",
    CH1: "average community hospital (reference)",
    CH2: "worse outcomes and inefficient (planted)",
    CH3: "average true quality but treats sicker patients: looks bad before risk adjustment only",
    CH4: "low-volume provider with bad outcomes (planted)",
    ASC: "average quality, efficient, selects healthier patients (ASA <= 2)",
}
