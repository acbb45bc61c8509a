"""FHIR R4 JSON for the generated columns: one builder per resource type, yielding plain dicts.

The builders run over Python lists of column values (``zip``) and are serialised with orjson in
chunks by the writer; everything heavy before this point is numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from carevalue.synth import codes as C
from carevalue.synth import system
from carevalue.synth.tables import (
    ALL_COND_CODES,
    CLASS_DISPLAY,
    CLASSES,
    COND_KEYS,
    CONS_KEYS,
    ENC_TYPES,
    INSTRUMENTS,
    MED_KEYS,
    OBS_KINDS,
    ORG_IDS,
    PROC_KEYS,
)

Res = dict[str, Any]
PRIORITY = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/processpriority", "code": "normal"}]}
STATE = "CA"
ZIP = {"Riverside": "92501", "Northgate": "92502", "Eastfield": "92503", "Southvale": "92504", "Lakeside": "92505",
       "Hilltop": "92506"}


CHUNK = 100_000
Builder = Callable[[dict[str, np.ndarray], np.ndarray], Iterator[Res]]


def _chunked(build: Builder) -> Builder:
    """Run a builder over the kept rows in chunks, so Python lists stay small (bounded memory)."""
    def run(f: dict[str, np.ndarray], keep: np.ndarray) -> Iterator[Res]:
        idx = np.flatnonzero(keep)
        for s in range(0, len(idx), CHUNK):
            yield from build(f, idx[s:s + CHUNK])
    run.__doc__ = build.__doc__
    return run


def iso(ts: np.ndarray) -> list[str]:
    """Epoch seconds -> 'YYYY-MM-DDThh:mm:ssZ' strings (vectorised)."""
    s = np.datetime_as_string(np.asarray(ts, dtype=np.int64).astype("datetime64[s]"), unit="s")
    return list(np.char.add(s, "Z")) if len(s) else []


def ids(prefix: str, idx: np.ndarray) -> list[str]:
    return [f"{prefix}{i}" for i in np.asarray(idx).tolist()]


def pid(i: int) -> str:
    return f"pt{i:08d}"


def cc(system_: str, code: str, display: str | None = None) -> Res:
    c: Res = {"system": system_, "code": code}
    if display:
        c["display"] = display
    return {"coding": [c]}


# --- the health system ---------------------------------------------------------------------------
def organizations() -> Iterator[Res]:
    for f in system.FACILITIES:
        yield {"resourceType": "Organization", "id": f.org_id, "active": True,
               "identifier": [{"system": "https://carevalue.org/synthetic/org", "value": f.org_id}],
               "type": [cc(C.FACILITY_TYPE, f.kind, C.FACILITY_TYPES[f.kind])], "name": f.name,
               "address": [{"city": f.city, "state": STATE, "postalCode": ZIP[f.city]}]}
    for org_id, kind in system.PAYERS.items():
        yield {"resourceType": "Organization", "id": org_id, "active": True,
               "type": [{"coding": [{"system": C.FACILITY_TYPE, "code": "payer", "display": C.PAYER_TYPES[kind]},
                                    {"system": C.PAYER_TYPE, "code": kind, "display": C.PAYER_TYPES[kind]}]}],
               "name": system.PAYER_NAMES[org_id]}


# Location.position of each site: placements for the fictional towns around Riverside, California
# (invented for the synthetic system, not surveyed positions); the network stage's travel distances.
POSITIONS = {"org-ac": (33.953, -117.396), "org-asc": (33.960, -117.380), "org-rehab1": (33.945, -117.410),
             "org-ch1": (34.100, -117.350), "org-ch2": (33.980, -117.150), "org-ch3": (33.750, -117.380),
             "org-rehab2": (33.755, -117.370), "org-ch4": (33.850, -117.750), "org-pc1": (33.948, -117.402),
             "org-pc2": (34.098, -117.352), "org-pc3": (33.982, -117.155), "org-pc4": (33.752, -117.382),
             "org-pc5": (33.852, -117.745), "org-pc6": (34.200, -117.600)}


def locations() -> Iterator[Res]:
    for f in system.FACILITIES:
        lat, lon = POSITIONS[f.org_id]
        yield {"resourceType": "Location", "id": f"loc-{f.org_id}", "status": "active", "name": f.name,
               "managingOrganization": {"reference": f"Organization/{f.org_id}"},
               "address": {"city": f.city, "state": STATE, "postalCode": ZIP[f.city]},
               "position": {"longitude": lon, "latitude": lat}}


GIVEN = ("Alex", "Sam", "Jordan", "Maria", "Wei", "Priya", "Omar", "Grace", "Liam", "Ana", "Kofi", "Yuki")
FAMILY = ("Okafor", "Nguyen", "Garcia", "Smith", "Cohen", "Patel", "Kim", "Haddad", "Novak", "Silva", "Berg")


def practitioners(pracs: list[tuple[str, str, int]]) -> Iterator[Res]:
    for i, (org, role, k) in enumerate(pracs):
        yield {"resourceType": "Practitioner", "id": f"pr-{i}", "active": True,
               "identifier": [{"system": C.ID_SYSTEM_NPI, "value": f"{1_900_000_000 + i}"}],
               "name": [{"family": FAMILY[(i * 7 + k) % len(FAMILY)], "given": [GIVEN[(i * 5 + k) % len(GIVEN)]],
                         "text": f"{C.TEAM_ROLES.get(role, role)} {k + 1}, {org}"}],
               "gender": "female" if (i * 3 + k) % 2 else "male"}


def practitioner_roles(pracs: list[tuple[str, str, int]], team_of: dict[int, str]) -> Iterator[Res]:
    for i, (org, role, _k) in enumerate(pracs):
        r: Res = {"resourceType": "PractitionerRole", "id": f"prrole-{i}", "active": True,
                  "practitioner": {"reference": f"Practitioner/pr-{i}"},
                  "organization": {"reference": f"Organization/{org}"},
                  "code": [cc(C.TEAM_ROLE, role, C.TEAM_ROLES.get(role, role.replace("-", " ")))],
                  "location": [{"reference": f"Location/loc-{org}"}]}
        yield r


def care_teams(members: dict[str, list[tuple[int, str]]]) -> Iterator[Res]:
    for team_id, (template, name, _roles) in system.IPUS.items():
        yield {"resourceType": "CareTeam", "id": team_id, "status": "active",
               "extension": [{"url": C.EXT_CONDITION_TEMPLATE, "valueString": template}],
               "category": [cc(C.CARE_TEAM_KIND, "ipu", "Integrated practice unit")], "name": name,
               "managingOrganization": [{"reference": f"Organization/{system.AC}"}],
               "participant": [{"role": [cc(C.TEAM_ROLE, role, C.TEAM_ROLES.get(role, role))],
                                "member": {"reference": f"Practitioner/pr-{p}"}} for p, role in members[team_id]]}
    for org in system.PRACTICES:
        team_id = f"pct-{org}"
        yield {"resourceType": "CareTeam", "id": team_id, "status": "active",
               "category": [cc(C.CARE_TEAM_KIND, "primary-care-team", "Primary care team")],
               "name": f"{system.FACILITY_BY_ID[org].name} team",
               "managingOrganization": [{"reference": f"Organization/{org}"}],
               "participant": [{"role": [cc(C.TEAM_ROLE, role, C.TEAM_ROLES.get(role, role))],
                                "member": {"reference": f"Practitioner/pr-{p}"}} for p, role in members[team_id]]}


# --- patients ------------------------------------------------------------------------------------
def patients(n: int, birth: np.ndarray, female: np.ndarray, dep: np.ndarray, death: np.ndarray,
             pcp: np.ndarray) -> Iterator[Res]:
    bd = np.datetime_as_string(birth.astype("datetime64[s]").astype("datetime64[D]"), unit="D").tolist()
    dd = iso(np.where(death >= 0, death, 0))
    cities = [system.FACILITY_BY_ID[o].city for o in system.PRACTICES]
    for i, b, f, d, de, dt, pc in zip(range(n), bd, female.tolist(), dep.tolist(), death.tolist(), dd,
                                      pcp.tolist(), strict=True):
        city = cities[pc]
        r: Res = {"resourceType": "Patient", "id": pid(i),
                  "extension": [{"url": C.EXT_DEPRIVATION, "valueDecimal": d}],
                  "identifier": [{"system": C.ID_SYSTEM_MRN, "value": f"MRN{i:08d}"}],
                  "gender": "female" if f else "male", "birthDate": b,
                  "address": [{"city": city, "state": STATE, "postalCode": ZIP[city]}]}
        if de >= 0:
            r["deceasedDateTime"] = dt
        yield r


def coverages(n: int, payer: np.ndarray) -> Iterator[Res]:
    payer_ids = list(system.PAYERS)
    for i, p in zip(range(n), payer.tolist(), strict=True):
        org = payer_ids[p]
        yield {"resourceType": "Coverage", "id": f"cov-{i}", "status": "active",
               "type": cc(C.PAYER_TYPE, system.PAYERS[org], C.PAYER_TYPES[system.PAYERS[org]]),
               "beneficiary": {"reference": f"Patient/{pid(i)}"},
               "payor": [{"reference": f"Organization/{org}", "display": system.PAYER_NAMES[org]}]}


# --- clinical records ----------------------------------------------------------------------------
@_chunked
def encounters(f: dict[str, np.ndarray], idx: np.ndarray) -> Iterator[Res]:
    starts, ends = iso(f["start"][idx]), iso(f["end"][idx])
    types = [C.ENCOUNTER_TYPES[k] for k in ENC_TYPES]
    for i, p, s, e, cl, et, o, pr, rs in zip(idx.tolist(), f["pat"][idx].tolist(), starts, ends,
                                             f["cls"][idx].tolist(), f["etype"][idx].tolist(), f["org"][idx].tolist(),
                                             f["prac"][idx].tolist(), f["reason"][idx].tolist(), strict=True):
        code = CLASSES[cl]
        t = types[et]
        r: Res = {"resourceType": "Encounter", "id": f"enc-{i}", "status": "finished",
                  "class": {"system": C.ACT_CODE, "code": code, "display": CLASS_DISPLAY[code]},
                  "type": [cc(C.SNOMED, t[0], t[1])], "subject": {"reference": f"Patient/{pid(p)}"},
                  "participant": [{"individual": {"reference": f"Practitioner/pr-{pr}"}}],
                  "period": {"start": s, "end": e}, "serviceProvider": {"reference": f"Organization/{ORG_IDS[o]}"},
                  "location": [{"location": {"reference": f"Location/loc-{ORG_IDS[o]}"}}]}
        if rs:
            r["reasonCode"] = [cc(C.SNOMED, rs)]
        yield r


@_chunked
def conditions(f: dict[str, np.ndarray], idx: np.ndarray) -> Iterator[Res]:
    onsets = iso(f["onset"][idx])
    abates = iso(np.maximum(f["abatement"][idx], 0))
    cat_code = ("problem-list-item", "encounter-diagnosis")
    for i, p, e, k, on, ab_raw, ab, cat in zip(idx.tolist(), f["pat"][idx].tolist(), f["enc"][idx].tolist(),
                                               f["key"][idx].tolist(), onsets, f["abatement"][idx].tolist(), abates,
                                               f["category"][idx].tolist(), strict=True):
        sn, sd, icd, idisp = ALL_COND_CODES[COND_KEYS[k]]
        r: Res = {"resourceType": "Condition", "id": f"cond-{i}",
                  "clinicalStatus": cc(C.CONDITION_CLINICAL, "resolved" if ab_raw >= 0 else "active"),
                  "verificationStatus": cc(C.CONDITION_VERIFICATION, "confirmed"),
                  "category": [cc(C.CONDITION_CATEGORY, cat_code[int(cat)])],
                  "code": {"coding": [{"system": C.SNOMED, "code": sn, "display": sd},
                                      {"system": C.ICD10CM, "code": icd, "display": idisp}], "text": sd},
                  "subject": {"reference": f"Patient/{pid(p)}"}, "onsetDateTime": on}
        if e >= 0:
            r["encounter"] = {"reference": f"Encounter/enc-{e}"}
        if ab_raw >= 0:
            r["abatementDateTime"] = ab
        yield r


OBS_CAT = {"bmi": "vital-signs", "body-weight": "vital-signs", "smoking-status": "social-history",
           "hba1c": "laboratory", "lvef": "imaging", "creatinine": "laboratory", "asa-class": "exam",
           "cancer-stage": "exam", "interpreter-needed": "social-history",
           "outside-imaging": "imaging"}


@_chunked
def observations(f: dict[str, np.ndarray], idx: np.ndarray) -> Iterator[Res]:
    ts = iso(f["ts"][idx])
    for i, p, e, k, t, v, c in zip(idx.tolist(), f["pat"][idx].tolist(), f["enc"][idx].tolist(),
                                   f["kind"][idx].tolist(), ts, f["value"][idx].tolist(), f["code"][idx].tolist(),
                                   strict=True):
        kind = OBS_KINDS[k]
        system_, code, display, unit = C.OBS[kind]
        r: Res = {"resourceType": "Observation", "id": f"obs-{i}", "status": "final",
                  "category": [cc(C.OBS_CATEGORY, OBS_CAT[kind])], "code": cc(system_, code, display),
                  "subject": {"reference": f"Patient/{pid(p)}"}, "encounter": {"reference": f"Encounter/enc-{e}"},
                  "effectiveDateTime": t}
        if c:
            sc, sdisp = C.SMOKING_VALUES[c]
            r["valueCodeableConcept"] = cc(C.SNOMED, sc, sdisp)
        elif unit is None:
            r["valueInteger"] = int(v)
        elif unit == "boolean":
            r["valueBoolean"] = bool(v)
        else:
            r["valueQuantity"] = {"value": v, "unit": unit, "system": C.UCUM, "code": unit}
        yield r


@_chunked
def procedures(f: dict[str, np.ndarray], idx: np.ndarray) -> Iterator[Res]:
    s, e = iso(f["start"][idx]), iso(f["end"][idx])
    for i, p, en, k, a, b, pr, o in zip(idx.tolist(), f["pat"][idx].tolist(), f["enc"][idx].tolist(),
                                        f["key"][idx].tolist(), s, e, f["prac"][idx].tolist(), f["org"][idx].tolist(),
                                        strict=True):
        sn, disp, cpt = C.PROCEDURES[PROC_KEYS[k]]
        yield {"resourceType": "Procedure", "id": f"proc-{i}", "status": "completed",
               "code": {"coding": [{"system": C.SNOMED, "code": sn, "display": disp},
                                   {"system": C.CPT, "code": cpt}], "text": disp},
               "subject": {"reference": f"Patient/{pid(p)}"}, "encounter": {"reference": f"Encounter/enc-{en}"},
               "performedPeriod": {"start": a, "end": b},
               "performer": [{"actor": {"reference": f"Practitioner/pr-{pr}"}}],
               "location": {"reference": f"Location/loc-{ORG_IDS[o]}"}}


@_chunked
def medications(f: dict[str, np.ndarray], idx: np.ndarray) -> Iterator[Res]:
    ts = iso(f["ts"][idx])
    for i, p, en, k, t, pr in zip(idx.tolist(), f["pat"][idx].tolist(), f["enc"][idx].tolist(),
                                  f["key"][idx].tolist(), ts, f["prac"][idx].tolist(), strict=True):
        rx, disp, _cost = C.MEDICATIONS[MED_KEYS[k]]
        yield {"resourceType": "MedicationRequest", "id": f"med-{i}", "status": "active", "intent": "order",
               "medicationCodeableConcept": {"coding": [{"system": C.RXNORM, "code": rx, "display": disp}],
                                             "text": disp},
               "subject": {"reference": f"Patient/{pid(p)}"}, "encounter": {"reference": f"Encounter/enc-{en}"},
               "authoredOn": t, "requester": {"reference": f"Practitioner/pr-{pr}"}}


def questionnaires() -> Iterator[Res]:
    for key in INSTRUMENTS:
        items: list[Res] = []
        for link_id, text, lo, hi in C.PROM_ITEMS[key]:
            items.append({"linkId": link_id, "text": text, "type": "choice", "required": True,
                          "answerOption": [{"valueCoding": {"system": C.ANSWER_ORDINAL, "code": str(v)}}
                                           for v in range(lo, hi + 1)]})
        if key == "eq-5d-5l":
            items.append({"linkId": C.EQ5D_VAS_LINK_ID, "text": "Your health today (0-100)", "type": "integer"})
        yield {"resourceType": "Questionnaire", "id": key, "url": C.QUESTIONNAIRE_BASE + key,
               "name": key.replace("-", "_").upper(), "title": C.PROM_TITLES[key], "version": "1",
               "status": "active", "subjectType": ["Patient"], "item": items}


def responses(f: dict[str, np.ndarray], keep: np.ndarray, answers: dict[str, np.ndarray],
              rows: dict[str, np.ndarray]) -> Iterator[Res]:
    for key in INSTRUMENTS:
        if key not in rows or len(rows[key]) == 0:
            continue
        link_ids = [it[0] for it in C.PROM_ITEMS[key]]
        vas = key == "eq-5d-5l"
        kept = keep[rows[key]]
        rk, ak = rows[key][kept], answers[key][kept]
        for s in range(0, len(rk), CHUNK):
            rid_c = rk[s:s + CHUNK]
            ts, pat, enc = iso(f["ts"][rid_c]), f["pat"][rid_c].tolist(), f["enc"][rid_c].tolist()
            for rid, row, t, p, e in zip(rid_c.tolist(), ak[s:s + CHUNK].tolist(), ts, pat, enc, strict=True):
                item = [{"linkId": lid, "answer": [{"valueCoding": {"system": C.ANSWER_ORDINAL, "code": str(v)}}]}
                        for lid, v in zip(link_ids, row, strict=False)]
                if vas:
                    item.append({"linkId": C.EQ5D_VAS_LINK_ID, "answer": [{"valueInteger": row[-1]}]})
                yield {"resourceType": "QuestionnaireResponse", "id": f"qr-{rid}",
                       "questionnaire": C.QUESTIONNAIRE_BASE + key, "status": "completed",
                       "subject": {"reference": f"Patient/{pid(p)}"},
                       "encounter": {"reference": f"Encounter/enc-{e}"}, "authored": t, "item": item}


def claims(enc: dict[str, np.ndarray], lines: dict[str, np.ndarray], keep_enc: np.ndarray) -> Iterator[Res]:
    """One Claim per billed encounter; lines from the fee schedule (charges, never costs)."""
    if len(lines.get("enc", [])) == 0:
        return
    order = np.lexsort((lines["line_no"], lines["enc"]))
    le = lines["enc"][order]
    ok = keep_enc[le]
    order, le = order[ok], le[ok]
    bounds = np.flatnonzero(np.diff(le)) + 1
    starts_all = np.concatenate([[0], bounds]).astype(np.int64)
    stops_all = np.concatenate([bounds, [len(le)]]).astype(np.int64)
    for c0 in range(0, len(starts_all), CHUNK):
        starts, stops = starts_all[c0:c0 + CHUNK], stops_all[c0:c0 + CHUNK]
        lo, hi = int(starts[0]), int(stops[-1])
        sel = order[lo:hi]
        codes_, qty, charge = lines["code"][sel].tolist(), lines["qty"][sel].tolist(), lines["charge"][sel].tolist()
        ue = le[starts]
        s_iso, e_iso = iso(enc["start"][ue]), iso(enc["end"][ue])
        pats, clss, orgs = enc["pat"][ue].tolist(), enc["cls"][ue].tolist(), enc["org"][ue].tolist()
        for e, a, b, s, en, p, cl, o in zip(ue.tolist(), (starts - lo).tolist(), (stops - lo).tolist(), s_iso, e_iso,
                                            pats, clss, orgs, strict=True):
            items = []
            total = 0.0
            for j in range(a, b):
                q = qty[j]
                items.append({"sequence": j - a + 1, "productOrService": cc(C.CPT, codes_[j]),
                              "servicedDate": s[:10], "quantity": {"value": q},
                              "unitPrice": {"value": round(charge[j] / q, 2), "currency": "USD"},
                              "net": {"value": charge[j], "currency": "USD"},
                              "encounter": [{"reference": f"Encounter/enc-{e}"}]})
                total += charge[j]
            yield {"resourceType": "Claim", "id": f"cl-{e}", "status": "active",
                   "type": cc(C.CLAIM_TYPE, "institutional" if CLASSES[cl] == "IMP" else "professional"),
                   "use": "claim", "patient": {"reference": f"Patient/{pid(p)}"},
                   "billablePeriod": {"start": s, "end": en}, "created": en,
                   "provider": {"reference": f"Organization/{ORG_IDS[o]}"}, "priority": PRIORITY,
                   "insurance": [{"sequence": 1, "focal": True, "coverage": {"reference": f"Coverage/cov-{p}"}}],
                   "item": items, "total": {"value": round(total, 2), "currency": "USD"}}


def consumable_cost(key_idx: int) -> tuple[str, str, float]:
    return C.CONSUMABLES[CONS_KEYS[key_idx]]
