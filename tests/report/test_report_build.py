"""End-to-end: a 600-patient synthetic population through ingest and the engine into the HTML
report; sections present, plotly inline once, small cells (<11 patients) never shown."""

from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import duckdb
import pandas as pd
import pytest

pytestmark = pytest.mark.slow  # ~2 min of CPU: synth + ingest + engine on 600 patients

synth = pytest.importorskip("carevalue.synth")

from carevalue.backends import connect  # noqa: E402
from carevalue.engine import readouts as ro  # noqa: E402
from carevalue.report.build import assemble, build_report, money, ratio, render  # noqa: E402

SECTIONS = ("data", "organise", "cost", "outcomes", "value")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from carevalue.engine.pipeline import run_all

    from carevalue.cli.ingest import run_ingest

    out = tmp_path_factory.mktemp("report")
    warnings.filterwarnings("ignore")
    synth.generate(patients=600, seed=7, out=out / "population")
    db = out / "carevalue.duckdb"
    run_ingest([out / "population" / "source"], db)
    run_all(db, out)
    return db


@pytest.fixture(scope="module")
def report(store: Path) -> tuple[object, str]:
    rep = assemble(store)
    return rep, render(rep, store.name)


def _block(page: str, title: str) -> str:
    """The HTML between the <h3> titled ``title`` and the next <h3>/<section>."""
    start = page.index(f"<h3>{title}</h3>")
    ends = [i for i in (page.find("<h3>", start + 4), page.find("</section>", start)) if i > 0]
    return page[start:min(ends)]


def _row(block: str, label: str) -> str:
    rows = [r for r in re.findall(r"<tr>.*?</tr>", block, flags=re.S) if f"<td>{label}</td>" in r]
    assert len(rows) == 1, f"expected one row for {label}"
    return rows[0]


def test_sections_and_offline_plotly(store: Path, tmp_path: Path) -> None:
    path = build_report(store, tmp_path / "r.html")
    assert path.is_absolute() and path.exists()
    page = path.read_text(encoding="utf-8")
    for sid in SECTIONS:
        assert f'<section id="{sid}"' in page
    # plotly.js inline exactly once; no CDN or other external script
    opening = "<script type=\"text/javascript\">/**"
    assert page.count(opening) == 1
    start = page.index(opening)
    outside = page[:start] + page[page.index("</script>", start):]  # the page without plotly.js
    assert not re.search(r"<script[^>]+src=", outside) and "cdn.plot.ly" not in outside
    assert "Plotly.newPlot" in outside


def test_data_and_cost_sections_filled(report: tuple[object, str]) -> None:
    rep, page = report
    assert 'id="data" data-computed="yes"' in page and "Reconciliation per source file" in page
    assert 'id="cost" data-computed="yes"' in page
    assert "Resource utilisation" in page and "Cost-reduction opportunities" in page
    assert any(k.startswith("waterfall-") for k in rep.figures)  # type: ignore[attr-defined]
    assert "charges per cycle (not cost)" in page


def test_outcomes_not_computed_without_tables(store: Path, tmp_path: Path) -> None:
    db = tmp_path / "no-outcomes.duckdb"
    shutil.copy(store, db)
    con = duckdb.connect(str(db))
    for t in ("outcome_comparison", "outcome_values", "prom_scores"):
        con.execute(f"drop table if exists {t}")
    con.close()
    page = render(assemble(db), db.name)
    assert 'id="outcomes" data-computed="no"' in page and "Outcomes not computed" in page
    assert 'id="value" data-computed="no"' in page
    assert 'id="cost" data-computed="yes"' in page


def test_small_provider_cost_suppressed(store: Path, report: tuple[object, str]) -> None:
    rep, page = report
    con = connect(store)
    pc = ro.provider_cost_table(con)
    con.disconnect()
    small = pc[(pc["patients"] > 0) & (pc["patients"] < 11) & (pc["cycle_type"] == "acute")]
    assert not small.empty, "600 patients should leave some provider with < 11 patients"
    r = small.iloc[0]
    block = _block(page, f"{r['condition']}: cost per cycle by provider")
    row = _row(block, str(r["facility"]))
    assert "&lt;11" in row
    assert money(r["cost_per_cycle"]) not in row and f"<td class='num'>{int(r['cycles'])}</td>" not in row
    fig = rep.figures.get(f"cost-{r['condition']}")  # type: ignore[attr-defined]
    if fig is not None:
        for tr in fig.data:
            assert r["facility"] not in list(tr.x or [])
    # every row of every cost table describing 1..10 patients is masked
    for cond, g in pc.groupby("condition"):
        blk = _block(page, f"{cond}: cost per cycle by provider")
        for _, s in g[(g["patients"] > 0) & (g["patients"] < 11)].iterrows():
            assert money(s["cost_per_cycle"]) not in _row(blk, str(s["facility"]))


