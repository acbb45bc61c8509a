"""An NDJSON file parsed in parts and joined is the file parsed whole (rows, line numbers, quarantine,
counts); parts that share a key are not joined, and then a parallel ingest parses the file whole."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson
import pytest
from store_snapshot import snapshot

from carevalue.ingest import fhir, file_parts
from carevalue.ingest.batch import Batch, Reason
from carevalue.ingest.run import ingest
from carevalue.ingest.sources import SourceFile, parse_file
from carevalue.ingest.store import Store


def _obs(i: int, value: Any = 7.1, **more: Any) -> bytes:
    return orjson.dumps({
        "resourceType": "Observation", "id": f"o{i}", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
        "subject": {"reference": f"Patient/p{i % 7}"}, "effectiveDateTime": "2020-01-01T10:00:00Z",
        "valueQuantity": {"value": value, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%"},
        **more})


def _file(path: Path, lines: list[bytes]) -> SourceFile:
    path.write_bytes(b"\n".join(lines) + b"\n")
    return SourceFile(path, path.name, "fhir-ndjson", "observation")


def _whole(src: SourceFile) -> Batch:
    b = Batch(src.label, src.format, "sha")
    parse_file(src, b)
    return b.freeze()


def _in_parts(src: SourceFile, parts: int) -> tuple[list[tuple[int, int]], Batch | None]:
    cut = file_parts.spans(src, parts)
    got = []
    for i, span in enumerate(cut):
        b = Batch(src.label, src.format, "sha" if i == 0 else "")
        parse_file(src, b, span=span)
        keys = b.key_hashes()
        got.append((b.freeze(), keys))
    return cut, file_parts.join(got)


def _same(a: Batch, b: Batch) -> None:
    assert a.tables == b.tables
    for n in a.tables:
        assert a.arrow(n).equals(b.arrow(n)), n
    assert a.quarantine_rows == b.quarantine_rows
    assert (a.read, a.sha256, a.versions) == (b.read, b.sha256, b.versions)


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(file_parts, "PART_MIN_BYTES", 64)


def test_parts_joined_equal_the_whole_parse(tmp_path: Path, small_parts: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fhir, "MAX_LINE_BYTES", 600)
    lines = [b"\xef\xbb\xbf" + _obs(0)]  # a byte-order mark on the first line only
    for i in range(1, 40):
        lines.append(_obs(i, meta={"lastUpdated": "2021-01-01T00:00:00Z"}) if i % 5 == 0 else _obs(i))
        if i % 9 == 0:
            lines += [b"", b'{"resourceType": "Observation", "id": ', _obs(100 + i, value="7"),
                      b'{"resourceType": "Basic", "id": "b%d"}' % i, b"x" * 700]
    src = _file(tmp_path / "Observation.ndjson", lines)
    whole = _whole(src)
    reasons = {q[5] for q in whole.quarantine_rows}
    assert {Reason.MALFORMED_JSON, Reason.NON_NUMERIC, Reason.LINE_TOO_LONG} <= reasons
    assert whole.versions and whole.frozen and "raw_resources" in whole.frozen
    for parts in (2, 3, 7):
        cut, joined = _in_parts(src, parts)
        assert len(cut) == parts
        assert joined is not None
        _same(joined, whole)
    # the locators are the whole file's line numbers, in every part
    assert max(int(x[5:]) for x in whole.arrow("observations").column("_locator").to_pylist()) > 40


def test_a_key_in_two_parts_is_not_joined_and_the_ingest_parses_the_file_whole(
        tmp_path: Path, small_parts: None) -> None:
    folder = tmp_path / "bed"
    folder.mkdir()
    (folder / "Patient.ndjson").write_bytes(b"".join(orjson.dumps(
        {"resourceType": "Patient", "id": f"p{k}", "gender": "female", "birthDate": "1950-03-04"}) + b"\n"
        for k in range(7)))
    many = [_obs(i) for i in range(60)]
    _file(folder / "Observation.000.ndjson", [*many, _obs(3, value=9.9)])  # last part repeats a key, differently
    _file(folder / "Observation.001.ndjson", [*many, many[0]])  # an identical repeat in another part
    for name in ("Observation.000.ndjson", "Observation.001.ndjson"):
        src = SourceFile(folder / name, name, "fhir-ndjson", "observation")
        assert _in_parts(src, 2)[1] is None
    with Store(tmp_path / "serial.duckdb") as serial, Store(tmp_path / "parallel.duckdb") as par:
        rep_s = ingest([folder], serial, workers=1)
        rep_p = ingest([folder], par, workers=2)
        assert [f.as_json() for f in rep_p.files] == [f.as_json() for f in rep_s.files]
        assert snapshot(par) == snapshot(serial)
        assert [(f.read, f.stored, f.quarantined) for f in rep_p.files] == [(7, 7, 0), (61, 60, 1), (61, 61, 0)]


def test_a_duplicate_met_inside_a_part_is_not_joined(tmp_path: Path, small_parts: None) -> None:
    src = _file(tmp_path / "o.ndjson", [*[_obs(i) for i in range(30)], _obs(29, value=1.0)])
    assert _in_parts(src, 2)[1] is None  # o29 twice, both in the last part


def test_spans_cut_at_line_starts_and_cover_the_file(tmp_path: Path, small_parts: None) -> None:
    src = _file(tmp_path / "o.ndjson", [_obs(i) for i in range(25)])
    data = src.path.read_bytes()
    for parts in (1, 2, 4, 25, 1000):
        cut = file_parts.spans(src, parts)
        assert cut[0][0] == 0 and cut[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in zip(cut, cut[1:], strict=False))
        assert all(data[s - 1:s] == b"\n" for s, _ in cut[1:])
        # cuts snap forward to the next line start, so two may meet (then one part fewer)
        assert len(cut) == parts if parts <= 4 else 4 < len(cut) <= 25
    gz = tmp_path / "o.ndjson.gz"
    gz.write_bytes(gzip.compress(data))
    assert file_parts.spans(SourceFile(gz, gz.name, "fhir-ndjson", "observation"), 4) == [(0, gz.stat().st_size)]
    csv = tmp_path / "activities.csv"
    csv.write_bytes(data)
    assert len(file_parts.spans(SourceFile(csv, csv.name, "csv", "activities"), 4)) == 1


def test_a_small_file_is_one_part(tmp_path: Path) -> None:
    src = _file(tmp_path / "o.ndjson", [_obs(i) for i in range(25)])
    assert file_parts.spans(src, 8) == [(0, src.path.stat().st_size)]
