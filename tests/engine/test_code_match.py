"""The join-based code matcher (engine/code_match.py) agrees with the boolean one
(engine/codesets.matches) on every record and code list: exact and prefix codes, dotted and
dot-free ICD-10-CM, system aliases, records without a system, unknown systems and the SNOMED CT ->
ICD-10-CM crosswalk. Hypothesis draws the records and the code lists from a small alphabet so
near-misses (a prefix one character too long, a dot in the wrong place) are common."""

from __future__ import annotations

import ibis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carevalue.definitions.base import CodeGroup
from carevalue.engine import code_match
from carevalue.engine.codesets import CodeMap, matches

SYSTEMS = {"ICD-10-CM": ["http://hl7.org/fhir/sid/icd-10-cm", "ICD10CM"],
           "SNOMED CT": ["http://snomed.info/sct", "SNOMED-CT"],
           "LOINC": ["http://loinc.org"]}
RECORD_SYSTEMS = [None, "urn:unknown", *[a for al in SYSTEMS.values() for a in al]]

codes = st.text(alphabet="AM1.6", min_size=1, max_size=4)
pattern = st.one_of(codes, codes.map(lambda c: c + "*"), codes.map(lambda c: c + ".*"))
groups = st.lists(st.builds(lambda s, cs: CodeGroup(system=s, codes=cs), st.sampled_from(sorted(SYSTEMS)),
                            st.lists(pattern, min_size=1, max_size=3)), min_size=0, max_size=3)
records = st.lists(st.tuples(st.sampled_from(RECORD_SYSTEMS), st.one_of(st.none(), codes, codes.map(" {} ".format))),
                   min_size=1, max_size=12)
pairs = st.lists(st.tuples(codes, codes), max_size=4)


@pytest.fixture(scope="module")
def con():  # type: ignore[no-untyped-def]
    return ibis.duckdb.connect()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(recs=records, keyed=st.lists(groups, min_size=1, max_size=3), xw=pairs, use_xw=st.booleans())
def test_join_matcher_agrees_with_the_boolean_matcher(con, recs, keyed, xw, use_xw) -> None:  # type: ignore[no-untyped-def]
    crosswalk = CodeMap.of(xw) if use_xw else None
    t = ibis.memtable({"_id": [str(i) for i in range(len(recs))], "_system": [s for s, _ in recs],
                       "_code": [c for _, c in recs]},
                      schema={"_id": "string", "_system": "string", "_code": "string"})
    kg = [(f"k{i}", g) for i, g in enumerate(keyed)]
    want = set()
    for key, gs in kg:
        hit = t.filter(matches(t._system, t._code, gs, crosswalk))
        want |= {(r, key) for r in con.execute(hit)["_id"]}
    got_t = code_match.match(t, code_match.code_rows(kg, crosswalk), code_match.shapes_of(kg, crosswalk))
    got = set(map(tuple, con.execute(got_t)[["_id", "_key"]].itertuples(index=False)))
    assert got == want, (recs, keyed, xw)
