"""Columnar collectors for the generated records: every table is a list of numpy column chunks.

Ids are integers while generating (formatted as strings only when written), so adding a group of
10^6 encounters, their activities, claims and observations is a handful of array operations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from carevalue.synth import codes, system
from carevalue.synth.pricing import Pricing

ORG_IDS: tuple[str, ...] = tuple(f.org_id for f in system.FACILITIES) + tuple(system.PAYERS)
ORG_INDEX = {o: i for i, o in enumerate(ORG_IDS)}
CLASSES = ("AMB", "IMP", "EMER", "HH", "VR")
CLASS_DISPLAY = {"AMB": "ambulatory", "IMP": "inpatient encounter", "EMER": "emergency", "HH": "home health",
                 "VR": "virtual"}
ENC_TYPES = tuple(codes.ENCOUNTER_TYPES)
OBS_KINDS = tuple(codes.OBS)
PROC_KEYS = tuple(codes.PROCEDURES)
MED_KEYS = tuple(codes.MEDICATIONS)
CONS_KEYS = tuple(codes.CONSUMABLES)
INSTRUMENTS = tuple(codes.PROM_ITEMS)
ALL_COND_CODES: dict[str, tuple[str, str, str, str]] = {
    **codes.CONDITIONS, **codes.COMORBIDITIES, **codes.COMPLICATIONS,
    "interpreter-needed": ("315593009", "Interpreter needed", "Z60.3", "Acculturation difficulty"),
}
COND_KEYS = tuple(ALL_COND_CODES)
CONDITION_CONTEXTS = ("primary-care",) + tuple(codes.CONDITIONS)


def _cat(chunks: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


@dataclass
class Table:
    """Column chunks of one table; ``frame()`` concatenates them."""
    cols: dict[str, list[np.ndarray]] = field(default_factory=dict)
    n: int = 0

    def add(self, **columns: np.ndarray) -> np.ndarray:
        size = len(next(iter(columns.values())))
        for k, v in columns.items():
            self.cols.setdefault(k, []).append(np.asarray(v))
        ids = np.arange(self.n, self.n + size, dtype=np.int64)
        self.n += size
        return ids

    def frame(self) -> dict[str, np.ndarray]:
        return {k: _cat(v) for k, v in self.cols.items()}


@dataclass
class Group:
    """Encounters just added, aligned arrays (one element per encounter)."""
    enc: np.ndarray
    pat: np.ndarray
    start: np.ndarray
    end: np.ndarray
    org: np.ndarray
    prac: np.ndarray
    mult: np.ndarray

    def __len__(self) -> int:
        return len(self.enc)

    def take(self, mask: np.ndarray) -> Group:
        return Group(self.enc[mask], self.pat[mask], self.start[mask], self.end[mask], self.org[mask],
                     self.prac[mask], self.mult[mask])


class Tables:
    """All generated records plus the practitioner and resource registries."""

    def __init__(self, rng: np.random.Generator, pricing: Pricing, payer_of_patient: np.ndarray,
                 interpreter: np.ndarray, scale: float) -> None:
        self.rng = rng
        self.pricing = pricing
        self.payer_of_patient = payer_of_patient
        self.interpreter = interpreter
        self.scale = scale
        self.encounters = Table()
        self.conditions = Table()
        self.observations = Table()
        self.procedures = Table()
        self.medications = Table()
        self.responses = Table()
        self.answers: dict[str, list[np.ndarray]] = {k: [] for k in INSTRUMENTS}
        self.response_rows: dict[str, list[np.ndarray]] = {k: [] for k in INSTRUMENTS}
        self.claim_lines = Table()
        self.activities = Table()
        self.consumables = Table()
        self.practitioners: list[tuple[str, str, int]] = []  # (org, role, k)
        self._prac_pool: dict[tuple[int, str], tuple[int, int]] = {}
        self.resources: list[tuple[str, str]] = []  # (org, role)
        self._res_index: dict[tuple[int, str], int] = {}

    # --- registries -------------------------------------------------------------------------
    def staff_count(self, org: int, role: str) -> int:
        fac = system.FACILITY_BY_ID.get(ORG_IDS[org])
        if fac is not None and fac.kind == "primary-care-practice":
            w = system.PRACTICE_WEIGHTS[system.PRACTICES.index(fac.org_id)]
            base = 14 * w if role == "physician" else 6 * w
        else:
            base = {"academic-centre": 4, "community-hospital": 3}.get(fac.kind if fac else "", 2)
        return max(1, int(round(base * max(1.0, self.scale) ** 0.5)))

    def prac_pool(self, org: int, role: str) -> tuple[int, int]:
        key = (org, role)
        if key not in self._prac_pool:
            k = self.staff_count(org, role)
            self._prac_pool[key] = (len(self.practitioners), k)
            self.practitioners.extend((ORG_IDS[org], role, j) for j in range(k))
        return self._prac_pool[key]

    def pick_prac(self, org: np.ndarray, role: str) -> np.ndarray:
        out = np.empty(len(org), dtype=np.int64)
        for o in np.unique(org):
            m = org == o
            start, k = self.prac_pool(int(o), role)
            out[m] = start + self.rng.integers(0, k, int(m.sum()))
        return out

    def resource(self, org: int, role: str) -> int:
        key = (org, role)
        if key not in self._res_index:
            self._res_index[key] = len(self.resources)
            self.resources.append((ORG_IDS[org], role))
        return self._res_index[key]

    # --- records ----------------------------------------------------------------------------
    def encounter(self, pat: np.ndarray, start: np.ndarray, minutes: np.ndarray | float, cls: str, etype: str,
                  org: np.ndarray | int, lead_role: str, context: str, reason: str = "",
                  billing: tuple[tuple[str, np.ndarray | float], ...] = (), mult: np.ndarray | None = None,
                  ) -> Group:
        n = len(pat)
        start = np.asarray(start, dtype=np.int64)
        end = start + (np.broadcast_to(np.asarray(minutes, dtype=np.float64), (n,)) * 60).astype(np.int64)
        org = np.broadcast_to(np.asarray(org, dtype=np.int64), (n,)).copy()
        prac = self.pick_prac(org, lead_role)
        enc = self.encounters.add(
            pat=pat, start=start, end=end, cls=np.full(n, CLASSES.index(cls), dtype=np.int8),
            etype=np.full(n, ENC_TYPES.index(etype), dtype=np.int16), org=org, prac=prac,
            payer=self.payer_of_patient[pat], context=np.full(n, CONDITION_CONTEXTS.index(context), dtype=np.int8),
            reason=np.full(n, reason, dtype=object))
        g = Group(enc, pat, start, end, org, prac,
                  np.ones(n) if mult is None else np.broadcast_to(mult, (n,)).astype(np.float64))
        if billing:
            self.bill(g, billing, inpatient=cls == "IMP")
        return g

    def bill(self, g: Group, billing: tuple[tuple[str, np.ndarray | float], ...], inpatient: bool) -> None:
        n = len(g)
        for line_no, (code, qty) in enumerate(billing, start=1):
            q = np.broadcast_to(np.asarray(qty, dtype=np.float64), (n,))
            keep = q > 0
            if not keep.any():
                continue
            unit = self.pricing.charge(code, g.org[keep], facility=inpatient)
            self.claim_lines.add(enc=g.enc[keep], pat=g.pat[keep], line_no=np.full(int(keep.sum()), line_no),
                                 code=np.full(int(keep.sum()), code, dtype=object), qty=q[keep],
                                 charge=np.round(unit * q[keep], 2), ts=g.start[keep])

    def activity(self, g: Group, step_code: str, roles: tuple[tuple[str, float], ...], lead_role: str = "",
                 extra_interpreter: tuple[str, ...] = (), extra_outside: tuple[str, ...] = (),
                 outside: np.ndarray | None = None, quantity: np.ndarray | float = 1.0) -> None:
        n = len(g)
        if n == 0:
            return
        qty = np.broadcast_to(np.asarray(quantity, dtype=np.float64), (n,))
        interp = self.interpreter[g.pat]
        for role, minutes in roles:
            res = np.empty(n, dtype=np.int64)
            for o in np.unique(g.org):
                res[g.org == o] = self.resource(int(o), role)
            noise = self.rng.lognormal(0.0, 0.12, n)
            m = minutes * g.mult * noise * qty
            if role in extra_interpreter:
                m = m + 15.0 * interp
            if outside is not None and role in extra_outside:
                m = m + 10.0 * outside
            if role in system.SPACE_ROLES:
                prac = np.full(n, -1, dtype=np.int64)
            elif role == lead_role:
                prac = g.prac
            else:
                prac = self.pick_prac(g.org, role)
            self.activities.add(pat=g.pat, enc=g.enc, res=res, step=np.full(n, step_code, dtype=object),
                                ts=g.start, minutes=np.round(m, 1), prac=prac)

    def condition(self, pat: np.ndarray, enc: np.ndarray, key: str, onset: np.ndarray,
                  abatement: np.ndarray | None = None, category: str = "problem-list-item") -> np.ndarray:
        n = len(pat)
        return self.conditions.add(
            pat=pat, enc=np.broadcast_to(enc, (n,)).astype(np.int64), key=np.full(n, COND_KEYS.index(key), np.int16),
            onset=np.asarray(onset, dtype=np.int64),
            abatement=np.full(n, -1, np.int64) if abatement is None else np.asarray(abatement, dtype=np.int64),
            category=np.full(n, category == "encounter-diagnosis", dtype=bool))

    def observation(self, g: Group, kind: str, value: np.ndarray | None = None,
                    code: np.ndarray | None = None) -> np.ndarray:
        n = len(g)
        return self.observations.add(
            pat=g.pat, enc=g.enc, kind=np.full(n, OBS_KINDS.index(kind), np.int16), ts=g.start,
            value=np.full(n, np.nan) if value is None else np.asarray(value, dtype=np.float64),
            code=np.full(n, "", dtype=object) if code is None else np.asarray(code, dtype=object))

    def procedure(self, g: Group, key: str) -> np.ndarray:
        n = len(g)
        return self.procedures.add(pat=g.pat, enc=g.enc, key=np.full(n, PROC_KEYS.index(key), np.int16),
                                   start=g.start, end=g.end, prac=g.prac, org=g.org)

    def medication(self, g: Group, key: str) -> np.ndarray:
        n = len(g)
        return self.medications.add(pat=g.pat, enc=g.enc, key=np.full(n, MED_KEYS.index(key), np.int16),
                                    ts=g.start, prac=g.prac)

    def consumable(self, g: Group, key: str, qty: np.ndarray | float = 1.0) -> None:
        n = len(g)
        self.consumables.add(pat=g.pat, enc=g.enc, key=np.full(n, CONS_KEYS.index(key), np.int16),
                             qty=np.broadcast_to(np.asarray(qty, dtype=np.float64), (n,)).copy(), ts=g.start)

    def prom(self, g: Group, instrument: str, latent: np.ndarray) -> None:
        """A QuestionnaireResponse per encounter; ``latent`` in 0..1 = worst..best health."""
        n = len(g)
        if n == 0:
            return
        ids = self.responses.add(pat=g.pat, enc=g.enc, ts=g.start,
                                 instrument=np.full(n, INSTRUMENTS.index(instrument), np.int8))
        items = codes.PROM_ITEMS[instrument]
        cols = []
        for link_id, _text, lo, hi in items:
            good_high = not (instrument in ("phq-9", "hoos-ps", "koos-ps") or link_id in ("Global07", "Global08",
                                                                                         "Global10")
                             or instrument == "eq-5d-5l")
            x = latent if good_high else 1.0 - latent
            v = lo + (hi - lo) * x + self.rng.normal(0.0, 0.35 + 0.08 * (hi - lo), n)
            cols.append(np.clip(np.rint(v), lo, hi).astype(np.int8))
        if instrument == "eq-5d-5l":
            cols.append(np.clip(np.rint(100 * latent + self.rng.normal(0, 8, n)), 0, 100).astype(np.int8))
        self.answers[instrument].append(np.stack(cols, axis=1))
        self.response_rows[instrument].append(ids)
