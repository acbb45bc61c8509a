"""The fast path of QuestionnaireResponse validation: whatever has the common shape is valid FHIR R4B
(fhir.resources), for any values hypothesis draws; a PROM answer as apps send it has the shape."""

from __future__ import annotations

from typing import Any

from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carevalue.definitions.instrument import load_instruments
from carevalue.interop.qr_shape import common_shape

PHQ9 = load_instruments()["phq-9"]

def mostly(good: st.SearchStrategy[Any], odd: st.SearchStrategy[Any], one_in: int = 40) -> st.SearchStrategy[Any]:
    """``odd`` once in ``one_in`` draws, else ``good``: many drawn resources have the shape, each
    one's values drawn widely, and the rest are one odd value away from it."""
    return st.integers(1, one_in).flatmap(lambda k: odd if k == 1 else good)


odd_text = st.one_of(st.text(max_size=12), st.sampled_from(["", " ", " a", "a ", "a\nb", "a\x00", "\t", "ü é"]))
text = mostly(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9 /|.:-]{0,10}[A-Za-z0-9]", fullmatch=True), odd_text)
ident = mostly(st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True),
               st.one_of(st.from_regex(r"[A-Za-z0-9\-.]{60,70}", fullmatch=True), odd_text))
uri = mostly(st.sampled_from(["urn:test", "http://loinc.org", "https://x.org/Q/phq-9|1.0", "urn:uuid:1"]),
             st.one_of(st.just("a b"), odd_text))
day = st.from_regex(r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])", fullmatch=True)
clock = st.from_regex(r"([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?", fullmatch=True)
zone = st.sampled_from(["Z", "+00:00", "-05:00", "+14:00", "-13:59"])
odd_day = st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", fullmatch=True)
odd_clock = st.from_regex(r"[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?", fullmatch=True)
odd_zone = st.sampled_from(["+14:30", "+24:00", "", "+0100", "z"])
date_time = mostly(st.builds(lambda d, t, z: f"{d}T{t}{z}", day, clock, zone),
                   st.one_of(st.builds(lambda d, t, z: f"{d}T{t}{z}", odd_day, odd_clock, st.one_of(zone, odd_zone)),
                             st.sampled_from(["2025-02-30T10:00:00Z", "0000-01-01T00:00:00Z", "2025-03-01",
                                              "2025", "2025-03-01T24:00:00Z", "2016-12-31T23:59:60Z"]), odd_text),
                   one_in=4)
integer = mostly(st.integers(-2**31, 2**31 - 1),
                 st.one_of(st.integers(), st.booleans(), st.sampled_from([2**31, -2**31 - 1, "3", None, 1.0])))
decimal = mostly(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.integers(-10**6, 10**6)),
                 st.one_of(st.floats(), st.booleans(), st.integers(), st.sampled_from(["0.5", None])))
codes = st.sampled_from([o.code for i in PHQ9.items for o in i.options])
coding = mostly(st.fixed_dictionaries({"code": mostly(codes, odd_text)}, optional={"system": uri, "display": text}),
                st.fixed_dictionaries({"code": codes, "version": text}))
answer = mostly(st.one_of(st.fixed_dictionaries({"valueCoding": coding}),
                          st.fixed_dictionaries({"valueInteger": integer}),
                          st.fixed_dictionaries({"valueDecimal": decimal})),
                st.one_of(st.fixed_dictionaries({"valueCoding": coding, "valueInteger": integer}),
                          st.fixed_dictionaries({}, optional={"valueString": odd_text})))
link = mostly(st.sampled_from([i.link_id for i in PHQ9.items]), text)
item = st.recursive(
    st.fixed_dictionaries({"linkId": link}, optional={"text": text, "answer": st.lists(answer, min_size=1, max_size=2)}),
    lambda inner: st.fixed_dictionaries({"linkId": link}, optional={"item": st.lists(inner, min_size=1, max_size=2)}),
    max_leaves=6)
response = st.fixed_dictionaries(
    {"resourceType": mostly(st.just("QuestionnaireResponse"), st.just("Observation")),
     "status": mostly(st.sampled_from(["completed", "amended", "in-progress"]), st.sampled_from(["done", ""]))},
    optional={"id": ident, "identifier": st.fixed_dictionaries({"value": text}, optional={"system": uri}),
              "questionnaire": uri, "subject": st.fixed_dictionaries({"reference": text}, optional={"display": text}),
              "authored": date_time, "item": st.lists(item, min_size=1, max_size=9)}
).flatmap(lambda r: mostly(st.just(r), st.just({**r, "language": "en"}), 10))  # an element outside the shape


def _valid_r4b(qr: dict[str, Any]) -> bool:
    try:
        QuestionnaireResponse.model_validate(qr)
    except Exception:  # noqa: BLE001 - fhir.resources raises ValidationError, and TypeError/ValueError on odd input
        return False
    return True


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(response)
def test_whatever_has_the_common_shape_validates_with_fhir_resources_r4b(qr: dict[str, Any]) -> None:
    if common_shape(qr):
        assert _valid_r4b(qr), qr


def test_a_prom_answer_as_apps_send_it_has_the_common_shape() -> None:
    qr = {"resourceType": "QuestionnaireResponse", "id": "r-1.a", "identifier": {"system": "urn:app", "value": "r 1"},
          "questionnaire": "https://carevalue.org/fhir/Questionnaire/phq-9", "status": "completed",
          "subject": {"reference": "Patient/pt00000001"}, "authored": "2025-03-01T10:00:00.250+01:00",
          "item": [{"linkId": i.link_id, "text": i.text or "q", "answer": [{"valueCoding": {
              "system": "http://loinc.org", "code": i.options[1].code, "display": "Several days"}}]} for i in PHQ9.items]
          + [{"linkId": "g", "item": [{"linkId": "n", "answer": [{"valueInteger": 3}]},
                                      {"linkId": "d", "answer": [{"valueDecimal": 0.5}]}]}]}
    assert common_shape(qr) and _valid_r4b(qr)
    for bad in ({**qr, "authored": "2025-02-30T10:00:00Z"}, {**qr, "status": "done"}, {**qr, "meta": {}},
                {**qr, "item": [{"linkId": "x", "answer": [{"valueInteger": True}]}]},
                {**qr, "item": [{"linkId": "x", "answer": [{"valueInteger": 1, "valueDecimal": 1.0}]}]}):
        assert not common_shape(bad), bad  # left to fhir.resources (which rejects or accepts it)
