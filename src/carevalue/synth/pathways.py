"""Care cycles: primary care for everyone and the eight condition pathways, as vectorised draws.

Each pathway places encounters in the phases of the care delivery value chain at the right
facilities, with process steps (activities), procedures, observations, PROMs, medications,
consumables and claims, and draws complications, readmissions, revisions, recurrences and deaths
from the case-mix and the planted provider effects (system.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from carevalue.synth import system
from carevalue.synth.population import DAY, END, START, Population, _logistic
from carevalue.synth.tables import ORG_INDEX, Group, Tables

ORG = ORG_INDEX
PRACTICE_IDX = np.array([ORG[p] for p in system.PRACTICES])
INDEX_LO = int(np.datetime64("2023-07-01T00:00:00", "s").astype(np.int64))
INDEX_HI = int(np.datetime64("2024-12-31T00:00:00", "s").astype(np.int64))


@dataclass
class Truth:
    """What the engine must rediscover."""
    cycles: list[dict[str, np.ndarray]] = field(default_factory=list)
    asa: np.ndarray | None = None
    outcomes: dict[str, np.ndarray] = field(default_factory=dict)

    def cycle(self, condition: str, cycle_type: str, pat: np.ndarray, start: np.ndarray, trigger_table: str,
              trigger: np.ndarray, org: np.ndarray, ipu: np.ndarray, **outcome: np.ndarray) -> None:
        n = len(pat)
        row = {"pat": pat, "condition": np.full(n, condition, dtype=object), "cycle_type": np.full(n, cycle_type,
                                                                                                    dtype=object),
               "start": start, "trigger_table": np.full(n, trigger_table, dtype=object), "trigger": trigger,
               "org": org, "ipu": ipu}
        for k in ("complication", "readmission", "revision", "recurrence", "died"):
            row[k] = outcome.get(k, np.zeros(n, dtype=bool))
        self.cycles.append(row)


def _u(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    return np.asarray(lo + (hi - lo) * rng.random(n))


def _days(x: np.ndarray | float) -> np.ndarray:
    return np.asarray(np.asarray(x) * DAY, dtype=np.int64)


def _calibrate(lin: np.ndarray, target: float) -> float:
    """Intercept b0 such that mean(logistic(b0 + lin)) == target (bisection; deterministic)."""
    if len(lin) == 0:
        return float(np.log(target / (1 - target)))
    lo, hi = -15.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if _logistic(mid + lin).mean() > target:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def _choose(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Row-wise categorical draw from an (n, k) weight matrix."""
    cum = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    return np.asarray((rng.random((len(weights), 1)) > cum).sum(axis=1))


def _death(pop: Population, pat: np.ndarray, when: np.ndarray, died: np.ndarray) -> None:
    w = when[died]
    p = pat[died]
    cur = pop.death[p]
    pop.death[p] = np.where((cur < 0) | (w < cur), w, cur)


# --- primary care -------------------------------------------------------------------------------
def primary_care(pop: Population, tb: Tables, rng: np.random.Generator) -> None:
    """Wellness visits for everyone, chronic reviews, care calls, home visits and ED visits."""
    n = pop.n
    allp = np.arange(n)
    pcp = PRACTICE_IDX[pop.pcp]
    chronic = pop.chronic_count()
    first = None
    for year, share in ((2023, 0.6), (2024, 1.0), (2025, 1.0)):
        y0 = int(np.datetime64(f"{year}-01-15T00:00:00", "s").astype(np.int64))
        who = allp[rng.random(n) < share]
        start = y0 + _days(rng.integers(0, 330, len(who))) + rng.integers(8, 17, len(who)) * 3600
        for lo, hi, code in ((0, 18, "99395"), (18, 65, "99396"), (65, 200, "99397")):
            age_then = pop.age[who] - (2025 - year)
            m = (age_then >= lo) & (age_then < hi)
            g = tb.encounter(who[m], start[m], 30, "AMB", "wellness", pcp[who[m]], "physician", "primary-care",
                             billing=((code, 1.0),))
            tb.activity(g, "pc-wellness", (("physician", 20), ("medical-assistant", 10), ("exam-room", 30)),
                        lead_role="physician", extra_interpreter=("physician", "exam-room"))
            tb.observation(g, "bmi", value=pop.bmi[g.pat])
            if year == 2024:
                first = g if first is None else _concat(first, g)
    assert first is not None
    # problem list at the first 2024 wellness visit: comorbidities with onset before the window
    order = np.argsort(first.pat, kind="stable")
    f = first.take(order)
    enc_of = np.full(n, -1, dtype=np.int64)
    enc_of[f.pat] = f.enc
    tb.observation(f, "smoking-status", code=np.array(["never", "former", "current"], dtype=object)[
        pop.smoking[f.pat]])
    for key, has in pop.comorb.items():
        p = allp[has]
        onset = START - _days(rng.integers(60, 3650, len(p)))
        onset = np.maximum(onset, pop.birth[p] + DAY)
        tb.condition(p, enc_of[p], key, onset)
    p = allp[pop.interpreter]
    tb.condition(p, enc_of[p], "interpreter-needed", np.maximum(START - _days(400), pop.birth[p] + DAY))

    # chronic reviews (2 per year in 2024-2025), care calls for complex, home visits for frail
    for year in (2024, 2025):
        y0 = int(np.datetime64(f"{year}-01-01T00:00:00", "s").astype(np.int64))
        for half in (0, 1):
            who = allp[chronic >= 1]
            s = y0 + _days(half * 182 + rng.integers(0, 170, len(who))) + 9 * 3600
            g = tb.encounter(who, s, 30, "AMB", "problem-visit", pcp[who], "physician", "primary-care",
                             billing=(("99214", 1.0),))
            tb.activity(g, "pc-review", (("physician", 25), ("medical-assistant", 10), ("exam-room", 35)),
                        lead_role="physician", extra_interpreter=("physician", "exam-room"))
            who = allp[chronic >= 3]
            s = y0 + _days(half * 182 + rng.integers(0, 170, len(who))) + 14 * 3600
            g = tb.encounter(who, s, 15, "VR", "telehealth", pcp[who], "care-manager", "primary-care",
                             billing=(("99490", 1.0),))
            tb.activity(g, "pc-care-call", (("care-manager", 15),), lead_role="care-manager")
        who = allp[pop.comorb["frailty"] | pop.comorb["disability"]]
        s = y0 + _days(rng.integers(0, 360, len(who))) + 10 * 3600
        g = tb.encounter(who, s, 60, "HH", "home-visit", pcp[who], "nurse", "primary-care")
        tb.activity(g, "pc-home-visit", (("nurse", 60),), lead_role="nurse")

    # ED visits at the local community hospital
    lam = 3.0 * (0.06 + 0.10 * chronic + 0.12 * pop.deprivation)
    k = rng.poisson(lam)
    who = np.repeat(allp, k)
    s = START + _days(rng.integers(0, 1090, len(who))) + rng.integers(0, 86_400, len(who))
    ed_org = np.array([ORG[system.CH1], ORG[system.CH1], ORG[system.CH2], ORG[system.CH3], ORG[system.CH4],
                       ORG[system.CH2]])[pop.pcp[who]]
    g = tb.encounter(who, s, 240, "EMER", "emergency", ed_org, "physician", "primary-care",
                     billing=(("99284", 1.0),))
    tb.activity(g, "ed-visit", (("physician", 40), ("nurse", 90), ("ed-bay", 240)), lead_role="physician")


