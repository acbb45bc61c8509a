"""Every code the synthetic population writes, with its system and display (the shared code list).

Other parts (condition templates, segments, PROM scoring, ingest tests) read these constants so the
content YAML and the generator use the same codes. Codes in ``UNVERIFIED`` could not be confirmed
against a terminology server; they are used consistently but should be checked before real use.
"""

from __future__ import annotations

# --- code systems and carevalue URLs ----------------------------------------------------------
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
CPT = "http://www.ama-assn.org/go/cpt"
HCPCS = "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CLAIM_TYPE = "http://terminology.hl7.org/CodeSystem/claim-type"
COVERAGE_CLASS = "http://terminology.hl7.org/CodeSystem/coverage-class"
UCUM = "http://unitsofmeasure.org"

FACILITY_TYPE = "https://carevalue.org/fhir/CodeSystem/facility-type"
CARE_TEAM_KIND = "https://carevalue.org/fhir/CodeSystem/care-team-kind"
TEAM_ROLE = "https://carevalue.org/fhir/CodeSystem/team-role"
PAYER_TYPE = "https://carevalue.org/fhir/CodeSystem/payer-type"
CASE_MIX = "https://carevalue.org/fhir/CodeSystem/case-mix"
PATHWAY_FLAG = "https://carevalue.org/fhir/CodeSystem/pathway-flag"
ANSWER_ORDINAL = "https://carevalue.org/fhir/CodeSystem/answer-ordinal"
EXT_DEPRIVATION = "https://carevalue.org/fhir/StructureDefinition/deprivation-index"
EXT_CONDITION_TEMPLATE = "https://carevalue.org/fhir/StructureDefinition/condition-template"
QUESTIONNAIRE_BASE = "https://carevalue.org/fhir/Questionnaire/"
ID_SYSTEM_MRN = "https://carevalue.org/synthetic/mrn"
ID_SYSTEM_NPI = "http://hl7.org/fhir/sid/us-npi"

FACILITY_TYPES = {
    "academic-centre": "Academic medical centre",
    "community-hospital": "Community hospital",
    "ambulatory-surgery-centre": "Ambulatory surgery centre",
    "rehab-facility": "Rehabilitation facility",
    "primary-care-practice": "Primary care practice",
    "payer": "Payer",
}
PAYER_TYPES = {"commercial": "Commercial insurer", "medicare": "Medicare-like",
               "medicaid": "Medicaid-like", "employer": "Employer direct contract"}

# Team role codes (CareTeam.participant.role, PractitionerRole.code, resources.csv role).
TEAM_ROLES = {
    "surgeon": "Surgeon", "physician": "Physician", "nurse-practitioner": "Nurse practitioner",
    "nurse": "Registered nurse", "physiotherapist": "Physiotherapist", "care-manager": "Care manager",
    "educator": "Diabetes / health educator", "medical-assistant": "Medical assistant",
    "anaesthetist": "Anaesthetist", "oncologist": "Medical oncologist",
    "radiation-oncologist": "Radiation oncologist", "radiologist": "Radiologist",
    "cardiologist": "Cardiologist", "endocrinologist": "Endocrinologist",
    "neurologist": "Neurologist", "nephrologist": "Nephrologist", "social-worker": "Social worker",
    "dietitian": "Dietitian", "interpreter": "Interpreter",
}