def test_engine_outcomes_small_providers_suppressed(store: Path, report: tuple[object, str]) -> None:
    """With the outcomes stage's own table: every provider row of < 11 patients shows <11 only."""
    con = connect(store)
    if not ro.has_tables(con, ["outcome_comparison"]):
        con.disconnect()
        pytest.skip("outcomes stage not in this engine")
    comp = ro.outcome_comparison(con)
    con.disconnect()
    rep, page = report
    assert 'id="outcomes" data-computed="yes"' in page
    prov = comp[comp["provider"].notna()]
    for key, frame in rep.tables.items():  # type: ignore[attr-defined]
        if not key.startswith("outcome-") or key == "outcome-status" or "n" not in frame.columns:
            continue
        shown = frame[frame["patients"] != "<11"]
        assert (pd.to_numeric(shown["patients"]) >= 11).all(), key
        small = frame[frame["patients"] == "<11"]
        assert (small["n"] == "<11").all(), key
        assert (small["oe_ratio"] == "<11").all() and (small["oe_lower"] == "<11").all(), key
    assert ((prov["patients"] < 11).sum() == 0) or page.count("&lt;11") > 0
    # n counts cycles: a chronic provider row can have n >= 11 from fewer than 11 patients
    assert (prov["patients"] <= prov["n"]).all()


def test_constructed_outcomes_and_small_provider(store: Path, tmp_path: Path) -> None:
    """An outcome_comparison table written by hand in the engine's schema: a big provider and one
    with 5 patients whose distinctive O/E (3.1416) must not appear; sections 4 and 5 are filled."""
    db = tmp_path / "with-outcomes.duckdb"
    shutil.copy(store, db)
    con = duckdb.connect(str(db))
    provs = con.execute(
        "select organization_id, count(distinct patient_id) n from cycle_cost_totals "
        "where condition = 'type-2-diabetes' group by 1 order by n desc").fetchall()
    assert len(provs) >= 2 and provs[0][1] >= 11
    big, tiny = provs[0][0], provs[1][0]
    base = {"condition": "type-2-diabetes", "measure": "mortality", "time_point": "1 year",
            "scale": None, "statistic": "O/E events", "model": "logistic", "status": "ok",
            "message": ""}
    rows = pd.DataFrame([
        {**base, "organization_id": big, "n": 150.0, "observed": 12.0, "expected": 10.0, "oe": 1.2,
         "ci_low": 0.62, "ci_high": 2.1, "flag_95": "as expected", "flag_998": "as expected",
         "srtr_flag": "as expected"},
        {**base, "organization_id": tiny, "n": 5.0, "observed": 3.0, "expected": 0.955, "oe": 3.1416,
         "ci_low": 0.65, "ci_high": 9.18, "flag_95": "worse", "flag_998": "as expected",
         "srtr_flag": "worse"},
        {**base, "measure": "hba1c", "organization_id": None, "n": None, "observed": None,
         "expected": None, "oe": None, "ci_low": None, "ci_high": None, "flag_95": None,
         "flag_998": None, "srtr_flag": None, "status": "no-variation",
         "message": "outcome 'event' is never observed in 6 patients: nothing to model"},
    ])
    con.execute("drop table if exists outcome_comparison")
    con.register("oc", rows)
    con.execute("create table outcome_comparison as select * from oc")
    con.close()
    rep = assemble(db)
    page = render(rep, db.name)
    assert 'id="outcomes" data-computed="yes"' in page and 'id="value" data-computed="yes"' in page
    assert "3.1416" not in page
    assert "in 6 patients" not in page and "in &lt;11 patients" in page
    assert "funnel-type-2-diabetes" in rep.figures and "value-type-2-diabetes" in rep.figures
    names = {str(t.text) for f in ("funnel-type-2-diabetes", "value-type-2-diabetes")
             for t in rep.figures[f].data}
    con2 = connect(db)
    tiny_name = ro.with_facility_names(con2, pd.DataFrame({"organization_id": [tiny]}))["facility"][0]
    con2.disconnect()
    assert not any(tiny in n or tiny_name in n for n in names)
    block = _block(page, "type-2-diabetes: All-cause mortality — mortality @ 1 year")
    row = _row(block, str(tiny_name))
    assert "&lt;11" in row and ratio(3.1416) not in row and ratio(9.18) not in row and "worse" not in row
    big_name = ro.with_facility_names(connect(db), pd.DataFrame({"organization_id": [big]}))["facility"][0]
    assert ratio(1.2) in _row(block, str(big_name))  # the big provider is shown
