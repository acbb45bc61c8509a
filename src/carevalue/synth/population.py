"""Patients and their case-mix, drawn as numpy arrays (one element per patient).

Distributions are rough US adult figures (see docs/synthetic-population.md); the eight conditions
are enriched so that a 20k population has enough cycles per provider to measure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from carevalue.synth import system

DAY = 86_400
START = int(np.datetime64("2023-01-01T00:00:00", "s").astype(np.int64))
AS_OF = int(np.datetime64("2025-12-31T00:00:00", "s").astype(np.int64))  # truth date for segments
END = AS_OF + DAY - 1
AS_OF_DATE = "2025-12-31"

COMORBIDITY_KEYS = ("hypertension", "copd", "asthma", "ckd3", "depression", "atrial-fibrillation",
                    "prediabetes", "family-history-cvd", "family-history-diabetes", "alcohol-misuse",
                    "frailty", "disability", "cystic-fibrosis", "hemophilia", "huntington", "sickle-cell")
CONDITION_KEYS = ("hip-osteoarthritis", "knee-osteoarthritis", "breast-cancer", "type-2-diabetes",
                  "heart-failure", "migraine", "head-and-neck-cancer", "kidney-transplant")


@dataclass
class Population:
    n: int
    birth: np.ndarray  # epoch seconds
    age: np.ndarray  # completed years at AS_OF
    female: np.ndarray
    deprivation: np.ndarray  # 0-1
    bmi: np.ndarray
    smoking: np.ndarray  # 0 never, 1 former, 2 current
    interpreter: np.ndarray
    pcp: np.ndarray  # index into system.PRACTICES
    payer: np.ndarray  # index into list(system.PAYERS)
    comorb: dict[str, np.ndarray]  # key -> bool
    has: dict[str, np.ndarray]  # condition template -> bool (has a cycle / is under care)
    death: np.ndarray  # epoch seconds or -1

    def chronic_count(self) -> np.ndarray:
        keys = ("hypertension", "copd", "asthma", "ckd3")
        c = sum(self.comorb[k].astype(np.int64) for k in keys)
        for k in ("type-2-diabetes", "heart-failure", "migraine", "hip-osteoarthritis",
                  "knee-osteoarthritis", "kidney-transplant"):
            c = c + self.has[k]
        return np.asarray(c)


def _logistic(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def draw_population(n: int, rng: np.random.Generator) -> Population:
    """Draw ``n`` patients with age, sex, deprivation, BMI, smoking, comorbidities and conditions."""
    band = rng.choice(6, size=n, p=[0.20, 0.34, 0.27, 0.10, 0.065, 0.025])
    lo = np.array([0, 18, 45, 65, 75, 85])[band]
    hi = np.array([18, 45, 65, 75, 85, 100])[band]
    age_f = lo + rng.random(n) * (hi - lo)
    birth = (AS_OF - age_f * 365.25 * DAY).astype(np.int64)
    birth -= birth % DAY
    # completed years at the truth date 2025-12-31 = 2025 - birth year (every birthday has passed)
    age = 2025 - (birth.astype("datetime64[s]").astype("datetime64[Y]").astype(np.int64) + 1970)

    female = rng.random(n) < 0.51
    adult = age >= 18
    deprivation = np.clip(rng.beta(2.0, 3.0, n), 0, 1).round(3)
    bmi = np.where(adult, rng.lognormal(np.log(28.0), 0.20, n), rng.lognormal(np.log(19.0), 0.15, n))
    bmi = np.clip(bmi + 2.0 * deprivation, 14, 65).round(1)
    u = rng.random(n)
    p_cur = np.where(adult, 0.08 + 0.15 * deprivation, 0.0)
    p_former = np.where(adult, 0.10 + 0.004 * np.clip(age - 18, 0, 60), 0.0)
    smoking = np.where(u < p_cur, 2, np.where(u < p_cur + p_former, 1, 0))
    interpreter = rng.random(n) < 0.08
    pcp = rng.choice(len(system.PRACTICES), size=n, p=system.PRACTICE_WEIGHTS)
    up = rng.random(n)
    payer = np.where(age >= 65, np.where(up < 0.88, 1, 0),
                     np.where(up < 0.10 + 0.35 * deprivation, 2, np.where(up < 0.75, 0, 3)))

    a = (age - 50) / 10.0
    ob = (bmi - 28) / 5.0

    def draw(logit: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        out = rng.random(n) < _logistic(logit)
        return out & mask if mask is not None else out

    cm: dict[str, np.ndarray] = {}
    cm["hypertension"] = draw(-1.2 + 0.75 * a + 0.35 * ob, adult)
    cm["copd"] = draw(-4.2 + 0.5 * a + 1.6 * (smoking == 2) + 0.9 * (smoking == 1), adult)
    cm["asthma"] = draw(np.full(n, -2.5))
    cm["ckd3"] = draw(-4.0 + 0.8 * a, adult)
    cm["depression"] = draw(-2.5 + 0.8 * deprivation + 0.3 * female, adult)
    cm["atrial-fibrillation"] = draw(-5.0 + 0.9 * a, adult)
    cm["family-history-cvd"] = draw(np.full(n, -2.3))
    cm["family-history-diabetes"] = draw(np.full(n, -2.3))
    cm["alcohol-misuse"] = draw(-3.3 + 0.8 * deprivation, adult)
    cm["frailty"] = draw(-1.6 + 0.6 * (age - 80) / 5.0, age >= 75)
    cm["disability"] = draw(np.full(n, -3.6))
    rare = rng.random(n)
    cm["cystic-fibrosis"] = rare < 0.0008
    cm["hemophilia"] = (rare >= 0.0008) & (rare < 0.0014)
    cm["huntington"] = (rare >= 0.0014) & (rare < 0.0018)
    cm["sickle-cell"] = (rare >= 0.0018) & (rare < 0.0030)

    has: dict[str, np.ndarray] = {}
    has["type-2-diabetes"] = draw(-2.6 + 0.55 * a + 0.65 * ob + 0.6 * deprivation, adult)
    cm["prediabetes"] = draw(-2.0 + 0.4 * ob, adult & ~has["type-2-diabetes"])
    has["heart-failure"] = draw(-4.6 + 0.9 * a + 0.5 * cm["hypertension"] + 0.5 * has["type-2-diabetes"]
                                + 0.5 * (smoking == 2), age >= 40)
    has["migraine"] = draw(np.where(female, -2.6, -3.6) - 0.02 * np.clip(age - 40, 0, 40), age >= 16)
    # enriched surgical / oncology conditions (cycles with an index event in the window)
    has["hip-osteoarthritis"] = draw(-3.3 + 0.35 * a + 0.25 * ob, age >= 45)
    has["knee-osteoarthritis"] = draw(-3.1 + 0.35 * a + 0.40 * ob, (age >= 45) & ~has["hip-osteoarthritis"])
    has["breast-cancer"] = draw(-4.0 + 0.3 * a, female & (age >= 35))
    has["head-and-neck-cancer"] = draw(-5.6 + 0.3 * a + 1.3 * (smoking == 2) + 0.8 * cm["alcohol-misuse"],
                                       age >= 35)
    has["kidney-transplant"] = draw(-5.9 + 1.0 * has["type-2-diabetes"] + 0.8 * cm["hypertension"],
                                    (age >= 20) & (age < 75))
    return Population(n=n, birth=birth, age=age, female=female, deprivation=deprivation, bmi=bmi,
                      smoking=smoking, interpreter=interpreter, pcp=pcp, payer=payer, comorb=cm, has=has,
                      death=np.full(n, -1, dtype=np.int64))
