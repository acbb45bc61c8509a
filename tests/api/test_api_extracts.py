"""Extracts: each aggregate table as CSV or Parquet for the aggregate roles only, the same rows as
the JSON route, never a cell under 11 nor a record identifier, and every extract audited."""

from __future__ import annotations

import csv
import io

import pyarrow.parquet as pq
import pytest

from carevalue.queries.privacy import MARK

V1 = "/api/v1"
COUNTS = ("patients", "outcome_patients", "cost_patients", "n", "cycles_not_costed", "events")


@pytest.mark.parametrize("name", ["costs", "outcomes", "value", "payment"])
def test_an_analyst_csv_extract_is_the_json_rows_with_no_cell_under_11(client, as_, name) -> None:
    r = client.get(f"{V1}/extracts/{name}?format=csv", headers=as_("ana"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert f"carevalue-{name}.csv" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    whole = client.get(f"{V1}/{name}?limit=1000", headers=as_("ana")).json()
    assert len(rows) == whole["total"] > 0
    assert "patient_id" not in rows[0] and "cycle_id" not in rows[0]
    for row in rows:
        for col in COUNTS:
            v = row.get(col)
            assert v in (None, "", MARK) or float(v) == 0 or float(v) >= 11, (name, col, row)
    assert any(row["suppressed"] == "True" for row in rows) or name == "payment"


def test_a_payer_parquet_extract_is_typed_with_small_cells_null(client, as_) -> None:
    r = client.get(f"{V1}/extracts/costs?format=parquet", headers=as_("pay"))
    assert r.status_code == 200 and r.headers["content-type"] == "application/vnd.apache.parquet"
    t = pq.read_table(io.BytesIO(r.content)).to_pylist()
    whole = client.get(f"{V1}/costs?limit=1000", headers=as_("pay")).json()["items"]
    assert len(t) == len(whole)
    for row, same in zip(t, whole, strict=True):
        assert row["patients"] is None if same["patients"] == MARK else row["patients"] == same["patients"]
        assert row["patients"] is None or row["patients"] >= 11
        assert row["suppressed"] == same["suppressed"]


@pytest.mark.parametrize("user", ["pat", "nei"])
def test_patients_get_no_extract_and_every_extract_is_audited(client, as_, user) -> None:
    r = client.get(f"{V1}/extracts/value", headers=as_(user))
    assert r.status_code == 403
    denied = client.app.state.carevalue.audit.entries(username=user, limit=1000)
    assert any(e["action"] == "extract value" and e["outcome"] == "denied" for e in denied)
    client.get(f"{V1}/extracts/payment?format=parquet", headers=as_("emp"))
    log = client.app.state.carevalue.audit.entries(username="emp", limit=1000)
    assert any(e["action"] == "extract payment (parquet)" and e["outcome"] == "allowed" for e in log)
    assert client.get(f"{V1}/extracts/patients", headers=as_("ana")).status_code == 422
