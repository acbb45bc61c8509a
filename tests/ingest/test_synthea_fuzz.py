"""Fuzz: random damage to rows of a valid Synthea encounters file never loses or invents a row."""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store

HEADER = ["Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER", "ENCOUNTERCLASS", "CODE",
          "DESCRIPTION", "BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST", "PAYER_COVERAGE", "REASONCODE",
          "REASONDESCRIPTION"]
ROWS = [[f"enc-{i:04d}", f"2020-01-{i + 1:02d}T10:00:00Z", f"2020-01-{i + 1:02d}T10:30:00Z", "pat-1", "org-1",
         "prov-1", "payer-1", "ambulatory", "185345009", "Encounter for symptom", "77.49", "120.5", "0", "", ""]
        for i in range(8)]

mutation = st.tuples(
    st.integers(0, len(ROWS) - 1),
    st.sampled_from(["cell", "drop", "add"]),
    st.integers(0, len(HEADER) - 1),
    st.text(alphabet=st.sampled_from(list("0123456789-:TZ.,\"\n abcé") + ["\ufffd"]), max_size=12),
)


_STORE: list[Store] = []


def _store() -> Store:
    if not _STORE:
        _STORE.append(Store(":memory:"))
    return _STORE[0]


def render(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(HEADER)
    w.writerows(rows)
    return buf.getvalue()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, max_size=6))
def test_damaged_rows_are_quarantined_and_the_rest_stored(mutations: list[tuple[int, str, int, str]]) -> None:
    rows = [list(r) for r in ROWS]
    touched: set[int] = set()
    for i, how, col, text in mutations:
        touched.add(i)
        if how == "cell":
            rows[i][min(col, len(rows[i]) - 1)] = text
        elif how == "drop":
            del rows[i][min(col, len(rows[i]) - 1)]
        else:
            rows[i].insert(col, text)
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp) / "export"
        d.mkdir()
        (d / "patients.csv").write_text("Id,BIRTHDATE,GENDER\npat-1,1950-01-01,F\n")
        text = render(rows)
        (d / "encounters.csv").write_text(text)
        store = _store()  # one store for all examples: re-ingesting a file replaces its rows
        report = ingest([d], store)
        f = {Path(r.source).name: r for r in report.files}["encounters.csv"]
        expected_rows = sum(1 for r in csv.reader(io.StringIO(text)) if r) - 1
        assert f.read == expected_rows == len(ROWS)
        assert f.read == f.stored + f.quarantined
        stored = {r[0] for r in store.con.execute("SELECT encounter_id FROM encounters").fetchall()}
        damaged_text = "".join("".join(rows[i]) for i in touched)
        for i, r in enumerate(ROWS):
            if i not in touched and r[0] not in damaged_text:
                assert r[0] in stored, (i, text)
        assert len(stored) <= f.stored
