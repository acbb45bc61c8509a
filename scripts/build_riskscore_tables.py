"""Convert the published risk-score tables into the compact CSVs that carevalue ships as package data.

CMS-HCC V24: read from the installed ``hccpy`` package (Apache-2.0; its ``data/`` folder holds the
CMS SAS input files: ICD-10 -> CC mapping ``F24_AllYearsCombined``, hierarchies ``V24H86H1``, labels
``V24H86L1`` and the relative factors ``V24hcccoefn.csv``). The age/sex edits (CMS macro
V22I0ED2) and the interaction definitions (CMS macro V2419P1M) are SAS code, transcribed below
as data from hccpy's Python translation of them.

Charlson / Elixhauser: the ICD-10 code-prefix lists of Quan et al. (Med Care 2005;43:1130-9)
and the weights (Charlson 1987, Quan 2011, van Walraven 2009, Swiss) from the ``comorbidipy``
0.5.0 wheel (MIT), whose ``mapping.py`` and ``weights.py`` are plain data. comorbidipy does not
import under pandas 3, so this script reads those two files straight from the wheel.

Run: ``.venv/bin/python scripts/build_riskscore_tables.py [--comorbidipy-wheel PATH]``
(without the option the wheel is fetched with ``pip download comorbidipy==0.5.0 --no-deps``).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "src" / "carevalue" / "engine" / "riskscores" / "data"

# --- CMS-HCC V24: SAS logic transcribed as data ---------------------------------------------------
# Age/sex edits (V22I0ED2, used by V22-V24): a diagnosis that maps to any CC is re-mapped to `hcc`
# (empty = to no CC) when the patient's sex is `sex` and/or age < age_below / age > age_above.
V24_EDITS = (
    [("D66", "F", "", "", "HCC48"), ("D67", "F", "", "", "HCC48")]
    + [(dx, "", "18", "", "HCC112") for dx in ("J410", "J411", "J418", "J42", "J430", "J431", "J432",
                                               "J438", "J439", "J440", "J441", "J449", "J982", "J983")]
    + [("F3481", "", "6", "", ""), ("F3481", "", "", "18", "")]
)
# Groups of CCs named by the interaction macro V2419P1M (a group is present if any member is).
V24_GROUPS = {
    "CANCER": (8, 9, 10, 11, 12),
    "DIABETES": (17, 18, 19),
    "CARD_RESP_FAIL": (82, 83, 84),
    "CHF": (85,),
    "gCopdCF": (110, 111, 112),
    "RENAL_V24": (134, 135, 136, 137, 138),
    "SEPSIS": (2,),
    "gSubstanceAbuse_V24": (54, 55, 56),
    "gPsychiatric_V24": (57, 58, 59, 60),
    "PRESSURE_ULCER": (157, 158, 159),
}
# Interaction variables: present when every term is (a term is an HCC, a group, or DISABLED).
V24_INTERACTIONS = {
    "HCC47_gCancer": ("HCC47", "CANCER"),
    "DIABETES_CHF": ("HCC85", "DIABETES"),
    "CHF_gCopdCF": ("HCC85", "gCopdCF"),
    "HCC85_gRenal_V24": ("HCC85", "RENAL_V24"),
    "gCopdCF_CARD_RESP_FAIL": ("CARD_RESP_FAIL", "gCopdCF"),
    "HCC85_HCC96": ("HCC85", "HCC96"),
    "gSubstanceUseDisorder_gPsych": ("gPsychiatric_V24", "gSubstanceAbuse_V24"),
    "PRESSURE_ULCER": ("PRESSURE_ULCER",),
    "SEPSIS_PRESSURE_ULCER": ("SEPSIS", "PRESSURE_ULCER"),
    "SEPSIS_ARTIF_OPENINGS": ("SEPSIS", "HCC188"),
    "ART_OPENINGS_PRESSURE_ULCER": ("HCC188", "PRESSURE_ULCER"),
    "gCopdCF_ASP_SPEC_B_PNEUM": ("gCopdCF", "HCC114"),
    "ASP_SPEC_BACT_PNEUM_PRES_ULC": ("HCC114", "PRESSURE_ULCER"),
    "SEPSIS_ASP_SPEC_BACT_PNEUM": ("SEPSIS", "HCC114"),
    "SCHIZOPHRENIA_gCopdCF": ("HCC57", "gCopdCF"),
    "SCHIZOPHRENIA_CHF": ("HCC57", "CHF"),
    "SCHIZOPHRENIA_SEIZURES": ("HCC57", "HCC79"),
    "DISABLED_HCC85": ("DISABLED", "HCC85"),
    "DISABLED_PRESSURE_ULCER": ("DISABLED", "PRESSURE_ULCER"),
    "DISABLED_HCC161": ("DISABLED", "HCC161"),
    "DISABLED_HCC39": ("DISABLED", "HCC39"),
    "DISABLED_HCC77": ("DISABLED", "HCC77"),
    "DISABLED_HCC6": ("DISABLED", "HCC6"),
}
# Payment-HCC count variables D1..D9, D10P (V24): (variable, min count, max count or empty).
V24_COUNTS = [(f"D{n}", n, n) for n in range(1, 10)] + [("D10P", 10, "")]
# comorbidipy's assign0 rule (from the R comorbidity package): when the more severe category is
# present the milder one carries no weight (its flag stays 1).
COMORBIDITY_HIERARCHY = {
    "charlson": [("msld", "mld"), ("diabwc", "diab"), ("metacanc", "canc")],
    "elixhauser": [("hypc", "hypunc"), ("diabc", "diabunc"), ("metacanc", "solidtum")],
}
# Rules of V24's demographic part (hccpy raeligible/_AGESEXV2.get_ds, CMS macro AGESEXV2), and
# carevalue's defaults where the source has no Medicare enrolment data: aged (CNA, OREC 0) from 65,
# otherwise disabled (CND, OREC 1); not Medicaid.
V24_MODEL = {
    "id": "cms-hcc-v24",
    "title": "CMS-HCC V24 community and institutional model (relative factors, unnormalised)",
    "disabled_below_age": 65,
    "aged_orec": "0",
    "origds_orec": ["1", "3"],
    "default_aged_from": 65,
    "default_segment": {"aged": "CNA", "disabled": "CND"},
    "default_orec": {"aged": "0", "disabled": "1"},
    "score_decimals": 4,
}
CONTINUING_SEGMENTS = ("CNA", "CND", "CFA", "CFD", "CPA", "CPD", "INS")


def write(path: Path, header: list[str], rows: Sequence[Sequence[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(f"  {path.relative_to(OUT.parents[3])}: {len(rows)} rows")


def _age_cell(name: str, prefix: str) -> tuple[int, int | str] | None:
    """'CNA_F65_69' -> (65, 70); 'CNA_F95_GT' -> (95, ''), by hccpy's own token rules."""
    tokens = name[len(prefix):].split("_")
    if not tokens[0].isdigit():
        return None
    lo = int(tokens[0])
    if len(tokens) == 1:
        return lo, lo + 1
    if tokens[1] == "GT":
        return lo, ""
    return lo, int(tokens[1]) + 1


