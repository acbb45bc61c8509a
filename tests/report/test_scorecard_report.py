"""The report's value-scorecard section over the dashboard fixture (its arithmetic in
tests/web/dashboard_fixture.py): the value frontier, funnel and CUSUM figures draw only the providers
shown, the frontier is the cheaper-and-better set; the whole report is valid HTML (html5lib's strict
parser) and, opened from disk in Chromium, makes no network request."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "web"))
import dashboard_fixture as fx  # noqa: E402

from carevalue.report import build_report, figures  # noqa: E402
from carevalue.report import scorecard as page  # noqa: E402
from carevalue.report.layout import Report  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parents[2] / "build" / "screenshots"
C = fx.CONDITION


@pytest.fixture(scope="module")
def ws():  # type: ignore[no-untyped-def]
    from carevalue.workspace import Workspace

    return Workspace.on_connection(fx.build())


@pytest.fixture(scope="module")
def section(ws):  # type: ignore[no-untyped-def]
    rep = Report()
    return page.section(ws, rep), rep


@pytest.fixture(scope="module")
def report_file(ws, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    return build_report(ws, tmp_path_factory.mktemp("report") / "report.html")


def test_frontier_is_the_cheaper_and_better_set() -> None:
    pts = pd.DataFrame({"provider": ["a", "b", "c", "d"], "cost": [100.0, 120.0, 130.0, 90.0],
                        "outcome": [0.2, 0.1, 0.15, 0.3], "patients": [20, 20, 20, 20]})
    # by cost: d (0.30) frontier; a (0.20 < 0.30) frontier; b (0.10) frontier; c (0.15 > 0.10) dominated by b
    assert figures.frontier_providers(pts, higher_better=False) == ["d", "a", "b"]
    assert figures.frontier_providers(pts, higher_better=True) == ["d"]  # nothing costlier beats 0.30


def test_frontier_of_the_fixture(section) -> None:  # type: ignore[no-untyped-def]
    sec, rep = section
    fig = rep.figures[f"frontier-{C}"]
    points = fig.data[0]
    # org-a (complement of org-tiny) and org-tiny are <11: not drawn
    assert list(points.text) == ["org-b", "org-c"]
    # org-b's cycle costs 7,500 × 1.1 = 8,250, org-c's 7,500; org-c also has the shorter risk-adjusted stay
    assert list(points.x) == [8250.0, 7500.0] and points.y[1] < points.y[0]
    assert list(points.marker.size) == [60, 60]
    intro = next(b.intro for b in sec.blocks if b.title.startswith(f"{C}: value frontier"))
    assert "Length of hospital stay @ discharge" in intro and intro.endswith("org-c. One outcome at a time — never an index.")
    assert fig.layout.xaxis.automargin and fig.data[0].cliponaxis is False  # labels never cut


def test_funnel_and_cusum_of_the_readmissions(section) -> None:  # type: ignore[no-untyped-def]
    sec, rep = section
    titles = [b.title for b in sec.blocks]
    assert f"{C}: funnel plot — Readmission within 30 days @ 30 days" in titles
    cusum = rep.figures[f"cusum-{C}"]
    lines = [t for t in cusum.data if t.mode == "lines"]
    assert [t.name for t in lines] == ["org-b", "org-c"]
    assert [len(t.x) for t in lines] == [60, 60]  # every cycle of the two shown providers, in time order
    assert any(s.y0 == page.CUSUM_H for s in cusum.layout.shapes)
    text = next(b.intro for b in sec.blocks if "CUSUM" in b.title)
    assert "org-b:" in text and "org-c:" in text


def test_outcome_table_hides_small_cells(section) -> None:  # type: ignore[no-untyped-def]
    _, rep = section
    rows = rep.tables[f"scorecard-{C}"]
    tiny = [r for r in rows if r["organization_id"] == "org-tiny"]
    assert tiny and all(r["patients"] == "<11" and r["oe"] is None for r in tiny)


def test_no_count_of_one_to_ten_in_a_sentence(section) -> None:  # type: ignore[no-untyped-def]
    import re

    _, rep = section
    reasons = [str(r["reason"]) for r in rep.tables[f"scorecard-{C}"] if r.get("reason")]
    # the fixture's 7 deaths: the stored reason says "7 events: fewer than 10"; shown as <11 events
    assert any(r.startswith("<11 events") for r in reasons), reasons
    assert not any(re.search(r"\b([1-9]|10) (patients|cycles|events)\b", r) for r in reasons)


def test_the_report_is_valid_html(report_file: Path) -> None:
    html5lib = pytest.importorskip("html5lib")
    parser = html5lib.HTMLParser(strict=True)
    parser.parse(report_file.read_text(encoding="utf-8"))  # raises on the first parse error
    assert parser.errors == []


@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"), reason="Debian chromium not installed")
def test_the_report_makes_no_network_request(report_file: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    attempted: list[str] = []

    def guard(route: Route) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            attempted.append(route.request.url)
            route.abort()

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.route("**/*", guard)
        pg.goto(report_file.as_uri())
        pg.wait_for_selector(f"#fig-frontier-{C} .main-svg")
        pg.wait_for_selector(f"#fig-cusum-{C} .main-svg")
        pg.locator("#scorecards").screenshot(path=str(SHOTS / "report-scorecards.png"))
        browser.close()
    assert attempted == []
