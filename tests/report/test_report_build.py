"""End-to-end: a synthetic store through a Workspace into the HTML report; sections present, plotly
inline once, no count of 1..10 printed, sections without their tables name the command, and the
report says what it cannot know (censoring, the waterfall's total, the currency)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from carevalue.report import assemble, build_report
from carevalue.report.build import render
from carevalue.workspace import Workspace

pytestmark = pytest.mark.slow

SECTIONS = ("data", "organise", "cost", "outcomes", "value")
COUNT_HEADERS = ("patients", "events", "censored", "cycles", "transitions", "values", "scores", "observed")


@pytest.fixture(scope="module")
def report(synthetic_workspace):  # type: ignore[no-untyped-def]
    rep = assemble(synthetic_workspace)
    return rep, render(rep, "test.duckdb")


def _cells(page: str) -> list[tuple[str, str]]:
    """(header, cell text) for every cell of every table."""
    out = []
    for t in re.findall(r"<table>.*?</table>", page, flags=re.S):
        heads = [re.sub("<.*?>", "", h) for h in re.findall(r"<th>(.*?)</th>", t)]
        for row in re.findall(r"<tr>(.*?)</tr>", t, flags=re.S)[1:]:
            cells = [re.sub("<.*?>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]
            out += list(zip(heads, cells, strict=False))
    return out


def test_sections_and_offline_plotly(synthetic_workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = build_report(synthetic_workspace, tmp_path / "r.html")
    assert path.is_absolute() and path.exists()
    page = path.read_text(encoding="utf-8")
    for sid in SECTIONS:
        assert f'<section id="{sid}" data-computed="yes"' in page
    opening = "<script type=\"text/javascript\">/**"
    assert page.count(opening) == 1
    start = page.index(opening)
    outside = page[:start] + page[page.index("</script>", start):]
    assert not re.search(r"<script[^>]+src=", outside) and "cdn.plot.ly" not in outside
    assert "Plotly.newPlot" in outside


def test_no_count_of_one_to_ten_is_printed(report) -> None:  # type: ignore[no-untyped-def]
    _, page = report
    cells = _cells(page)
    counts = [(h, c) for h, c in cells if any(w in h for w in COUNT_HEADERS)]
    assert counts, "the report has count columns"
    small = [(h, c) for h, c in counts if re.fullmatch(r"([1-9]|10)(\.0+)?", c.replace(",", ""))]
    assert not small, small[:10]
    assert any(c == "&lt;11" for _, c in counts)  # 400 patients leave small cells to hide
    # no count of 1..10 in any sentence either (the legend's range "1–10 patients" excepted)
    assert not re.search(r"(?<![–-])\b([1-9]|10) (patients|cycles|events)\b", page)


def test_waterfall_total_bar_labelled_with_its_value(report) -> None:  # type: ignore[no-untyped-def]
    rep, _ = report
    falls = {k: f for k, f in rep.figures.items() if k.startswith("waterfall-")}
    assert falls
    for f in falls.values():
        tr = f.data[0]
        assert list(tr.x)[-1] == "total"
        total = sum(tr.y[:-1])
        assert tr.y[-1] == pytest.approx(total, abs=0.05)
        assert tr.text[-1] == f"{tr.y[-1]:,.0f}" and tr.text[-1] != "0"


def test_costs_carry_the_policy_currency(report) -> None:  # type: ignore[no-untyped-def]
    rep, page = report
    assert "cost per cycle (USD)" in page and "All costs in USD" in page
    assert all("USD" in f.layout.yaxis.title.text for k, f in rep.figures.items() if k.startswith("cost-"))


def test_censoring_is_stated_for_survival_measures(report) -> None:  # type: ignore[no-untyped-def]
    _, page = report
    assert "censored (follow-up ended before the time point)" in page
    assert "Kaplan-Meier" in page


def test_sections_without_tables_name_the_command(synthetic_workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = tmp_path / "ingest-only.duckdb"
    src = synthetic_workspace.store.parent / "population" / "source"
    Workspace.open(db, must_exist=False).ingest([src])
    with Workspace.open(db) as ws:
        page = render(assemble(ws), db.name)
    assert 'id="data" data-computed="yes"' in page
    for sid in ("organise", "cost", "outcomes", "value"):
        assert f'id="{sid}" data-computed="no"' in page
    assert "carevalue run --store" in page and "stage cycles" in page and "stage outcomes" in page
