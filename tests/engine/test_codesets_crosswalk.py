"""Value sets written in ICD-10-CM match SNOMED CT coded records through the library's crosswalk
(issue 10 item 6), and the crosswalk is the library's: a user's content folder can add or override one."""

from __future__ import annotations

from pathlib import Path

import ibis
import pytest
from fhir_bed import FhirBed

from carevalue.definitions.base import CodeGroup
from carevalue.definitions.loader import load
from carevalue.engine.codesets import CodeMap, matches
from carevalue.engine.riskscores.crosswalk import code_map, from_library

SCT, ICD = "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10-cm"
AMI = [CodeGroup(system="ICD-10-CM", codes=["I21.*", "I22.*"])]
XW = CodeMap.of([("401303003", "I21.3"), ("22298006", "I21.9"), ("44054006", "E11.9")])

CASES = [  # (system, code, matches without crosswalk, matches with it)
    (ICD, "I21.3", True, True),          # ICD-10-CM record: direct, as before
    (ICD, "I213", True, True),           # dots do not matter
    (SCT, "401303003", False, True),     # STEMI in SNOMED CT -> I21.3, in I21.*
    (SCT, "44054006", False, False),     # diabetes -> E11.9, not in the value set
    (SCT, "999999", False, False),       # not in the crosswalk
    (None, "401303003", False, False),   # no system: the crosswalk does not guess it is SNOMED CT
    ("http://loinc.org", "401303003", False, False),
]


@pytest.mark.parametrize(("system", "code", "direct", "mapped"), CASES)
def test_icd10_value_set_matches_snomed_records_through_the_crosswalk(system: str | None, code: str,
                                                                       direct: bool, mapped: bool) -> None:
    t = ibis.memtable({"s": [system], "c": [code]}, schema={"s": "string", "c": "string"})
    without = t.select(m=matches(t.s, t.c, AMI)).execute().m[0]
    with_xw = t.select(m=matches(t.s, t.c, AMI, XW)).execute().m[0]
    assert (bool(without), bool(with_xw)) == (direct, mapped)


def test_exact_codes_and_prefixes_select_the_mapped_sources() -> None:
    assert XW.sources_for(CodeGroup(system="ICD-10-CM", codes=["I21.3"])) == ["401303003"]
    assert XW.sources_for(CodeGroup(system="ICD-10-CM", codes=["I21.*"])) == ["22298006", "401303003"]
    assert XW.sources_for(CodeGroup(system="SNOMED CT", codes=["401303003"])) == []


def _content(tmp_path: Path, xw_id: str, rows: list[tuple[str, str]]) -> Path:
    folder = tmp_path / "content" / "crosswalks"
    folder.mkdir(parents=True)
    (folder / f"{xw_id}.yaml").write_text(
        f"id: {xw_id}\ntitle: Local map\nsource_system: SNOMED CT\ntarget_system: ICD-10-CM\n"
        f"file: {xw_id}.csv\nsource: local coding office\n", encoding="utf-8")
    lines = ["snomed_code,snomed_display,map_group,icd10cm_code,confidence,needs_review,origin,note"]
    lines += [f"{s},local,1,{t},high,false,local," for s, t in rows]
    (folder / f"{xw_id}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path / "content"


def test_a_users_content_folder_adds_a_crosswalk_and_wins_per_code(tmp_path: Path) -> None:
    packaged = code_map(from_library(load()))
    assert packaged is not None and ("44054006", "E119") in packaged.pairs
    lib = load(_content(tmp_path, "local-map", [("44054006", "E11.65"), ("123456789", "I21.4")]))
    local = code_map(from_library(lib))
    assert local is not None
    assert ("123456789", "I214") in local.pairs                        # added
    assert ("44054006", "E1165") in local.pairs and ("44054006", "E119") not in local.pairs  # overridden
    assert ("401303003", "I213") in local.pairs                        # packaged rows stay


def test_snomed_coded_complication_counts_in_the_cms_composite(tmp_path: Path) -> None:
    """STEMI (SNOMED CT 401303003) on day 3 is not among the AMI value set's SNOMED codes; it
    counts through the crosswalk's I21.3, in the value set's ICD-10-CM I21.*."""
    bed = FhirBed(tmp_path)
    for pid, code in (("stemi", "401303003"), ("none", None)):
        p = bed.patient(pid, born="1950-01-01", sex="male")
        bed.condition(p, "239872002", "2024-01-20")
        e = bed.encounter(p, "2024-02-01", cls="IMP", days=3, org="org-a")
        bed.procedure(p, "52734007", "2024-02-01", encounter=e)
        if code:
            bed.condition(p, code, "2024-02-04", encounter=e)
    bed.run(["observation", "cycles", "proms", "outcomes"])
    events = {r["patient_id"]: r["event"] for r in bed.rows("outcome_values", measure="cms-complications")}
    assert events == {"stemi": 1, "none": 0}
    evidence = bed.rows("outcome_evidence", measure="cms-complications")
    assert {r["evidence_table"] for r in evidence} == {"conditions"}