# --- conditions: template id -> (SNOMED code, display, ICD-10-CM code, display) -------------------
CONDITIONS: dict[str, tuple[str, str, str, str]] = {
    "hip-osteoarthritis": ("239872002", "Osteoarthritis of hip",
                           "M16.11", "Unilateral primary osteoarthritis, right hip"),
    "knee-osteoarthritis": ("239873007", "Osteoarthritis of knee",
                            "M17.11", "Unilateral primary osteoarthritis, right knee"),
    "breast-cancer": ("254837009", "Malignant neoplasm of breast",
                      "C50.911", "Malignant neoplasm of unspecified site of right female breast"),
    "type-2-diabetes": ("44054006", "Diabetes mellitus type 2",
                        "E11.9", "Type 2 diabetes mellitus without complications"),
    "heart-failure": ("84114007", "Heart failure", "I50.9", "Heart failure, unspecified"),
    "migraine": ("37796009", "Migraine",
                 "G43.909", "Migraine, unspecified, not intractable, without status migrainosus"),
    # CONTRACTS.md listed 363358000, which is "Malignant tumor of lung": NOT used.
    "head-and-neck-cancer": ("363505006", "Malignant neoplasm of oral cavity",
                             "C06.9", "Malignant neoplasm of mouth, unspecified"),
    "kidney-transplant": ("46177005", "End-stage renal disease", "N18.6", "End stage renal disease"),
}

# Comorbidities and risk factors (segment rules in CONTRACTS.md): key -> (SNOMED, display, ICD, display)
COMORBIDITIES: dict[str, tuple[str, str, str, str]] = {
    "hypertension": ("38341003", "Hypertensive disorder", "I10", "Essential (primary) hypertension"),
    "copd": ("13645005", "Chronic obstructive lung disease", "J44.9",
             "Chronic obstructive pulmonary disease, unspecified"),
    "asthma": ("195967001", "Asthma", "J45.909", "Unspecified asthma, uncomplicated"),
    "ckd3": ("433144002", "Chronic kidney disease stage 3", "N18.30",
             "Chronic kidney disease, stage 3 unspecified"),
    "depression": ("35489007", "Depressive disorder", "F32.A", "Depression, unspecified"),
    "atrial-fibrillation": ("49436004", "Atrial fibrillation", "I48.91", "Unspecified atrial fibrillation"),
    "prediabetes": ("15777000", "Prediabetes", "R73.03", "Prediabetes"),
    "family-history-cvd": ("266894000", "Family history of cardiovascular disease", "Z82.49",
                           "Family history of ischemic heart disease and other diseases of the circulatory system"),
    "family-history-diabetes": ("160303001", "Family history of diabetes mellitus", "Z83.3",
                                "Family history of diabetes mellitus"),
    "alcohol-misuse": ("15167005", "Alcohol abuse", "F10.10", "Alcohol abuse, uncomplicated"),
    "frailty": ("248279007", "Frailty", "R54", "Age-related physical debility"),
    "disability": ("21134002", "Disability", "Z73.6", "Limitation of activities due to disability"),
    "cystic-fibrosis": ("190905008", "Cystic fibrosis", "E84.9", "Cystic fibrosis, unspecified"),
    "hemophilia": ("90935002", "Hemophilia", "D66", "Hereditary factor VIII deficiency"),
    "huntington": ("58756001", "Huntington's chorea", "G10", "Huntington's disease"),
    "sickle-cell": ("127040003", "Sickle cell-hemoglobin SS disease", "D57.1",
                    "Sickle-cell disease without crisis"),
}

# Segment rule code sets (CONTRACTS.md "Primary-care segments").
CHRONIC_CODES = ("44054006", "84114007", "13645005", "195967001", "38341003", "433144002",
                 "37796009", "239872002", "239873007", "46177005")
RARE_CODES = ("190905008", "90935002", "58756001", "127040003")
FRAILTY_CODES = ("248279007", "21134002")
DISABILITY_CODE = "21134002"
CANCER_CODES = ("254837009", "363505006")
RISK_FACTOR_CODES = ("15777000", "266894000", "160303001", "15167005")

