"""Hypothesis mutates valid FHIR resources; ingest never crashes and read = stored + quarantined."""

from __future__ import annotations

import copy
import itertools
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carevalue.ingest.batch import Batch
from carevalue.ingest.fhir import _Reader
from carevalue.ingest.references import References
from carevalue.ingest.store import Store

SEEDS: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p9", "gender": "male", "birthDate": "1960-01-01",
     "deceasedDateTime": "2020-01-01T00:00:00Z", "identifier": [{"system": "s", "value": "v"}],
     "address": [{"city": "X", "state": "MA", "postalCode": "01"}],
     "extension": [{"url": "http://hl7.org/fhir/us/core/StructureDefinition/us-core-race",
                    "extension": [{"url": "text", "valueString": "White"}]}]},
    {"resourceType": "Encounter", "id": "e1", "status": "finished", "class": {"code": "IMP"},
     "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "1", "display": "x"}]}],
     "subject": {"reference": "Patient/p1"}, "period": {"start": "2020-01-01T10:00:00Z", "end": "2020-01-02"},
     "participant": [{"individual": {"reference": "Practitioner?identifier=npi|123"}}],
     "location": [{"location": {"reference": "Location/l1"}}], "serviceProvider": {"reference": "Organization/o1"},
     "reasonCode": [{"coding": [{"code": "r"}]}]},
    {"resourceType": "Observation", "id": "o1", "status": "final",
     "category": [{"coding": [{"code": "vital-signs"}]}],
     "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}, {"system": "x", "code": "y"}]},
     "subject": {"reference": "Patient/p1"}, "effectiveDateTime": "2020-01-01",
     "derivedFrom": [{"reference": "QuestionnaireResponse/qr1"}],
     "component": [{"code": {"coding": [{"code": "8480-6"}]}, "valueQuantity": {"value": 120, "unit": "mm[Hg]",
                                                                                 "system": "http://unitsofmeasure.org", "code": "mm[Hg]"}},
                   {"code": {"coding": [{"code": "8462-4"}]}, "valueInteger": 80}]},
    {"resourceType": "ExplanationOfBenefit", "id": "eob1", "status": "active", "patient": {"reference": "Patient/p1"},
     "billablePeriod": {"start": "2020-01-01", "end": "2020-02-01"}, "provider": {"reference": "Practitioner/pr1"},
     "contained": [{"resourceType": "Coverage", "id": "cov", "payor": [{"display": "Acme"}]}],
     "insurance": [{"coverage": {"reference": "#cov"}}],
     "total": [{"category": {"coding": [{"code": "submitted"}]}, "amount": {"value": 10.0}}],
     "payment": {"amount": {"value": 8.0}},
     "item": [{"sequence": 1, "productOrService": {"coding": [{"code": "99213"}]}, "servicedDate": "2020-01-01",
               "quantity": {"value": 1}, "net": {"value": 10.0},
               "adjudication": [{"category": {"coding": [{"code": "benefit"}]}, "amount": {"value": 8.0}}]}]},
    {"resourceType": "QuestionnaireResponse", "id": "qr1", "status": "completed", "questionnaire": "Q/1",
     "subject": {"reference": "Patient/p1"}, "authored": "2020-01-01T00:00:00+02:00",
     "item": [{"linkId": "1", "answer": [{"valueCoding": {"code": "3", "extension": [
         {"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 3}]}}],
               "item": [{"linkId": "1.1", "answer": [{"valueInteger": 4}, {"valueString": "x"}]}]}]},
    {"resourceType": "CareTeam", "id": "ct1", "status": "active", "name": "Hip IPU",
     "category": [{"coding": [{"system": "https://carevalue.org/fhir/CodeSystem/care-team-kind", "code": "ipu"}]}],
     "extension": [{"url": "https://carevalue.org/fhir/StructureDefinition/condition-template", "valueString": "hip-osteoarthritis"}],
     "managingOrganization": [{"reference": "Organization/o1"}],
     "participant": [{"member": {"reference": "Practitioner/pr1"}, "role": [{"coding": [{"code": "surgeon"}]}]}]},
    {"resourceType": "MedicationRequest", "id": "m1", "status": "active", "subject": {"reference": "Patient/p1"},
     "medicationCodeableConcept": {"coding": [{"code": "123"}]}, "authoredOn": "2020-01-01",
     "dispenseRequest": {"numberOfRepeatsAllowed": 2, "validityPeriod": {"start": "2020-01-01", "end": "2020-06-01"}}},
    {"resourceType": "PractitionerRole", "id": "pr1r", "practitioner": {"identifier": {"system": "npi", "value": "123"}},
     "code": [{"coding": [{"code": "surgeon"}]}], "location": [{"reference": "Location/l1"}]},
]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=True) |
    st.text(max_size=12) | st.sampled_from(["", "2020-13-01", "2020-01-01T25:00:00Z", "Patient/", "urn:uuid:",
                                             "Patient?x=1", "-1", "mg dL", "\x00", "\ud7ff"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    res = copy.deepcopy(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(res)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = res
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["drop", "replace", "garble"]))
        if action == "drop":
            del parent[path[-1]]
        elif action == "replace":
            parent[path[-1]] = draw(JSON_VALUES)
        elif isinstance(parent[path[-1]], str):
            s = parent[path[-1]]
            i = draw(st.integers(0, max(0, len(s) - 1)))
            parent[path[-1]] = s[:i] + draw(st.text(max_size=2)) + s[i + 1:]
    return res


@pytest.fixture(scope="module")
def store() -> Store:
    s = Store(":memory:")
    base = Batch("base", "test")
    reader = _Reader(base, References(s))
    base.read = 1
    reader.resource({"resourceType": "Patient", "id": "p1"}, "line 1", None)
    s.write_batch(base)
    return s


_counter = itertools.count()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(resources=st.lists(mutated(), min_size=1, max_size=4))
def test_mutated_resources_are_stored_or_quarantined(store: Store, resources: list[dict[str, Any]]) -> None:
    batch = Batch(f"fuzz-{next(_counter)}", "test")
    reader = _Reader(batch, References(store))
    for i, res in enumerate(resources, 1):
        batch.read += 1
        reader.resource(res, f"line {i}", lambda res=res: orjson.dumps(res, option=orjson.OPT_NON_STR_KEYS).decode())
    counts = store.write_batch(batch)
    assert counts["read"] == len(resources)
    assert counts["read"] == counts["stored"] + counts["quarantined"]
    q = store.con.execute("SELECT count(*) FROM quarantine WHERE source = ? AND (reason IS NULL OR detail IS NULL)",
                          [batch.source]).fetchone()
    assert q == (0,)


def _items(noisy: bool) -> st.SearchStrategy[Any]:
    """QuestionnaireResponse.item lists: well-formed but for the codes (``noisy``: any JSON anywhere)."""
    codings = st.fixed_dictionaries({}, optional={
        "system": st.sampled_from(["s", 3] if noisy else ["s"]),
        "code": st.sampled_from(["3", "-1.5", "0.5", "a", " 2", "", "\u00b2", 4] if noisy else ["3", "-1.5", "0.5", "a"]),
        "display": st.sampled_from(["Often", 1] if noisy else ["Often"]),
        "extension": st.just([{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": 2}])})
    nested = st.just([{"linkId": "n", "answer": [{"valueInteger": 1}]}])
    answers = st.one_of(
        st.fixed_dictionaries({"valueCoding": codings}),
        st.fixed_dictionaries({"valueCoding": codings, "item": nested}),
        st.fixed_dictionaries({"valueString": st.sampled_from(["x", 2] if noisy else ["x"])}),
        *([JSON_VALUES] if noisy else []))
    links = st.sampled_from(["1", "2", "", 5] if noisy else ["1", "2"])
    items = st.lists(st.fixed_dictionaries({"linkId": links}, optional={
        "answer": st.lists(answers, max_size=3) | (JSON_VALUES if noisy else st.nothing()),
        "item": st.lists(st.fixed_dictionaries({"linkId": st.just("n"), "answer": st.lists(answers, max_size=2)}),
                         max_size=2)}), max_size=4)
    return items | JSON_VALUES if noisy else items


def _read_answers(items: Any, quick: bool) -> Any:
    from carevalue.ingest.fhir_resources import Context, _answers
    from carevalue.ingest.fhir_values import Reject

    out: list[Any] = []
    try:
        _answers(items, "item", "qr1", Context("s", References()), out, {}, quick)
    except Reject as e:
        return ("reject", e.field, e.reason, e.detail)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as e:
        return ("error", type(e).__name__, str(e))
    return out


@settings(max_examples=300, deadline=None)
@given(items=_items(noisy=False), noisy=_items(noisy=True))
def test_plain_coded_answers_read_quickly_give_the_full_reading(items: Any, noisy: Any) -> None:
    """The quick path for answers that are a plain valueCoding yields the rows (or the rejection)
    the full reading of every answer yields."""
    rows = _read_answers(items, True)
    assert isinstance(rows, list) and rows == _read_answers(items, False)
    assert _read_answers(noisy, True) == _read_answers(noisy, False)


def _items_of_claims(noisy: bool) -> st.SearchStrategy[Any]:
    """Claim.item lists: plain items, items with the rarer elements, and (``noisy``) any JSON."""
    money = st.fixed_dictionaries({"value": st.sampled_from([10.0, 0, -0.0, 3] + ([-1.0, True, "7", 1e400] if noisy else []))},
                                  optional={"currency": st.just("USD"), **({"x": st.just(1)} if noisy else {})})
    ref = st.sampled_from([{"reference": "Encounter/e1"}, {"reference": "Encounter/e2"}, {"display": "no id"}]
                          + ([{"reference": 5}, None, {"reference": "Encounter?x=1"}] if noisy else []))
    plain = {
        "sequence": st.sampled_from([1, 2, 3] + ([0, "1", None, 2**31] if noisy else [])),
        "productOrService": st.sampled_from([{"coding": [{"system": "http://www.ama-assn.org/go/cpt", "code": "99213"}]},
                                             {"text": "visit"}] + ([{"coding": [{"code": " x"}]}, 5] if noisy else [])),
        "servicedDate": st.sampled_from(["2023-05-02"] + (["2023-13-02", 3] if noisy else [])),
        "quantity": st.sampled_from([{"value": 2.0}, {"value": 1, "unit": "x"}, None] + ([{"value": -1}, {}] if noisy else [])),
        "unitPrice": money, "net": money | st.just({"currency": "USD"}),
        "encounter": st.lists(ref, max_size=2),
    }
    rare = {"servicedPeriod": st.just({"start": "2023-05-01", "end": "2023-05-03"}),
            "adjudication": st.just([{"category": {"coding": [{"code": "benefit"}]}, "amount": {"value": 8.0}}])}
    item = st.fixed_dictionaries({}, optional=plain) | st.fixed_dictionaries({}, optional=plain | rare)
    items = st.lists(item | (JSON_VALUES if noisy else st.nothing()), max_size=3)
    return items | JSON_VALUES if noisy else items


def _read_claim_items(items: Any, quick: bool) -> Any:
    from carevalue.ingest.fhir_resources import Context, claim_items
    from carevalue.ingest.fhir_values import Reject

    try:
        return claim_items(items, "c1", "p1", Context("s", References()), quick)
    except Reject as e:
        return ("reject", e.field, e.reason, e.detail)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as e:
        return ("error", type(e).__name__, str(e))


@settings(max_examples=500, deadline=None)
@given(items=_items_of_claims(noisy=False), noisy=_items_of_claims(noisy=True))
def test_plain_claim_items_read_quickly_give_the_full_reading(items: Any, noisy: Any) -> None:
    """Claim items read on the quick path yield the lines, encounter (or rejection) of the full reading."""
    assert _read_claim_items(items, True) == _read_claim_items(items, False)
    assert _read_claim_items(noisy, True) == _read_claim_items(noisy, False)