def _concat(a: Group, b: Group) -> Group:
    return Group(*(np.concatenate([getattr(a, k), getattr(b, k)]) for k in
                   ("enc", "pat", "start", "end", "org", "prac", "mult")))


# --- chronic conditions -------------------------------------------------------------------------
def _chronic_onset(rng: np.random.Generator, pop: Population, pat: np.ndarray) -> np.ndarray:
    incident = rng.random(len(pat)) < 0.25
    onset = np.where(incident, START + _days(rng.integers(0, 900, len(pat))),
                     START - _days(rng.integers(100, 4000, len(pat))))
    return np.asarray(np.maximum(onset, pop.birth[pat] + _days(16 * 365)))


def _slots(rng: np.random.Generator, onset: np.ndarray, k: int = 6, first_year: int = 2023
           ) -> list[tuple[np.ndarray, np.ndarray]]:
    """k semi-annual visit slots from Jan of first_year; a slot is kept when it falls after onset."""
    y0 = int(np.datetime64(f"{first_year}-01-01T00:00:00", "s").astype(np.int64))
    out = []
    for i in range(k):
        t = y0 + _days(i * 182 + rng.integers(5, 150, len(onset))) + 10 * 3600
        out.append((t >= onset, t))
    return out


def diabetes(pop: Population, tb: Tables, truth: Truth, rng: np.random.Generator) -> None:
    pat = np.flatnonzero(pop.has["type-2-diabetes"])
    n = len(pat)
    org = PRACTICE_IDX[pop.pcp[pat]]
    onset = _chronic_onset(rng, pop, pat)
    person = rng.normal(0.0, 0.9, n)
    shift = np.array([system.HBA1C_SHIFT[p] for p in system.PRACTICES])[pop.pcp[pat]]
    # diagnosis recorded at a problem visit on the onset date (or at the first slot for prevalent cases)
    diag_t = np.maximum(onset, START + _days(rng.integers(0, 60, n))) + 9 * 3600
    g = tb.encounter(pat, diag_t, 30, "AMB", "problem-visit", org, "physician", "type-2-diabetes",
                     reason="44054006", billing=(("99214", 1.0), ("83036", 1.0)))
    tb.activity(g, "t2d-visit", (("physician", 20), ("medical-assistant", 10), ("exam-room", 30)),
                lead_role="physician", extra_interpreter=("physician", "exam-room"))
    cond = tb.condition(pat, g.enc, "type-2-diabetes", onset)
    tb.observation(g, "hba1c", value=np.round(np.clip(8.4 + 0.8 * pop.deprivation[pat] + person, 5.0, 14), 1))
    tb.medication(g, "metformin")
    inc = onset >= START
    gi = g.take(inc)
    tb.activity(gi, "t2d-education", (("educator", 45),), lead_role="educator")
    tb.bill(gi, (("98960", 1.0),), inpatient=False)
    for i, (keep, t) in enumerate(_slots(rng, diag_t + DAY)):
        p = pat[keep]
        gs = tb.encounter(p, t[keep], 20, "AMB", "follow-up", org[keep], "physician", "type-2-diabetes",
                          reason="44054006", billing=(("99213", 1.0), ("83036", 1.0)))
        tb.activity(gs, "t2d-visit", (("physician", 20), ("medical-assistant", 10), ("exam-room", 30)),
                    lead_role="physician", extra_interpreter=("physician", "exam-room"))
        tb.activity(gs, "t2d-hba1c", (("phlebotomist", 10), ("laboratory", 5)))
        years = (t[keep] - onset[keep]) / (365.25 * DAY)
        val = 7.3 + 0.8 * pop.deprivation[p] + person[keep] + shift[keep] + 0.05 * np.clip(years, 0, 10)
        tb.observation(gs, "hba1c", value=np.round(np.clip(val + rng.normal(0, 0.3, len(p)), 5.0, 14), 1))
        if i % 2 == 0:
            tb.medication(gs, "metformin")
            tb.medication(gs.take(rng.random(len(p)) < 0.3), "empagliflozin")
            tb.medication(gs.take(person[keep] > 0.9), "insulin-glargine")
            resp = gs.take(rng.random(len(p)) < 0.8)
            mood = 0.75 - 0.25 * pop.comorb["depression"][resp.pat] - 0.1 * pop.deprivation[resp.pat]
            tb.prom(resp, "phq-9", np.clip(mood + rng.normal(0, 0.1, len(resp)), 0, 1))
        if i in (2, 4):
            ge = gs.take(rng.random(len(p)) < 0.55)
            tb.activity(ge, "t2d-eye", (("optometrist", 15), ("retinal-camera", 15)))
    # diabetes admissions (3%/year)
    adm = rng.random(n) < 0.06
    p = pat[adm]
    t = START + _days(rng.integers(0, 1090, len(p)))
    t = np.maximum(t, onset[adm] + DAY)
    los = rng.integers(2, 6, len(p))
    hosp = np.array([ORG[system.CH1], ORG[system.CH2], ORG[system.CH3]])[rng.integers(0, 3, len(p))]
    ga = tb.encounter(p, t, los * 1440.0, "IMP", "admission", hosp, "physician", "type-2-diabetes",
                      reason="44054006", billing=(("99223", 1.0), ("99232", los - 1.0), ("99238", 1.0)))
    tb.activity(ga, "t2d-admission-day", (("nurse", 240), ("physician", 20), ("inpatient-bed", 1440)),
                lead_role="physician", quantity=los)
    truth.cycle("type-2-diabetes", "chronic", pat, np.maximum(onset, diag_t - diag_t % DAY), "conditions", cond,
                org, np.full(n, "", dtype=object))


