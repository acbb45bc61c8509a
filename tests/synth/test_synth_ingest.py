"""A synthetic population goes through the real ingest with nothing quarantined."""

from __future__ import annotations

from pathlib import Path

from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store
from carevalue.synth import generate


def test_population_ingests_with_zero_quarantined(tmp_path: Path) -> None:
    generate(patients=400, seed=21, out=tmp_path / "pop")
    with Store(tmp_path / "store.duckdb") as store:
        report = ingest([tmp_path / "pop" / "source"], store)
        counts = dict(store.con.execute(
            "SELECT 'patients', count(*) FROM patients UNION ALL SELECT 'activities', count(*) FROM activities "
            "UNION ALL SELECT 'ipus', count(*) FROM care_teams WHERE category_code = 'ipu'").fetchall())
    quarantined = {f.source: f.reasons for f in report.files if f.quarantined}
    assert quarantined == {}
    assert sum(f.read for f in report.files) == sum(f.stored for f in report.files)
    assert counts["patients"] == 400
    assert counts["activities"] > 0
    assert counts["ipus"] == 7