def build_hcc_v24() -> None:
    warnings.simplefilter("ignore")
    import hccpy  # type: ignore[import-untyped]
    from hccpy.hcc import HCCEngine  # type: ignore[import-untyped]

    eng = HCCEngine("24")  # dx2cc_year="Combined", the package default
    out = OUT / "cms_hcc_v24"
    write(out / "dx_to_hcc.csv", ["icd10", "hcc"],
          sorted((dx, h) for dx, hs in eng.dx2cc.items() for h in hs))

    # The backend drops every CC that a present CC lists; hccpy decrements counters in file order.
    # The two agree when the hierarchy is transitive, which CMS's is: check it.
    hier = eng.hier
    for top, kids in hier.items():
        for k in kids:
            for grandkid in hier.get(k, []):
                assert grandkid in kids, f"hierarchy not transitive: {top} > {k} > {grandkid}"
    write(out / "hierarchy.csv", ["hcc", "drops"], [(k, v) for k, vs in hier.items() for v in vs])
    write(out / "labels.csv", ["hcc", "label"],
          sorted(((f"HCC{k}", v) for k, v in eng.label.items()), key=lambda r: int(str(r[0])[3:])))

    coef = eng.coefn
    rows = []
    for name, value in coef.items():
        seg, _, var = name.partition("_")
        if seg in CONTINUING_SEGMENTS:
            rows.append((seg, var, repr(float(value))))
    write(out / "coefficients.csv", ["segment", "variable", "coefficient"], rows)

    demo = []
    for seg in CONTINUING_SEGMENTS:
        for sex in ("F", "M"):
            prefix = f"{seg}_{sex}"
            for name in coef:
                if name.startswith(prefix) and (cell := _age_cell(name, prefix)) is not None:
                    demo.append((seg, sex, cell[0], cell[1], name[len(seg) + 1:]))
    write(out / "demographics.csv", ["segment", "sex", "age_lo", "age_hi", "variable"], demo)
    # hccpy picks the first coefficient NAME containing 'SEG_SEX' whose age range holds the age;
    # check that the ranges above select the same cell for every whole age.
    for seg in CONTINUING_SEGMENTS:
        for sex in ("F", "M"):
            for age in range(0, 121):
                got = [r[4] for r in demo if r[0] == seg and r[1] == sex and r[2] <= age
                       and (r[3] == "" or age < int(r[3]))]
                ref = hccpy._V2218O1P.get_risk_dct(coef, [], age, sex, seg, 0, False)
                want = [k[len(seg) + 1:] for k in ref if k]
                assert got == want, (seg, sex, age, got, want)

    write(out / "status_terms.csv", ["status", "sex", "variable"], [
        ("origds", "F", "OriginallyDisabled_Female"), ("origds", "M", "OriginallyDisabled_Male"),
        ("medicaid", "F", "LTIMCAID"), ("medicaid", "M", "LTIMCAID"),
    ])
    for dx, *_ in V24_EDITS:
        assert dx in eng.dx2cc, f"edit for unmapped code {dx}"
    write(out / "age_sex_edits.csv", ["icd10", "sex", "age_below", "age_above", "hcc"], V24_EDITS)
    write(out / "groups.csv", ["group", "hcc"],
          [(g, f"HCC{h}") for g, hs in V24_GROUPS.items() for h in hs])
    write(out / "interactions.csv", ["variable", "term"],
          [(v, t) for v, ts in V24_INTERACTIONS.items() for t in ts])
    write(out / "counts.csv", ["variable", "min_hccs", "max_hccs"], V24_COUNTS)
    (out / "model.json").write_text(json.dumps(V24_MODEL, indent=2) + "\n")