# --- complications (SNOMED, display, ICD-10-CM, display) -----------------------------------------
COMPLICATIONS: dict[str, tuple[str, str, str, str]] = {
    "surgical-site-infection": ("433202001", "Surgical site infection", "T81.49XA",
                                "Infection following a procedure, other surgical site, initial encounter"),
    "deep-vein-thrombosis": ("128053003", "Deep venous thrombosis", "I82.409",
                             "Acute embolism and thrombosis of unspecified deep veins of unspecified lower extremity"),
    "pulmonary-embolism": ("59282003", "Pulmonary embolism", "I26.99",
                           "Other pulmonary embolism without acute cor pulmonale"),
    "hip-prosthesis-dislocation": ("4897006", "Dislocation of hip prosthesis", "T84.020A",
                                   "Dislocation of internal right hip prosthesis, initial encounter"),
    "acute-kidney-injury": ("14669001", "Acute renal failure syndrome", "N17.9",
                            "Acute kidney failure, unspecified"),
    "graft-rejection": ("213150003", "Kidney transplant failure and rejection", "T86.11",
                        "Kidney transplant rejection"),
    "lymphoedema": ("234097001", "Lymphedema", "I97.2", "Postmastectomy lymphedema syndrome"),
    "cancer-recurrence": ("278052009", "Local recurrence of malignant tumor", "C79.89",
                          "Secondary malignant neoplasm of other specified sites"),
}
# Complications CMS counts in COMP_HIP_KNEE that we generate for hip/knee (SSI, DVT/PE, dislocation).
HIP_KNEE_COMPLICATIONS = ("surgical-site-infection", "deep-vein-thrombosis", "pulmonary-embolism",
                          "hip-prosthesis-dislocation")

# --- procedures: key -> (SNOMED, display, CPT/HCPCS billing code) --------------------------------
PROCEDURES: dict[str, tuple[str, str, str]] = {
    "total-hip-replacement": ("52734007", "Total replacement of hip", "27130"),
    "total-knee-replacement": ("609588000", "Total knee replacement", "27447"),
    "hip-revision": ("179344006", "Revision of total hip replacement", "27134"),
    "knee-revision": ("179344006", "Revision of total knee replacement", "27487"),
    "lumpectomy": ("392021009", "Lumpectomy of breast", "19301"),
    "mastectomy": ("69031006", "Excision of breast tissue", "19303"),
    "breast-biopsy": ("122548005", "Biopsy of breast", "19083"),
    "chemotherapy": ("367336001", "Chemotherapy", "96413"),
    "radiotherapy": ("33195004", "Teleradiotherapy procedure", "G6015"),
    "kidney-transplant": ("70536003", "Transplantation of kidney", "50360"),
    "haemodialysis": ("302497006", "Hemodialysis", "90935"),
    "glossectomy": ("13619001", "Partial glossectomy", "41120"),
    "neck-dissection": ("26373009", "Radical neck dissection", "38724"),
    "echocardiography": ("40701008", "Echocardiography", "93306"),
    "hip-xray": ("5880005", "Plain X-ray of hip", "73502"),
    "knee-xray": ("74016001", "Plain X-ray of knee", "73562"),
    "mammography": ("71651007", "Mammography", "77067"),
    "botulinum-injection": ("442695005", "Injection of botulinum toxin", "64615"),
    "physiotherapy": ("91251008", "Physical therapy procedure", "97110"),
    "diabetes-education": ("385804009", "Diabetic care", "98960"),
}

# Encounter types (SNOMED) and the E/M or facility billing code used on claims.
ENCOUNTER_TYPES: dict[str, tuple[str, str, str]] = {
    "wellness": ("162673000", "General examination of patient", "99396"),
    "problem-visit": ("185347001", "Encounter for problem", "99214"),
    "follow-up": ("390906007", "Follow-up encounter", "99213"),
    "consultation": ("11429006", "Consultation", "99204"),
    "pre-operative": ("225886003", "Pre-operative assessment", "99214"),
    "admission": ("32485007", "Hospital admission", "99223"),
    "emergency": ("50849002", "Emergency room admission", "99285"),
    "rehab": ("183495009", "Rehabilitation encounter", "97110"),
    "home-visit": ("439708006", "Home visit", "99214"),
    "telehealth": ("448337001", "Telemedicine consultation with patient", "99213"),
    "imaging": ("363679005", "Imaging", ""),
    "infusion": ("394656005", "Inpatient care", "96413"),
    "dialysis": ("302497006", "Hemodialysis", "90935"),
}

