"""truth/segments.csv follows the CONTRACTS.md segment rules, recomputed here from the NDJSON alone."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd

from carevalue.synth import codes, generate

AS_OF = pd.Timestamp("2025-12-31")


def _read(src: Path, rtype: str) -> list[dict]:  # type: ignore[type-arg]
    return [orjson.loads(line) for f in sorted(src.glob(f"{rtype}.*.ndjson")) for line in f.open("rb")]


def _pid(ref: dict) -> str:  # type: ignore[type-arg]
    return str(ref["reference"]).split("/")[1]


def test_segment_truth_matches_rules_recomputed_from_fhir(tmp_path: Path) -> None:
    generate(patients=1500, seed=8, out=tmp_path / "pop")
    src = tmp_path / "pop" / "source"
    pats = pd.DataFrame([{"pid": p["id"], "birth": pd.Timestamp(p["birthDate"]),
                          "dead": pd.Timestamp(p["deceasedDateTime"][:10]) if "deceasedDateTime" in p else None}
                         for p in _read(src, "Patient")]).set_index("pid")
    cond = pd.DataFrame([{"pid": _pid(c["subject"]), "code": c["code"]["coding"][0]["code"],
                          "onset": pd.Timestamp(c["onsetDateTime"][:10]),
                          "abate": pd.Timestamp(c["abatementDateTime"][:10]) if "abatementDateTime" in c else None}
                         for c in _read(src, "Condition")])
    active = cond[(cond.onset <= AS_OF) & (cond.abate.isna() | (cond.abate > AS_OF))]
    enc = pd.DataFrame([{"pid": _pid(e["subject"]), "cls": e["class"]["code"],
                         "start": pd.Timestamp(e["period"]["start"][:10])} for e in _read(src, "Encounter")])
    util = enc[enc.cls.isin(["EMER", "IMP"]) & (enc.start > AS_OF - pd.Timedelta(days=365)) & (enc.start <= AS_OF)]
    proc = pd.DataFrame([{"pid": _pid(p["subject"]), "code": p["code"]["coding"][0]["code"],
                          "start": pd.Timestamp(p["performedPeriod"]["start"][:10])} for p in _read(src, "Procedure")])
    obs = pd.DataFrame([{"pid": _pid(o["subject"]), "code": o["code"]["coding"][0]["code"],
                         "ts": o["effectiveDateTime"], "num": o.get("valueQuantity", {}).get("value"),
                         "concept": o.get("valueCodeableConcept", {}).get("coding", [{}])[0].get("code")}
                        for o in _read(src, "Observation")])
    obs = obs[pd.to_datetime(obs.ts.str[:10]) <= AS_OF].sort_values(["pid", "ts"])
    smoker = obs[obs.code == "72166-2"].groupby("pid").concept.last() == "77176002"
    obese = obs[obs.code == "39156-5"].groupby("pid").num.last() >= 30
    tx = proc[(proc.code == "70536003") & (proc.start > AS_OF - pd.Timedelta(days=365)) & (proc.start <= AS_OF)]

    def has(codes_: tuple[str, ...]) -> set[str]:
        return set(active[active.code.isin(codes_)].pid)

    n_chronic = active[active.code.isin(codes.CHRONIC_CODES)].groupby("pid").code.nunique()
    n_util = util.groupby("pid").size()
    frail, disabled, rare = has(codes.FRAILTY_CODES), has((codes.DISABILITY_CODE,)), has(codes.RARE_CODES)
    cancer, risk, recent_tx = has(codes.CANCER_CODES), has(codes.RISK_FACTOR_CODES), set(tx.pid)
    expected = {}
    for pid, row in pats.iterrows():
        if row.dead is not None and not pd.isna(row.dead) and row.dead <= AS_OF:
            continue
        age = AS_OF.year - row.birth.year - ((AS_OF.month, AS_OF.day) < (row.birth.month, row.birth.day))
        nc, nu = int(n_chronic.get(pid, 0)), int(n_util.get(pid, 0))
        if age >= 85 or (age >= 75 and pid in frail) or pid in disabled:
            s = "frail-elderly-disabled"
        elif pid in rare:
            s = "rare-condition"
        elif nc >= 3 or (nc >= 2 and nu >= 2) or pid in cancer or pid in recent_tx:
            s = "complex"
        elif nc >= 1:
            s = "chronic"
        elif bool(smoker.get(pid, False)) or bool(obese.get(pid, False)) or pid in risk:
            s = "at-risk"
        else:
            s = "healthy"
        expected[pid] = s
    truth = pd.read_csv(tmp_path / "pop" / "truth" / "segments.csv").set_index("patient_id").segment.to_dict()
    assert truth == expected