def _comorbidipy_data(wheel: Path) -> tuple[dict, dict, str]:  # type: ignore[type-arg]
    with zipfile.ZipFile(wheel) as z:
        mapping_src = z.read("comorbidipy/mapping.py").decode()
        weights_src = z.read("comorbidipy/weights.py").decode()
        colnames_src = z.read("comorbidipy/colnames.py").decode()
    ns: dict[str, object] = {}
    exec(compile(mapping_src, "comorbidipy/mapping.py", "exec"), ns)
    wns: dict[str, object] = {"mapping": ns["mapping"]}
    exec(compile(weights_src.replace("from .mapping import mapping", ""), "comorbidipy/weights.py", "exec"), wns)
    cns: dict[str, object] = {}
    exec(compile(colnames_src, "comorbidipy/colnames.py", "exec"), cns)
    return ns["mapping"], wns["weights"], cns["get_colnames"]  # type: ignore[return-value]


def build_comorbidity(wheel: Path) -> None:
    mapping, weights, colnames = _comorbidipy_data(wheel)
    out = OUT / "comorbidity"
    for index, key, weightings in (("charlson", "charlson_icd10_quan", ("quan", "charlson")),
                                   ("elixhauser", "elixhauser_icd10_quan", ("vw", "swiss"))):
        rows = sorted({(cat, re.sub(r"[^A-Z0-9]", "", p.upper())) for cat, ps in mapping[key].items() for p in ps})
        write(out / f"{index}_icd10_quan.csv", ["category", "prefix"], rows)
        write(out / f"{index}_weights.csv", ["weighting", "category", "weight"],
              [(w, cat, weights[key][w][cat]) for w in weightings for cat in weights[key][w]])
        labels = colnames(index)  # type: ignore[operator]
        write(out / f"{index}_categories.csv", ["category", "label"],
              [(cat, labels[cat].strip()) for cat in mapping[key]])
        write(out / f"{index}_hierarchy.csv", ["category", "drops"], COMORBIDITY_HIERARCHY[index])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--comorbidipy-wheel", type=Path)
    args = ap.parse_args()
    build_hcc_v24()
    wheel = args.comorbidipy_wheel
    with tempfile.TemporaryDirectory() as tmp:
        if wheel is None:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                            "comorbidipy==0.5.0", "-d", tmp], check=True)
            wheel = next(Path(tmp).glob("comorbidipy-*.whl"))
        build_comorbidity(wheel)


if __name__ == "__main__":
    main()