def heart_failure(pop: Population, tb: Tables, truth: Truth, rng: np.random.Generator) -> None:
    pat = np.flatnonzero(pop.has["heart-failure"])
    n = len(pat)
    onset = _chronic_onset(rng, pop, pat)
    sick = (pop.age[pat] - 70) / 10 + pop.comorb["ckd3"][pat] + pop.deprivation[pat] + pop.has[
        "type-2-diabetes"][pat]
    w = np.stack([np.full(n, 0.4), np.full(n, 0.35), 0.15 * np.exp(0.6 * np.clip(sick, -1.5, 2.5))], axis=1)
    choice = _choose(rng, w)
    prov = np.array(system.HF_PROVIDERS)[choice]
    org = np.array([ORG[p] for p in system.HF_PROVIDERS])[choice]
    ipu = np.where(prov == system.AC, "ipu-hf", "")
    lead = "cardiologist"
    diag_t = np.maximum(onset, START + _days(rng.integers(0, 60, n))) + 9 * 3600
    g = tb.encounter(pat, diag_t, 45, "AMB", "consultation", org, lead, "heart-failure", reason="84114007",
                     billing=(("99204", 1.0), ("93306", 1.0)))
    tb.activity(g, "hf-echo", (("sonographer", 45), ("imaging-echo", 45), ("cardiologist", 15)))
    tb.activity(g, "hf-clinic", (("cardiologist", 25), ("nurse", 15), ("exam-room", 40)), lead_role=lead,
                extra_interpreter=("cardiologist", "exam-room"))
    cond = tb.condition(pat, g.enc, "heart-failure", onset)
    ef_person = np.clip(rng.normal(38, 11, n), 12, 70)
    tb.observation(g, "lvef", value=np.round(ef_person))
    for key, share in (("furosemide", 0.9), ("carvedilol", 0.8), ("sacubitril-valsartan", 0.6)):
        tb.medication(g.take(rng.random(n) < share), key)
    health = np.clip(0.6 - 0.1 * sick - 0.004 * (40 - ef_person), 0.05, 0.95)
    for i, (keep, t) in enumerate(_slots(rng, diag_t + DAY)):
        p = pat[keep]
        gs = tb.encounter(p, t[keep], 40, "AMB", "follow-up", org[keep], lead, "heart-failure",
                          reason="84114007", billing=(("99214", 1.0),))
        tb.activity(gs, "hf-clinic", (("cardiologist", 25), ("nurse", 15), ("exam-room", 40)), lead_role=lead,
                    extra_interpreter=("cardiologist", "exam-room"))
        tb.activity(gs, "hf-bnp", (("phlebotomist", 10), ("laboratory", 5)))
        tb.bill(gs, (("80053", 1.0),), inpatient=False)
        if i % 2 == 1:
            ge = gs.take(rng.random(len(p)) < 0.7)
            tb.activity(ge, "hf-echo", (("sonographer", 45), ("imaging-echo", 45), ("cardiologist", 15)))
            tb.bill(ge, (("93306", 1.0),), inpatient=False)
            tb.observation(ge, "lvef", value=np.round(np.clip(ef_person[keep][np.isin(p, ge.pat)]
                                                              + rng.normal(0, 4, len(ge)), 10, 75)))
        if i >= 2:
            resp = gs.take(rng.random(len(p)) < 0.8)
            h = health[np.searchsorted(pat, resp.pat)]
            tb.prom(resp, "kccq-12", np.clip(h + rng.normal(0, 0.08, len(resp)), 0, 1))
        tv = gs.take(rng.random(len(p)) < 0.4)
        gt = tb.encounter(tv.pat, tv.start + _days(45), 10, "VR", "telehealth", tv.org, "nurse", "heart-failure",
                          reason="84114007")
        tb.activity(gt, "hf-telemonitoring", (("nurse", 10),), lead_role="nurse")
    # admissions and 30-day readmissions
    rate = 0.28 * np.exp(0.5 * sick)
    k = rng.poisson(rate * 3.0)
    idx = np.repeat(np.arange(n), k)
    t = START + _days(rng.integers(0, 1060, len(idx))) + rng.integers(0, 86_400, len(idx))
    ok = t > diag_t[idx]
    idx, t = idx[ok], t[ok]
    los = np.clip(rng.poisson(4.0, len(idx)), 1, 15)
    ga = tb.encounter(pat[idx], t, los * 1440.0, "IMP", "admission", org[idx], lead, "heart-failure",
                      reason="84114007", billing=(("99223", 1.0), ("99232", los - 1.0), ("99238", 1.0)))
    tb.activity(ga, "hf-admission-day", (("nurse", 300), ("cardiologist", 20), ("inpatient-bed", 1440)),
                lead_role=lead, quantity=los)
    ed = tb.encounter(pat[idx], t - 4 * 3600, 240, "EMER", "emergency", org[idx], "physician", "heart-failure",
                      reason="84114007", billing=(("99285", 1.0),))
    tb.activity(ed, "hf-ed-visit", (("physician", 40), ("nurse", 90), ("ed-bay", 240)), lead_role="physician")
    lin = 0.4 * sick[idx] + np.log(np.array([system.HF_READMIT_OR[p] for p in system.HF_PROVIDERS])[choice[idx]])
    b0 = _calibrate(lin, 0.20)
    re = rng.random(len(idx)) < _logistic(b0 + lin)
    ri = idx[re]
    rt = t[re] + _days(los[re]) + _days(rng.integers(2, 29, len(ri)))
    rlos = np.clip(rng.poisson(5.0, len(ri)), 1, 15)
    gr = tb.encounter(pat[ri], rt, rlos * 1440.0, "IMP", "admission", org[ri], lead, "heart-failure",
                      reason="84114007", billing=(("99223", 1.0), ("99232", rlos - 1.0), ("99238", 1.0)))
    tb.activity(gr, "hf-admission-day", (("nurse", 300), ("cardiologist", 20), ("inpatient-bed", 1440)),
                lead_role=lead, quantity=rlos)
    readmit = np.zeros(n, dtype=bool)
    readmit[ri] = True
    # mortality ~8%/year
    hz = 0.07 * np.exp(0.35 * sick)
    dies = rng.random(n) < 1 - np.exp(-hz * 2.5)
    when = diag_t + _days(rng.integers(30, 900, n))
    dies &= when < END
    _death(pop, pat, when, dies)
    truth.cycle("heart-failure", "chronic", pat, np.maximum(onset, diag_t - diag_t % DAY), "conditions", cond, org,
                ipu, readmission=readmit, died=dies)


