"""The planted truth: each patient's primary-care segment at the truth date, by the CONTRACTS rules.

Computed from the very records written to source/ (after deaths and the end of the window are
applied), so the segment engine, reading the same records, can agree exactly.
"""

from __future__ import annotations

import numpy as np

from carevalue.synth import codes
from carevalue.synth.population import AS_OF, DAY, Population
from carevalue.synth.tables import ALL_COND_CODES, CLASSES, COND_KEYS, OBS_KINDS, PROC_KEYS

SEGMENTS = ("frail-elderly-disabled", "rare-condition", "complex", "chronic", "at-risk", "healthy")


def _day(ts: np.ndarray) -> np.ndarray:
    return np.asarray(np.asarray(ts, dtype=np.int64) // DAY)


def segments_at(pop: Population, cond: dict[str, np.ndarray], enc: dict[str, np.ndarray],
                obs: dict[str, np.ndarray], proc: dict[str, np.ndarray], keep: dict[str, np.ndarray]) -> np.ndarray:
    """Segment index (into SEGMENTS) per patient at the truth date; -1 for patients dead by then."""
    n = pop.n
    d = AS_OF // DAY
    snomed = np.array([ALL_COND_CODES[k][0] for k in COND_KEYS], dtype=object)
    ck = keep["conditions"]
    code = snomed[cond["key"][ck]]
    pat = cond["pat"][ck]
    ab = cond["abatement"][ck]
    active = (_day(cond["onset"][ck]) <= d) & ((ab < 0) | (_day(ab) > d))

    def has_any(codes_: tuple[str, ...]) -> np.ndarray:
        out = np.zeros(n, dtype=bool)
        m = active & np.isin(code, codes_)
        out[pat[m]] = True
        return out

    m = active & np.isin(code, codes.CHRONIC_CODES)
    pairs = np.unique(np.stack([pat[m], np.searchsorted(np.array(sorted(codes.CHRONIC_CODES)),
                                                        code[m].astype(str))], axis=1), axis=0)
    n_chronic = np.bincount(pairs[:, 0], minlength=n) if len(pairs) else np.zeros(n, dtype=np.int64)

    ek = keep["encounters"]
    cls = enc["cls"][ek]
    sd = _day(enc["start"][ek])
    util = np.isin(cls, [CLASSES.index("EMER"), CLASSES.index("IMP")]) & (sd > d - 365) & (sd <= d)
    n_util = np.bincount(enc["pat"][ek][util], minlength=n)

    pk = keep["procedures"]
    tx = (proc["key"][pk] == PROC_KEYS.index("kidney-transplant"))
    pdd = _day(proc["start"][pk])
    recent_tx = np.zeros(n, dtype=bool)
    recent_tx[proc["pat"][pk][tx & (pdd > d - 365) & (pdd <= d)]] = True

    ok = keep["observations"]
    okind, opat, ots = obs["kind"][ok], obs["pat"][ok], obs["ts"][ok]
    current_smoker = _latest(n, opat, ots, okind == OBS_KINDS.index("smoking-status"), d,
                             obs["code"][ok] == "current")
    obese = _latest(n, opat, ots, okind == OBS_KINDS.index("bmi"), d, obs["value"][ok] >= 30)

    frail_code = has_any(codes.FRAILTY_CODES)
    disability = has_any((codes.DISABILITY_CODE,))
    seg = np.full(n, 5, dtype=np.int64)
    at_risk = current_smoker | obese | has_any(codes.RISK_FACTOR_CODES)
    complex_ = ((n_chronic >= 3) | ((n_chronic >= 2) & (n_util >= 2)) | has_any(codes.CANCER_CODES) | recent_tx)
    rules = [
        (pop.age >= 85) | ((pop.age >= 75) & frail_code) | disability,
        has_any(codes.RARE_CODES),
        complex_,
        n_chronic >= 1,
        at_risk,
    ]
    for i in range(len(rules) - 1, -1, -1):  # first match wins: apply in reverse
        seg[rules[i]] = i
    dead = (pop.death >= 0) & (_day(pop.death) <= d)
    seg[dead] = -1
    return seg


def _latest(n: int, pat: np.ndarray, ts: np.ndarray, sel: np.ndarray, d: int, value_true: np.ndarray) -> np.ndarray:
    """Whether each patient's latest selected observation on or before day d has value_true."""
    m = sel & (_day(ts) <= d)
    p, t, v = pat[m], ts[m], value_true[m]
    out = np.zeros(n, dtype=bool)
    if len(p) == 0:
        return out
    order = np.lexsort((t, p))
    p, v = p[order], v[order]
    last = np.r_[p[1:] != p[:-1], True]
    out[p[last]] = v[last]
    return out
