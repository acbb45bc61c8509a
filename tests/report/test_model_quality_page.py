"""The model-quality page on the synthetic store: it renders, prints no count of 1..10, shows the
status and no c-statistic where the model is not supported, gives every shown comparison its events
and parameters, draws calibration plots only from supported comparisons, and names the command
when the outcome tables are missing."""

from __future__ import annotations

import ibis
import pytest
from _pages import SMALL, SMALL_IN_TEXT, body, cells, page_of

from carevalue.queries.privacy import MARK
from carevalue.report import model_quality as page
from carevalue.report.layout import Report
from carevalue.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(synthetic_workspace):  # type: ignore[no-untyped-def]
    rep = Report()
    sec = page.section(synthetic_workspace, rep)
    return rep, sec, page_of(sec)


def _rows(rep: Report) -> list[dict]:
    return [r for k, rows in rep.tables.items() if k.startswith("model-quality-") for r in rows]


def test_section_renders_with_a_table_per_condition(built) -> None:  # type: ignore[no-untyped-def]
    rep, sec, html = built
    assert sec.computed and '<section id="model-quality" data-computed="yes"' in html
    rows = _rows(rep)
    assert rows and {r["status"] for r in rows} >= {"ok", "insufficient data"}
    assert "c-statistic (95% CI)" in html and "calibration slope" in html and "<th>EPV</th>" in html


def test_no_count_of_one_to_ten_anywhere(built) -> None:  # type: ignore[no-untyped-def]
    _, _, html = built
    counted = [(h, c) for h, c in cells(html) if h in ("cycles (n)", "events (limiting)", "at risk", "providers")]
    assert counted
    assert not [(h, c) for h, c in counted if h != "providers" and SMALL.fullmatch(c.replace(",", ""))]
    assert any(c == "&lt;11" for _, c in counted)  # 400 patients leave small comparisons to hide
    assert not SMALL_IN_TEXT.search(body(html))


def test_unsupported_rows_show_their_status_and_no_statistic(built) -> None:  # type: ignore[no-untyped-def]
    rep, _, html = built
    bad = [r for r in _rows(rep) if r["status"] != "ok"]
    assert bad
    for r in bad:
        assert r["c_statistic"] in ("", "—") and r["calibration_slope"] in (None,)
        assert r["reason"]
    shown = [(h, c) for h, c in cells(html) if h in ("status", "c-statistic (95% CI)")]
    pairs = list(zip(shown[::2], shown[1::2], strict=True))
    for (_, status), (_, c) in pairs:
        if status != "ok":
            assert not any(ch.isdigit() for ch in c), (status, c)


def test_every_shown_comparison_has_events_and_parameters(built) -> None:  # type: ignore[no-untyped-def]
    rep, _, _ = built
    ok = [r for r in _rows(rep) if r["status"] == "ok"]
    assert ok
    for r in ok:
        assert r["events"] == MARK or float(r["events"]) >= 11
        assert r["parameters"] is not None
        if not r["suppressed"] and r["parameters"]:
            assert r["events_per_parameter"] == pytest.approx(float(r["events"]) / r["parameters"])


def test_calibration_plots_only_for_supported_comparisons(synthetic_workspace, built) -> None:  # type: ignore[no-untyped-def]
    rep, _, _ = built
    ok = {page.measure_label(r) for r in _rows(rep) if r["status"] == "ok" and not r["suppressed"]}
    for key, fig in rep.figures.items():
        assert key.startswith("calibration-")
        assert fig.layout.title.text in ok
        pts = fig.data[1]
        assert len(pts.x) >= 2 and all(0 <= v <= 1 for v in [*pts.x, *pts.y])


def test_missing_tables_name_the_command() -> None:
    ws = Workspace.on_connection(ibis.duckdb.connect())
    sec = page.section(ws, Report())
    assert not sec.computed and "outcome_comparison" in sec.note and "carevalue run" in sec.note