def migraine(pop: Population, tb: Tables, truth: Truth, rng: np.random.Generator) -> None:
    pat = np.flatnonzero(pop.has["migraine"])
    n = len(pat)
    onset = _chronic_onset(rng, pop, pat)
    at_ac = rng.random(n) < 0.35
    org = np.where(at_ac, ORG[system.AC], PRACTICE_IDX[pop.pcp[pat]])
    diag_t = np.maximum(onset, START + _days(rng.integers(0, 60, n))) + 9 * 3600
    conds = np.empty(n, dtype=np.int64)
    groups = []
    for m, lead in ((at_ac, "neurologist"), (~at_ac, "physician")):
        g = tb.encounter(pat[m], diag_t[m], 30, "AMB", "consultation", org[m], lead, "migraine", reason="37796009",
                         billing=(("99204", 1.0),))
        tb.activity(g, "mig-visit", ((lead, 25), ("exam-room", 30)), lead_role=lead,
                    extra_interpreter=(lead, "exam-room"))
        conds[m] = tb.condition(pat[m], g.enc, "migraine", onset[m])
        tb.medication(g, "sumatriptan")
        tb.medication(g.take(rng.random(len(g)) < 0.4), "topiramate")
        groups.append(g)
    mood = np.clip(0.7 - 0.25 * pop.comorb["depression"][pat] + rng.normal(0, 0.08, n), 0, 1)
    for i, (keep, t) in enumerate(_slots(rng, diag_t + DAY, k=4, first_year=2024)):
        for m, lead in ((at_ac, "neurologist"), (~at_ac, "physician")):
            mm = keep & m
            gs = tb.encounter(pat[mm], t[mm], 25, "AMB", "follow-up", org[mm], lead, "migraine", reason="37796009",
                              billing=(("99213", 1.0),))
            tb.activity(gs, "mig-visit", ((lead, 25), ("exam-room", 30)), lead_role=lead,
                        extra_interpreter=(lead, "exam-room"))
            if i < 3:
                resp = gs.take(rng.random(len(gs)) < 0.8)
                tb.prom(resp, "phq-9", np.clip(mood[np.searchsorted(pat, resp.pat)] + 0.03 * i, 0, 1))
    # chemodenervation at the headache centre for 12%
    botox = at_ac & (rng.random(n) < 0.3)
    for q in range(4):
        t = int(np.datetime64("2024-02-01T10:00:00", "s").astype(np.int64)) + _days(q * 91 + rng.integers(
            0, 20, int(botox.sum())))
        keep = t > diag_t[botox]
        gb = tb.encounter(pat[botox][keep], t[keep], 30, "AMB", "follow-up", ORG[system.AC], "neurologist", "migraine",
                          reason="37796009", billing=(("64615", 1.0),))
        tb.activity(gb, "mig-botox", (("neurologist", 20), ("nurse", 20), ("exam-room", 30)), lead_role="neurologist")
        tb.procedure(gb, "botulinum-injection")
        tb.consumable(gb, "botulinum-toxin")
    # low-value MRI (more often when managed in primary care)
    mri = rng.random(n) < np.where(at_ac, 0.05, 0.15)
    t = diag_t[mri] + _days(rng.integers(7, 60, int(mri.sum())))
    gm = tb.encounter(pat[mri], t, 45, "AMB", "imaging", ORG[system.CH1], "radiologist", "migraine",
                      reason="37796009", billing=(("70553", 1.0),))
    tb.activity(gm, "mig-mri", (("radiographer", 40), ("imaging-mri", 40), ("radiologist", 15)),
                lead_role="radiologist")
    k = rng.poisson(0.3, n)
    idx = np.repeat(np.arange(n), k)
    t = diag_t[idx] + _days(rng.integers(10, 700, len(idx)))
    ge = tb.encounter(pat[idx], t, 180, "EMER", "emergency", ORG[system.CH1], "physician", "migraine",
                      reason="37796009", billing=(("99284", 1.0),))
    tb.activity(ge, "mig-ed-visit", (("physician", 30), ("nurse", 60), ("ed-bay", 180)), lead_role="physician")
    truth.cycle("migraine", "chronic", pat, np.maximum(onset, diag_t - diag_t % DAY), "conditions", conds, org,
                np.where(at_ac, "ipu-migraine", "").astype(object))


# --- acute surgical cycles ----------------------------------------------------------------------
def asa_class(pop: Population, rng: np.random.Generator) -> np.ndarray:
    """ASA physical status 1-4 from age, BMI and comorbidity (every patient; used for surgical cycles)."""
    burden = (pop.comorb["copd"].astype(float) + pop.comorb["ckd3"] + pop.has["heart-failure"] * 1.5
              + pop.has["type-2-diabetes"] * 0.7 + pop.comorb["hypertension"] * 0.4 + pop.comorb["frailty"]
              + pop.comorb["atrial-fibrillation"] * 0.5)
    score = 1.2 + 0.025 * np.clip(pop.age - 40, 0, 60) + 0.06 * np.clip(pop.bmi - 30, 0, 25) + 0.55 * burden
    score = score + 0.3 * (pop.smoking == 2) + rng.normal(0, 0.45, pop.n)
    return np.asarray(np.clip(np.floor(score), 1, 4).astype(np.int64))