# Billing-only codes priced on claims (beside the procedure codes above).
BILLING_CODES = ("99202", "99203", "99204", "99212", "99213", "99214", "99215", "99395", "99396",
                 "99397", "99222", "99223", "99231", "99232", "99238", "99284", "99285", "97161",
                 "97110", "99490", "98960", "93000", "70450", "96127", "90960", "G0439", "73721", "70553",
                 "92507", "88305", "96415", "99205")
# Laboratory tests are on the clinical laboratory fee schedule, not the PFS: an assumed chargemaster.
LAB_CHARGES = {"83036": 13.32, "80053": 10.56, "82565": 5.07, "36415": 3.00}

# --- observations --------------------------------------------------------------------------------
OBS = {
    "bmi": (LOINC, "39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
    "body-weight": (LOINC, "29463-7", "Body weight", "kg"),
    "smoking-status": (LOINC, "72166-2", "Tobacco smoking status", None),
    "hba1c": (LOINC, "4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%"),
    "lvef": (LOINC, "10230-1", "Left ventricular Ejection fraction", "%"),
    "creatinine": (LOINC, "2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL"),
    "asa-class": (CASE_MIX, "asa-class", "ASA physical status class (1-5)", None),
    "cancer-stage": (CASE_MIX, "cancer-stage", "Cancer stage at diagnosis (1-4)", None),
    "interpreter-needed": (CASE_MIX, "interpreter-needed", "Interpreter needed", None),
    # process-map time-equation flag (content/process_maps flags: outside_imaging): valueBoolean true
    "outside-imaging": (PATHWAY_FLAG, "outside-imaging", "Imaging done elsewhere to be reviewed", "boolean"),
}
SMOKING_VALUES = {
    "current": ("77176002", "Smoker"),
    "former": ("8517006", "Ex-smoker"),
    "never": ("266919005", "Never smoked tobacco"),
}

# --- medications (RxNorm) ------------------------------------------------------------------------
MEDICATIONS: dict[str, tuple[str, str, float]] = {  # key -> (RxNorm, display, acquisition cost/unit)
    "metformin": ("860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet", 0.12),
    "empagliflozin": ("1545658", "empagliflozin 10 MG Oral Tablet", 18.50),
    "insulin-glargine": ("261551", "insulin glargine 100 UNT/ML Injectable Solution", 9.80),
    "sacubitril-valsartan": ("1656340", "sacubitril 49 MG / valsartan 51 MG Oral Tablet", 10.40),
    "furosemide": ("310429", "furosemide 20 MG Oral Tablet", 0.08),
    "carvedilol": ("200031", "carvedilol 6.25 MG Oral Tablet", 0.10),
    "sumatriptan": ("313165", "sumatriptan 50 MG Oral Tablet", 0.60),
    "topiramate": ("151226", "topiramate 50 MG Oral Tablet", 0.15),
    "tacrolimus": ("197591", "tacrolimus 1 MG Oral Capsule", 1.90),
    "anastrozole": ("199224", "anastrozole 1 MG Oral Tablet", 0.45),
    "enoxaparin": ("854235", "enoxaparin sodium 40 MG in 0.4 ML Prefilled Syringe", 6.20),
}

# Implants / drugs / supplies recorded in consumables.csv (item code, description, unit cost).
CONSUMABLES: dict[str, tuple[str, str, float]] = {
    "hip-implant": ("IMP-THA-01", "Total hip implant system (cup, liner, stem, head)", 4800.0),
    "knee-implant": ("IMP-TKA-01", "Total knee implant system (femoral, tibial, insert, patella)", 5200.0),
    "revision-implant": ("IMP-REV-01", "Revision arthroplasty components", 8900.0),
    "chemo-regimen": ("DRUG-AC-T", "Chemotherapy cycle drugs (doxorubicin/cyclophosphamide/paclitaxel)", 1450.0),
    "trastuzumab": ("DRUG-TRAS", "Trastuzumab dose", 3900.0),
    "donor-kidney": ("ORG-KID-01", "Kidney acquisition (organ procurement)", 38000.0),
    "immunosuppression-induction": ("DRUG-ATG", "Induction immunosuppression (thymoglobulin)", 7600.0),
    "surgical-supplies": ("SUP-OR-01", "Operating room disposable pack", 420.0),
    "botulinum-toxin": ("DRUG-BTX", "OnabotulinumtoxinA 155 units", 1100.0),
    "dialysis-supplies": ("SUP-HD-01", "Dialyser and lines", 65.0),
}

# --- PROM instruments: linkIds and answer codes --------------------------------------------------
# Every answer is a valueCoding with system ANSWER_ORDINAL and code = the item's ordinal as a
# string (e.g. "0".."4"); display = the response text. linkIds are LOINC item codes where LOINC has
# the item (PHQ-9), otherwise the instrument's own published item id (PROMIS "Global01", ...).
# Each item: (linkId, text, min ordinal, max ordinal).
PROM_ITEMS: dict[str, list[tuple[str, str, int, int]]] = {
    "phq-9": [
        ("44250-9", "Little interest or pleasure in doing things", 0, 3),
        ("44255-8", "Feeling down, depressed, or hopeless", 0, 3),
        ("44259-0", "Trouble falling or staying asleep, or sleeping too much", 0, 3),
        ("44254-1", "Feeling tired or having little energy", 0, 3),
        ("44251-7", "Poor appetite or overeating", 0, 3),
        ("44258-2", "Feeling bad about yourself - or that you are a failure", 0, 3),
        ("44252-5", "Trouble concentrating on things", 0, 3),
        ("44253-3", "Moving or speaking so slowly that other people could have noticed", 0, 3),
        ("44260-8", "Thoughts that you would be better off dead, or of hurting yourself", 0, 3),
    ],
    # PROMIS Global-10 v1.2: ordinals are the raw response values (Global07 pain 0-10; Global10
    # and Global08 are stored as answered: 1 = never/none ... 5 = always/very severe; recoding
    # to Global07r/Global08r/Global10r is the scorer's job).
    "promis-global-10": [
        ("Global01", "In general, would you say your health is", 1, 5),
        ("Global02", "In general, would you say your quality of life is", 1, 5),
        ("Global03", "In general, how would you rate your physical health", 1, 5),
        ("Global04", "In general, how would you rate your mental health", 1, 5),
        ("Global05", "How would you rate your satisfaction with your social activities", 1, 5),
        ("Global09", "How well do you carry out your usual social activities and roles", 1, 5),
        ("Global06", "To what extent are you able to carry out everyday physical activities", 1, 5),
        ("Global07", "How would you rate your pain on average (0 no pain - 10 worst)", 0, 10),
        ("Global08", "How would you rate your fatigue on average (1 none - 5 very severe)", 1, 5),
        ("Global10", "How often have you been bothered by emotional problems (1 never - 5 always)", 1, 5),
    ],
    # HOOS-PS and KOOS-PS: 0 none, 1 mild, 2 moderate, 3 severe, 4 extreme difficulty.
    "hoos-ps": [  # link ids as in content/instruments/hoos-ps.yaml (HOOS item numbers)
        ("HOOS-A1", "Descending stairs", 0, 4),
        ("HOOS-A13", "Getting in/out of bath or shower", 0, 4),
        ("HOOS-A14", "Sitting", 0, 4),
        ("HOOS-SP2", "Running", 0, 4),
        ("HOOS-SP3", "Twisting/pivoting on your loaded leg", 0, 4),
    ],
    "koos-ps": [  # link ids as in content/instruments/koos-ps.yaml (KOOS item numbers)
        ("KOOS-A10", "Rising from bed", 0, 4),
        ("KOOS-A9", "Putting on socks/stockings", 0, 4),
        ("KOOS-A3", "Rising from sitting", 0, 4),
        ("KOOS-A5", "Bending to floor/pick up an object", 0, 4),
        ("KOOS-SP4", "Twisting/pivoting on your injured knee", 0, 4),
        ("KOOS-SP5", "Kneeling", 0, 4),
        ("KOOS-SP1", "Squatting", 0, 4),
    ],
    # KCCQ-12 (item numbers of the published short form). Q1a-c and Q8a-c: 1 extremely limited ..
    # 5 not at all limited (6 = did not do for other reasons, never generated). Q2, Q5: 1 every
    # morning/night .. 5 never; Q3, Q4: 1 all the time .. 7 never; Q6: 1 .. 5; Q7: 1 .. 5.
    "kccq-12": [
        ("KCCQ12-1a", "Showering/bathing", 1, 5),
        ("KCCQ12-1b", "Walking 1 block on level ground", 1, 5),
        ("KCCQ12-1c", "Hurrying or jogging", 1, 5),
        ("KCCQ12-2", "Swelling in feet, ankles or legs frequency", 1, 5),
        ("KCCQ12-3", "Fatigue limiting activity frequency", 1, 7),
        ("KCCQ12-4", "Shortness of breath limiting activity frequency", 1, 7),
        ("KCCQ12-5", "Sleeping sitting up because of shortness of breath", 1, 5),
        ("KCCQ12-6", "Heart failure limited enjoyment of life", 1, 5),
        ("KCCQ12-7", "Feel about spending rest of life with heart failure", 1, 5),
        ("KCCQ12-8a", "Hobbies, recreational activities", 1, 5),
        ("KCCQ12-8b", "Working or doing household chores", 1, 5),
        ("KCCQ12-8c", "Visiting family or friends", 1, 5),
    ],
    # EQ-5D-5L: levels 1 (no problems) .. 5 (extreme/unable); VAS 0-100 as valueInteger.
    "eq-5d-5l": [
        ("MO", "Mobility", 1, 5),
        ("SC", "Self-care", 1, 5),
        ("UA", "Usual activities", 1, 5),
        ("PD", "Pain / discomfort", 1, 5),
        ("AD", "Anxiety / depression", 1, 5),
    ],
}
EQ5D_VAS_LINK_ID = "VAS"  # valueInteger 0-100
PROM_TITLES = {
    "phq-9": "Patient Health Questionnaire-9 (PHQ-9)",
    "promis-global-10": "PROMIS Global Health (Global-10) v1.2",
    "hoos-ps": "Hip disability and Osteoarthritis Outcome Score - Physical function Short form",
    "koos-ps": "Knee injury and Osteoarthritis Outcome Score - Physical function Short form",
    "kccq-12": "Kansas City Cardiomyopathy Questionnaire (KCCQ-12)",
    "eq-5d-5l": "EQ-5D-5L",
}

# Which instruments each condition's cycle collects, and at which time points (days from index).
PROM_SCHEDULE: dict[str, tuple[tuple[str, ...], tuple[int, ...]]] = {
    "hip-osteoarthritis": (("hoos-ps", "promis-global-10"), (-30, 180, 365)),
    "knee-osteoarthritis": (("koos-ps", "promis-global-10"), (-30, 180, 365)),
    "breast-cancer": (("promis-global-10",), (0, 180, 365)),
    "head-and-neck-cancer": (("promis-global-10",), (0, 180, 365)),
    "heart-failure": (("kccq-12",), (0, 180, 365)),
    "migraine": (("phq-9",), (0, 180, 365)),
    "type-2-diabetes": (("phq-9",), (0, 365)),
    "kidney-transplant": (("eq-5d-5l",), (-60, 180, 365)),
}

# Codes whose SNOMED id could not be confirmed with the search tool (used consistently anyway).
UNVERIFIED = ("4897006", "179344006", "13619001", "26373009", "278052009", "234097001",
              "225886003", "183495009", "122548005", "5880005", "74016001", "394656005",
              "385804009", "363679005")
