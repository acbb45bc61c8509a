"""The shortcuts the FHIR parse takes for speed (date cache, known reference types, mapped resource
types, positional row builders) give exactly what the full path gives, and never mix up values."""

from __future__ import annotations

from datetime import datetime

import pytest

from carevalue.ingest import fhir_values, references
from carevalue.ingest.batch import Batch, Reason
from carevalue.ingest.fhir import _Reader
from carevalue.ingest.fhir_resources import ROW, positional
from carevalue.ingest.fhir_values import Reject, day, instant
from carevalue.ingest.references import References, Unresolvable


def test_instant_cache_keeps_distinct_texts_apart_and_rejects_bad_ones_every_time() -> None:
    fhir_values._INSTANTS.clear()
    texts = ["2023-07-17T15:00:00Z", "2023-07-17T15:00:00+01:00", "2023-07-17", "2023-07", "2023"]
    first = [instant(t, "f") for t in texts]
    assert first == [datetime(2023, 7, 17, 15), datetime(2023, 7, 17, 14), datetime(2023, 7, 17),
                     datetime(2023, 7, 1), datetime(2023, 1, 1)]
    assert [instant(t, "g") for t in texts] == first  # read again from the cache
    assert len(set(map(id, first))) == len(texts)
    for field in ("a", "b"):  # a bad text is never cached: each Reject names its own field
        with pytest.raises(Reject) as e:
            instant("2023-13-45T00:00:00Z", field)
        assert (e.value.field, e.value.reason) == (field, Reason.BAD_DATE)
    with pytest.raises(Reject) as e:
        instant(["2023"], "h")
    assert e.value.reason == Reason.WRONG_TYPE


def test_instant_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhir_values, "_INSTANTS_MAX", 3)
    fhir_values._INSTANTS.clear()
    days = [f"2020-01-{d:02d}" for d in range(1, 11)]
    assert [instant(t, "f") for t in days] == [datetime(2020, 1, d) for d in range(1, 11)]
    assert len(fhir_values._INSTANTS) <= 3
    assert day("1990-02-03T10:00:00+05:00", "birthDate").isoformat() == "1990-02-03"  # type: ignore[union-attr]


def test_reference_fast_path_matches_the_general_rules() -> None:
    refs = References()
    cases = {
        "Patient/p1": ("Patient", "p1"), "Patient/p2": ("Patient", "p2"),
        "Encounter/e-1": ("Encounter", "e-1"), "patient/p1": None, "Patient/": None, "/p1": None,
        "Patient/a/b": None, "Patient/p1?x=1": None, "Patient/x:y": ("Patient", "x:y"), "Patient/p#1": None,
        "http://h/fhir/Patient/p9": ("Patient", "p9"), "Patient/p1/_history/2": ("Patient", "p1"),
        "\u00c9patient/x": ("\u00c9patient", "x"),
    }  # as main resolved them before the fast path learnt known types
    for _ in range(2):  # second round: the types are known now
        for text, want in cases.items():
            if want is None:
                with pytest.raises(Unresolvable):
                    refs.resolve({"reference": text})
            else:
                assert refs.resolve({"reference": text}) == want, text
    assert "patient" not in references._PLAIN_TYPES and "Patient" in references._PLAIN_TYPES
    refs.add_local("Patient/p1", "Patient", "local-p1")
    assert refs.resolve({"reference": "Patient/p1"}) == ("Patient", "local-p1")  # bundle names first


def test_positional_builder_places_values_like_the_keyword_builder() -> None:
    build = positional("encounters", "patient_id encounter_id status")
    assert build("src", "p", "e", "finished") == ROW["encounters"]("src", encounter_id="e", patient_id="p",
                                                                   status="finished")
    for bad in ("patient_id nope", "patient_id patient_id", "source"):
        with pytest.raises(ValueError):
            positional("encounters", bad)


def test_unmapped_and_invalid_types_still_get_their_reasons() -> None:
    batch = Batch("f.ndjson", "fhir-ndjson")
    reader = _Reader(batch, None)
    for i, res in enumerate([{"resourceType": "Basic", "id": "b1"}, {"resourceType": "basic", "id": "b2"},
                             {"resourceType": "MedicationOrder", "id": "m1"}, {"id": "x"},
                             {"resourceType": ["Patient"], "id": "y"}, {"resourceType": "Patient", "id": "p/1"}]):
        reader.resource(res, f"line {i + 1}", "{}")
    assert [r[1] for r in batch.rows["raw_resources"]] == ["b1"]
    assert [q[5] for q in batch.quarantine_rows] == [Reason.INVALID_RESOURCE_TYPE, Reason.UNSUPPORTED_VERSION,
                                                     Reason.MISSING_RESOURCE_TYPE, Reason.INVALID_RESOURCE_TYPE,
                                                     Reason.INVALID_ID]