def _index_dates(rng: np.random.Generator, n: int) -> np.ndarray:
    return INDEX_LO + _days(rng.integers(0, (INDEX_HI - INDEX_LO) // DAY, n)) + 8 * 3600


def arthroplasty(joint: str, pop: Population, tb: Tables, truth: Truth, rng: np.random.Generator,
                 asa: np.ndarray) -> None:
    cond_key = f"{joint}-osteoarthritis"
    pat = np.flatnonzero(pop.has[cond_key])
    n = len(pat)
    s = "hip" if joint == "hip" else "knee"
    a = asa[pat]
    age, bmi = pop.age[pat], pop.bmi[pat]
    dep, smoker = pop.deprivation[pat], pop.smoking[pat] == 2
    diab = pop.has["type-2-diabetes"][pat]
    # provider choice: ASC takes healthier patients, CH3 attracts sicker ones
    provs = system.ARTHROPLASTY_PROVIDERS
    base = np.array([system.ARTHROPLASTY_BASE_SHARE[p] for p in provs])
    w = np.tile(base, (n, 1))
    sick = np.clip((a - 2) + 0.6 * dep + 0.02 * (age - 68) + 0.05 * np.clip(bmi - 32, 0, None), -1.5, 2.0)
    w[:, provs.index(system.CH3)] *= np.exp(0.9 * sick)
    w[:, provs.index(system.ASC)] *= ((a <= 2) & (bmi < 38) & (age < 78)).astype(float)
    choice = _choose(rng, w)
    prov = np.array(provs)[choice]
    org = np.array([ORG[p] for p in provs])[choice]
    mult = np.array([system.MINUTES_MULT[p] for p in provs])[choice]
    ipu = np.where(prov == system.AC, f"ipu-{s}", "").astype(object)
    t0 = _index_dates(rng, n)
    pcp = PRACTICE_IDX[pop.pcp[pat]]
    imaging_org = np.where(prov == system.ASC, ORG[system.AC], org)
    outside = (rng.random(n) < 0.15).astype(float)

    # diagnosing: PCP problem visit, X-ray, (low-value MRI), surgeon consultation
    g = tb.encounter(pat, t0 - _days(rng.integers(170, 230, n)), 20, "AMB", "problem-visit", pcp, "physician",
                     cond_key, reason="", billing=(("99213", 1.0),))
    tb.activity(g, "pc-review", (("physician", 25), ("medical-assistant", 10), ("exam-room", 35)),
                lead_role="physician", extra_interpreter=("physician", "exam-room"))
    onset = g.start - _days(rng.integers(200, 1500, n))
    tb.condition(pat, g.enc, cond_key, onset, category="encounter-diagnosis")
    gx = tb.encounter(pat, g.start + _days(rng.integers(3, 14, n)), 20, "AMB", "imaging", imaging_org, "radiologist",
                      cond_key, billing=((f"{'73502' if s == 'hip' else '73562'}", 1.0),), mult=mult)
    tb.activity(gx, f"{s}-xray", (("radiographer", 15), ("imaging-xray", 15), ("radiologist", 5)),
                lead_role="radiologist", extra_outside=("radiologist",), outside=outside)
    tb.procedure(gx, f"{s}-xray")
    tb.observation(gx.take(outside > 0), "outside-imaging", value=np.ones(int((outside > 0).sum())))
    mri_p = np.where(prov == system.CH2, 0.30, 0.08)
    gm = gx.take(rng.random(n) < mri_p)
    gm = tb.encounter(gm.pat, gm.start + _days(7), 45, "AMB", "imaging", gm.org, "radiologist", cond_key,
                      billing=(("73721", 1.0),), mult=gm.mult)
    tb.activity(gm, f"{s}-mri", (("radiographer", 40), ("imaging-mri", 40), ("radiologist", 15)),
                lead_role="radiologist")
    gc = tb.encounter(pat, t0 - _days(rng.integers(90, 140, n)), 30, "AMB", "consultation", org, "surgeon", cond_key,
                      billing=(("99204", 1.0),), mult=mult)
    tb.activity(gc, f"{s}-consult", (("surgeon", 20), ("nurse", 10), ("exam-room", 30)), lead_role="surgeon",
                extra_interpreter=("surgeon", "exam-room"))

    # preparing: pre-operative assessment with ASA class, BMI and baseline PROMs
    gp = tb.encounter(pat, t0 - _days(rng.integers(20, 40, n)), 45, "AMB", "pre-operative", org,
                      "nurse-practitioner", cond_key, billing=(("99214", 1.0),), mult=mult)
    tb.activity(gp, f"{s}-preop", (("nurse-practitioner", 30), ("anaesthetist", 15), ("exam-room", 45)),
                lead_role="nurse-practitioner", extra_interpreter=("nurse-practitioner", "exam-room"))
    tb.observation(gp, "asa-class", value=a.astype(float))
    tb.observation(gp, "bmi", value=bmi)
    function0 = np.clip(0.35 - 0.03 * (bmi - 30) / 5 - 0.05 * (a - 2) - 0.1 * dep + rng.normal(0, 0.08, n), 0.02, 0.8)
    resp0 = rng.random(n) < 0.85
    inst = "hoos-ps" if s == "hip" else "koos-ps"
    tb.prom(gp.take(resp0), inst, function0[resp0])
    health0 = np.clip(function0 + 0.2 + rng.normal(0, 0.05, n), 0, 1)
    tb.prom(gp.take(resp0), "promis-global-10", health0[resp0])

    # intervening: surgery + stay
    inpatient = prov != system.ASC
    los_extra = np.array([system.LOS_EXTRA_DAYS[p] for p in provs])[choice]
    los = np.where(inpatient, np.clip(np.rint(1.6 + 0.5 * (a - 2) + 0.02 * (age - 68) + los_extra
                                              + rng.gamma(1.2, 0.6, n)), 1, 12), 0).astype(np.int64)
    proc_key = f"total-{s}-replacement"
    cpt = "27130" if s == "hip" else "27447"
    surg = np.empty(n, dtype=np.int64)
    for m, cls in ((inpatient, "IMP"), (~inpatient, "AMB")):
        minutes = np.where(m, los * 1440.0, 360.0)[m]
        billing = ((cpt, 1.0), ("99238", 1.0)) if cls == "IMP" else ((cpt, 1.0),)
        gs = tb.encounter(pat[m], t0[m], minutes, cls, "admission" if cls == "IMP" else "consultation", org[m],
                          "surgeon", cond_key, reason=("239872002" if s == "hip" else "239873007"),
                          billing=billing, mult=mult[m])
        surg[m] = tb.procedure(gs, proc_key)
        tb.activity(gs, f"{s}-surgery", (("surgeon", 90), ("anaesthetist", 110), ("nurse", 220),
                                         ("operating-room", 120)), lead_role="surgeon")
        if cls == "IMP":
            tb.activity(gs, f"{s}-ward-day", (("nurse", 240), ("physician", 15), ("inpatient-bed", 1440)),
                        quantity=los[m])
            tb.activity(gs, f"{s}-inpatient-pt", (("physiotherapist", 30),), quantity=los[m])
        tb.consumable(gs, f"{s}-implant")
        tb.consumable(gs, "surgical-supplies")
        tb.medication(gs, "enoxaparin")

    # outcomes: complications (calibrated to CMS COMP_HIP_KNEE 3.5%), readmission, revision, death
    lor = np.log(np.array([system.COMPLICATION_OR[p] for p in provs])[choice])
    lin = (0.55 * (a - 2) + 0.02 * (age - 68) + 0.04 * (bmi - 30) + 0.35 * diab + 0.45 * smoker + 0.6 * dep)
    b0 = _calibrate(lin + lor, 0.035)
    comp = rng.random(n) < _logistic(b0 + lin + lor)
    kinds = (("surgical-site-infection", 0.35), ("deep-vein-thrombosis", 0.25), ("pulmonary-embolism", 0.15),
             ("hip-prosthesis-dislocation", 0.25)) if s == "hip" else (
        ("surgical-site-infection", 0.45), ("deep-vein-thrombosis", 0.35), ("pulmonary-embolism", 0.20))
    kind = rng.choice(len(kinds), size=n, p=[k[1] for k in kinds])
    ct = t0 + _days(np.where(inpatient, los, 0) + rng.integers(3, 60, n)) + 10 * 3600
    readmit = np.zeros(n, dtype=bool)
    revision = np.zeros(n, dtype=bool)
    for ki, (ckey, _share) in enumerate(kinds):
        m = comp & (kind == ki)
        admit = m & (rng.random(n) < (0.75 if ckey != "deep-vein-thrombosis" else 0.35))
        ed = m & ~admit
        rlos = np.clip(rng.poisson(4.0, n), 2, 12)
        gr = tb.encounter(pat[admit], ct[admit], rlos[admit] * 1440.0, "IMP", "admission", org[admit], "surgeon",
                          cond_key, reason=("433202001"), billing=(("99223", 1.0), ("99238", 1.0)),
                          mult=mult[admit])
        tb.activity(gr, f"{s}-ward-day", (("nurse", 240), ("physician", 15), ("inpatient-bed", 1440)),
                    quantity=rlos[admit])
        tb.condition(pat[admit], gr.enc, ckey, ct[admit] - 6 * 3600, ct[admit] + _days(30),
                     category="encounter-diagnosis")
        ge = tb.encounter(pat[ed], ct[ed], 240, "EMER", "emergency", org[ed], "physician", cond_key,
                          billing=(("99285", 1.0),))
        tb.activity(ge, "ed-visit", (("physician", 40), ("nurse", 90), ("ed-bay", 240)), lead_role="physician")
        tb.condition(pat[ed], ge.enc, ckey, ct[ed] - 6 * 3600, ct[ed] + _days(30), category="encounter-diagnosis")
        readmit |= admit & (ct - t0 - _days(los) <= _days(30))
        rev = m & (rng.random(n) < {"hip-prosthesis-dislocation": 0.35, "surgical-site-infection": 0.30}.get(
            ckey, 0.0))
        revision |= rev
    # other unplanned readmissions (no new complication), calibrated with complications to ~4%
    other = ~comp & (rng.random(n) < _logistic(-3.55 + 0.5 * (a - 2) + 0.02 * (age - 68)))
    rt = t0 + _days(los + rng.integers(2, 28, n))
    olos = np.clip(rng.poisson(3.0, n), 1, 8)
    go = tb.encounter(pat[other], rt[other], olos[other] * 1440.0, "IMP", "admission", org[other], "physician",
                      cond_key, billing=(("99223", 1.0), ("99238", 1.0)), mult=mult[other])
    tb.activity(go, f"{s}-ward-day", (("nurse", 240), ("physician", 15), ("inpatient-bed", 1440)),
                quantity=olos[other])
    readmit |= other
    revision |= ~comp & (rng.random(n) < 0.004)
    rvt = t0 + _days(rng.integers(90, 330, n))
    rlos = np.clip(rng.poisson(4.0, n), 2, 12)
    gv = tb.encounter(pat[revision], rvt[revision], rlos[revision] * 1440.0, "IMP", "admission", org[revision],
                      "surgeon", cond_key, billing=((("27134" if s == "hip" else "27487"), 1.0), ("99238", 1.0)),
                      mult=mult[revision])
    tb.procedure(gv, f"{s}-revision")
    tb.activity(gv, f"{s}-surgery", (("surgeon", 150), ("anaesthetist", 170), ("nurse", 340),
                                     ("operating-room", 180)), lead_role="surgeon")
    tb.activity(gv, f"{s}-ward-day", (("nurse", 240), ("physician", 15), ("inpatient-bed", 1440)),
                quantity=rlos[revision])
    tb.consumable(gv, "revision-implant")
    dlin = 0.9 * (a - 2) + 0.07 * (age - 70) + 1.2 * comp
    died = rng.random(n) < _logistic(_calibrate(dlin, 0.004) + dlin)
    _death(pop, pat, t0 + _days(rng.integers(3, 90, n)), died)

    # recovering: outpatient physiotherapy (6 weekly sessions), surgeon follow-up, PROMs at 6 and 12 months
    rehab = np.where(np.isin(prov, [system.AC, system.CH1, system.ASC]), ORG[system.REHAB1], ORG[system.REHAB2])
    for k in range(6):
        gpt = tb.encounter(pat, t0 + _days(los + 14 + 7 * k + rng.integers(0, 3, n)), 45, "AMB", "rehab", rehab,
                           "physiotherapist", cond_key, billing=(("97161" if k == 0 else "97110",
                                                                  1.0 if k == 0 else 3.0),))
        tb.activity(gpt, f"{s}-outpatient-pt", (("physiotherapist", 45), ("exam-room", 45)),
                    lead_role="physiotherapist", extra_interpreter=("physiotherapist",))
    gf = tb.encounter(pat, t0 + _days(42 + rng.integers(0, 10, n)), 15, "AMB", "follow-up", org, "surgeon", cond_key,
                      mult=mult)
    tb.activity(gf, f"{s}-followup", (("surgeon", 15), ("exam-room", 20)), lead_role="surgeon")
    gain = np.array([system.PROM_GAIN_SHIFT[p] for p in provs])[choice] / 4.0
    for days, frac in ((180, 0.85), (365, 1.0)):
        resp = rng.random(n) < 0.75
        gq = tb.encounter(pat[resp], t0[resp] + _days(days + rng.integers(-14, 14, int(resp.sum()))), 10, "VR",
                          "telehealth", org[resp], "care-manager", cond_key)
        tb.activity(gq, f"{s}-prom", (("care-manager", 10),), lead_role="care-manager")
        f1 = np.clip(function0 + frac * (0.42 + gain - 0.25 * comp - 0.05 * (a - 2)) + rng.normal(0, 0.07, n),
                     0, 1)
        tb.prom(gq, inst, f1[resp])
        tb.prom(gq, "promis-global-10", np.clip(health0 + frac * 0.18 + 0.6 * (f1 - function0) * 0.3, 0, 1)[resp])
    truth.cycle(cond_key, "acute", pat, t0, "procedures", surg, org, ipu, complication=comp, readmission=readmit,
                revision=revision, died=died)
    truth.outcomes.setdefault("outside_imaging", np.zeros(pop.n, dtype=bool))[pat] |= outside.astype(bool)


def _cancer(cond_key: str, pop: Population, tb: Tables, truth: Truth, rng: np.random.Generator) -> None:
    pat = np.flatnonzero(pop.has[cond_key])
    n = len(pat)
    breast = cond_key == "breast-cancer"
    p = "brca" if breast else "hnc"
    at_ac = rng.random(n) < (0.55 if breast else 0.7)
    prov = np.where(at_ac, system.AC, system.CH1)
    org = np.where(at_ac, ORG[system.AC], ORG[system.CH1])
    lor = np.log(np.where(at_ac, system.CANCER_COMPLICATION_OR[system.AC], 1.0))
    ipu = np.where(at_ac, "ipu-breast" if breast else "ipu-hnc", "").astype(object)
    stage = 1 + rng.choice(4, size=n, p=[0.45, 0.33, 0.16, 0.06] if breast else [0.25, 0.25, 0.3, 0.2])
    t0 = _index_dates(rng, n)
    age = pop.age[pat]
    code = "254837009" if breast else "363505006"
    # diagnosing
    if breast:
        gd = tb.encounter(pat, t0 - _days(rng.integers(40, 55, n)), 30, "AMB", "imaging", org, "radiologist", cond_key,
                          billing=(("77067", 1.0),))
        tb.activity(gd, "brca-mammo", (("radiographer", 20), ("imaging-mammography", 20), ("radiologist", 10)),
                    lead_role="radiologist")
        tb.procedure(gd, "mammography")
        gb = tb.encounter(pat, t0 - _days(rng.integers(28, 36, n)), 60, "AMB", "imaging", org, "radiologist",
                          cond_key, billing=(("19083", 1.0), ("88305", 1.0)))
        tb.activity(gb, "brca-biopsy", (("radiologist", 30), ("nurse", 30), ("imaging-ultrasound", 30),
                                        ("pathologist", 20)), lead_role="radiologist")
        tb.procedure(gb, "breast-biopsy")
    else:
        gb = tb.encounter(pat, t0 - _days(rng.integers(28, 40, n)), 45, "AMB", "consultation", org, "surgeon",
                          cond_key, billing=(("99204", 1.0), ("88305", 1.0)))
        tb.activity(gb, "hnc-endoscopy", (("surgeon", 30), ("nurse", 30), ("endoscope", 30), ("pathologist", 20)),
                    lead_role="surgeon", extra_interpreter=("surgeon",))
        gct = tb.encounter(pat, gb.start + _days(4), 30, "AMB", "imaging", org, "radiologist", cond_key,
                           billing=(("70450", 1.0),))
        tb.activity(gct, "hnc-ct", (("radiographer", 20), ("imaging-ct", 20), ("radiologist", 15)),
                    lead_role="radiologist")
    tb.condition(pat, gb.enc, cond_key, gb.start - _days(rng.integers(0, 20, n)),
                        category="encounter-diagnosis")
    gc = tb.encounter(pat, t0 - _days(rng.integers(10, 18, n)), 45, "AMB", "consultation", org,
                      "surgeon", cond_key, billing=(("99205", 1.0),))
    tb.activity(gc, f"{p}-mdt", (("oncologist", 10), ("surgeon", 10), ("radiologist", 10), ("care-manager", 10)))
    if breast:
        tb.activity(gc, "brca-consult", (("surgeon", 30), ("nurse", 20), ("exam-room", 45)), lead_role="surgeon",
                    extra_interpreter=("surgeon", "exam-room"))
    tb.observation(gc, "cancer-stage", value=stage.astype(float))
    health0 = np.clip(0.62 - 0.06 * (stage - 1) - 0.003 * (age - 60) + rng.normal(0, 0.07, n), 0.05, 0.95)
    r0 = rng.random(n) < 0.85
    tb.prom(gc.take(r0), "promis-global-10", health0[r0])
    # intervening: surgery
    mast = rng.random(n) < 0.25 + 0.12 * (stage >= 3) if breast else np.ones(n, dtype=bool)
    los = np.where(mast, np.clip(rng.poisson(1.5 if breast else 6.5, n), 1, 20), 0)
    surg = np.empty(n, dtype=np.int64)
    for m, inpatient in ((mast, True), (~mast, False)):
        if not m.any():
            continue
        if breast:
            key, cpt, step, roles = (("mastectomy", "19303", "brca-mastectomy",
                                      (("surgeon", 120), ("anaesthetist", 150), ("nurse", 300), ("operating-room", 160)))
                                     if inpatient else
                                     ("lumpectomy", "19301", "brca-lumpectomy",
                                      (("surgeon", 60), ("anaesthetist", 80), ("nurse", 160), ("operating-room", 90))))
        else:
            key, cpt, step, roles = ("glossectomy", "41120", "hnc-surgery",
                                     (("surgeon", 300), ("anaesthetist", 330), ("nurse", 660), ("operating-room", 360)))
        cls = "IMP" if inpatient else "AMB"
        billing = ((cpt, 1.0), ("38724", 1.0), ("99238", 1.0)) if not breast else (
            ((cpt, 1.0), ("99238", 1.0)) if inpatient else ((cpt, 1.0),))
        gs = tb.encounter(pat[m], t0[m], np.where(inpatient, los[m] * 1440.0, 300.0), cls,
                          "admission" if inpatient else "consultation", org[m], "surgeon", cond_key, reason=code,
                          billing=billing)
        surg[m] = tb.procedure(gs, key)
        if not breast:
            tb.procedure(gs, "neck-dissection")
        tb.activity(gs, step, roles, lead_role="surgeon")
        if inpatient:
            tb.activity(gs, f"{p}-ward-day" if not breast else "brca-mastectomy-ward-day",
                        (("nurse", 300), ("physician", 15), ("inpatient-bed", 1440)), quantity=los[m])
        tb.consumable(gs, "surgical-supplies")
    # adjuvant therapy
    chemo = rng.random(n) < (0.2 + 0.15 * stage if breast else 0.15 * stage)
    for k in range(6):
        m = chemo
        gch = tb.encounter(pat[m], t0[m] + _days(35 + 21 * k), 240, "AMB", "infusion", org[m], "oncologist", cond_key,
                           reason=code, billing=(("96413", 1.0), ("96415", 2.0)))
        tb.activity(gch, "brca-chemo" if breast else "hnc-chemo",
                    (("oncologist", 10), ("nurse", 60), ("infusion-chair", 180), ("pharmacist", 15)),
                    lead_role="oncologist")
        tb.procedure(gch, "chemotherapy")
        tb.consumable(gch, "chemo-regimen")
    radio = rng.random(n) < np.where(mast, 0.45 if breast else 0.65, 0.9)
    rstart = np.where(chemo, 35 + 21 * 6 + 14, 50)
    for k in range(5 if breast else 6):
        m = radio
        grt = tb.encounter(pat[m], t0[m] + _days(rstart[m] + 7 * k), 30, "AMB", "infusion", org[m],
                           "radiation-oncologist", cond_key, reason=code, billing=(("G6015", 5.0),))
        tb.activity(grt, f"{p}-radiotherapy", (("radiation-therapist", 20), ("linac", 15)), quantity=5.0)
        tb.procedure(grt, "radiotherapy")
    if breast:
        tb.medication(gc.take(rng.random(n) < 0.7), "anastrozole")
    else:
        for k in range(4):
            gsp = tb.encounter(pat, t0 + _days(los + 14 + 7 * k), 45, "AMB", "rehab", org, "speech-therapist",
                               cond_key, billing=(("92507", 1.0),))
            tb.activity(gsp, "hnc-speech", (("speech-therapist", 45),), lead_role="speech-therapist")
    # outcomes
    lin = 0.02 * (age - 60) + 0.4 * (pop.smoking[pat] == 2) + 0.3 * pop.has["type-2-diabetes"][pat] + 0.5 * mast
    comp = rng.random(n) < _logistic(_calibrate(lin + lor, 0.08 if breast else 0.14) + lin + lor)
    ckey = np.where(breast & (rng.random(n) < 0.5), "lymphoedema", "surgical-site-infection")
    ct = t0 + _days(los + rng.integers(5, 60, n))
    for key in ("lymphoedema", "surgical-site-infection"):
        m = comp & (ckey == key)
        ga = tb.encounter(pat[m], ct[m], 30, "AMB", "problem-visit", org[m], "surgeon", cond_key,
                          billing=(("99214", 1.0),))
        tb.activity(ga, f"{p}-surveillance", (("surgeon", 15), ("exam-room", 20)), lead_role="surgeon")
        tb.condition(pat[m], ga.enc, key, ct[m], ct[m] + _days(45 if key != "lymphoedema" else 400),
                     category="encounter-diagnosis")
    rlin = 0.5 * (stage - 2) + lor
    recur = rng.random(n) < _logistic(_calibrate(rlin, 0.04 if breast else 0.12) + rlin)
    rt = t0 + _days(rng.integers(200, 360, n))
    dlin = 1.0 * (stage - 2) + 0.04 * (age - 60) + 1.0 * recur
    died = rng.random(n) < _logistic(_calibrate(dlin, 0.025 if breast else 0.09) + dlin)
    _death(pop, pat, t0 + _days(rng.integers(60, 365, n)), died)
    for days in (180, 365):
        gsv = tb.encounter(pat, t0 + _days(days + rng.integers(-10, 10, n)), 25, "AMB", "follow-up", org,
                           "oncologist" if breast else "surgeon", cond_key, reason=code, billing=(("99214", 1.0),))
        tb.activity(gsv, f"{p}-survivorship" if breast else "hnc-surveillance",
                    (("oncologist" if breast else "surgeon", 20), ("exam-room", 25)),
                    lead_role="oncologist" if breast else "surgeon")
        resp = rng.random(n) < 0.75
        h = np.clip(health0 + 0.08 * days / 365 - 0.1 * comp - 0.2 * (recur & (rt < gsv.start)), 0, 1)
        tb.prom(gsv.take(resp), "promis-global-10", h[resp])
        if days == 365:
            m = recur
            tb.condition(pat[m], gsv.enc[m], "cancer-recurrence", rt[m], category="encounter-diagnosis")
    truth.cycle(cond_key, "acute", pat, t0, "procedures", surg, org, ipu, complication=comp, recurrence=recur,
                died=died)
    _ = prov


def breast_cancer(pop: Population, tb: Tables, truth: Truth, rng: np.random.Generator) -> None:
    _cancer("breast-cancer", pop, tb, truth, rng)


def head_and_neck_cancer(pop: Population, tb: Tables, truth: Truth, rng: np.random.Generator) -> None:
    _cancer("head-and-neck-cancer", pop, tb, truth, rng)


def kidney_transplant(pop: Population, tb: Tables, truth: Truth, rng: np.random.Generator) -> None:
    pat = np.flatnonzero(pop.has["kidney-transplant"])
    n = len(pat)
    org = np.full(n, ORG[system.AC])
    t0 = _index_dates(rng, n)
    age = pop.age[pat]
    diab = pop.has["type-2-diabetes"][pat]
    ge = tb.encounter(pat, t0 - _days(rng.integers(220, 300, n)), 60, "AMB", "consultation", org, "nephrologist",
                      "kidney-transplant", reason="46177005", billing=(("99205", 1.0),))
    tb.activity(ge, "ktx-evaluation", (("nephrologist", 45), ("care-manager", 30), ("exam-room", 60)),
                lead_role="nephrologist", extra_interpreter=("nephrologist", "exam-room"))
    tb.condition(pat, ge.enc, "kidney-transplant", ge.start - _days(rng.integers(400, 3000, n)))
    for k in range(6):
        gd = tb.encounter(pat, t0 - _days(180 - 30 * k), 240, "AMB", "dialysis", ORG[system.CH1], "nephrologist",
                          "kidney-transplant", reason="46177005", billing=(("90960", 1.0), ("90935", 13.0)))
        tb.activity(gd, "ktx-dialysis", (("nurse", 60), ("dialysis-station", 240), ("nephrologist", 5)),
                    lead_role="nephrologist", quantity=13.0)
        tb.procedure(gd, "haemodialysis")
        tb.consumable(gd, "dialysis-supplies", 13.0)
        if k == 4:
            health0 = np.clip(0.45 - 0.003 * (age - 50) - 0.1 * diab + rng.normal(0, 0.08, n), 0.05, 0.9)
            r = rng.random(n) < 0.85
            tb.prom(gd.take(r), "eq-5d-5l", health0[r])
    los = np.clip(rng.poisson(5.0, n), 3, 14)
    gs = tb.encounter(pat, t0, los * 1440.0, "IMP", "admission", org, "surgeon", "kidney-transplant",
                      reason="46177005", billing=(("50360", 1.0), ("99238", 1.0)))
    surg = tb.procedure(gs, "kidney-transplant")
    tb.activity(gs, "ktx-surgery", (("surgeon", 240), ("anaesthetist", 270), ("nurse", 540), ("operating-room", 300)),
                lead_role="surgeon")
    tb.activity(gs, "ktx-ward-day", (("nurse", 300), ("nephrologist", 20), ("inpatient-bed", 1440)), quantity=los)
    tb.consumable(gs, "donor-kidney")
    tb.consumable(gs, "immunosuppression-induction")
    tb.medication(gs, "tacrolimus")
    lin = 0.02 * (age - 50) + 0.4 * diab
    rej = rng.random(n) < _logistic(_calibrate(lin, 0.12) + lin)
    rt = t0 + _days(los + rng.integers(10, 300, n))
    for days in (14, 30, 90, 180, 365):
        gf = tb.encounter(pat, t0 + _days(los + days), 30, "AMB", "follow-up", org, "nephrologist", "kidney-transplant",
                          reason="46177005", billing=(("99214", 1.0), ("80053", 1.0)))
        tb.activity(gf, "ktx-followup", (("nephrologist", 20), ("exam-room", 30)), lead_role="nephrologist")
        tb.activity(gf, "ktx-tacrolimus-level", (("phlebotomist", 10), ("laboratory", 5)))
        rejected = rej & (rt < gf.start)
        tb.observation(gf, "creatinine", value=np.round(np.clip(rng.normal(1.4, 0.3, n) + 1.3 * rejected, 0.6, 8), 2))
        if days in (90, 365):
            tb.medication(gf, "tacrolimus")
        if days in (180, 365):
            r = rng.random(n) < 0.8
            tb.prom(gf.take(r), "eq-5d-5l", np.clip(health0 + 0.25 - 0.2 * rejected, 0, 1)[r])
    rlos = np.clip(rng.poisson(5.0, n), 2, 14)
    gr = tb.encounter(pat[rej], rt[rej], rlos[rej] * 1440.0, "IMP", "admission", org[rej], "nephrologist",
                      "kidney-transplant", reason="213150003", billing=(("99223", 1.0), ("99238", 1.0)))
    tb.activity(gr, "ktx-ward-day", (("nurse", 300), ("nephrologist", 20), ("inpatient-bed", 1440)), quantity=rlos[rej])
    tb.condition(pat[rej], gr.enc, "graft-rejection", rt[rej], rt[rej] + _days(60), category="encounter-diagnosis")
    dlin = 0.05 * (age - 50) + 0.8 * diab + 1.0 * rej
    died = rng.random(n) < _logistic(_calibrate(dlin, 0.03) + dlin)
    _death(pop, pat, t0 + _days(rng.integers(20, 365, n)), died)
    truth.cycle("kidney-transplant", "acute", pat, t0, "procedures", surg, org,
                np.full(n, "ipu-ktx", dtype=object), complication=rej, died=died)
