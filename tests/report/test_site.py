"""The report as a site on the synthetic store: every expected page exists and every link between
pages resolves; every page is valid HTML (html5lib strict) and prints no count of 1..10; the value
chain and outcome hierarchy follow the template; a composite appears only where content gives its
weights; the methods page names the thresholds the content holds (change one, the page changes);
`carevalue report --out DIR` writes the site and `--out x.html` the single file."""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from _pages import SMALL, SMALL_IN_TEXT, body, cells
from typer.testing import CliRunner

from carevalue.cli import app
from carevalue.definitions.phases import PHASES
from carevalue.engine.risk.intervals import LEVELS, MIN_PROVIDERS_FOR_OVERDISPERSION
from carevalue.queries.privacy import THRESHOLD
from carevalue.report import build_site, methods
from carevalue.report.build import render
from carevalue.report.layout import Report
from carevalue.report.site import PLOTLY_FILE, condition_page_name, segment_page_name
from carevalue.workspace import Workspace

pytestmark = pytest.mark.slow
COUNT_HEADERS = ("patients", "events", "censored", "cycles", "transitions", "values", "scores", "observed", "episodes")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.hrefs.append(str(a["href"]))
        if a.get("src"):
            self.srcs.append(str(a["src"]))


def _parse(page: str) -> _Links:
    p = _Links()
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def site(synthetic_workspace, tmp_path_factory: pytest.TempPathFactory) -> Path:  # type: ignore[no-untyped-def]
    index = build_site(synthetic_workspace, tmp_path_factory.mktemp("site") / "report")
    assert index.is_absolute() and index.name == "index.html"
    return index.parent


def _pages(site: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(site.glob("*.html"))}


def test_every_expected_page_exists_and_links_resolve(site: Path, synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    lib = synthetic_workspace.library
    expected = {"index.html", "methods.html", *(condition_page_name(c) for c in lib.kind("conditions")),
                *(segment_page_name(s) for s in lib.kind("segments"))}
    pages = _pages(site)
    assert expected <= set(pages), expected - set(pages)
    assert (site / PLOTLY_FILE).stat().st_size > 1_000_000  # plotly.js from the package, written once
    parsed = {name: _parse(page) for name, page in pages.items()}
    for name, p in parsed.items():
        assert p.srcs == [PLOTLY_FILE], (name, p.srcs)  # the only script loaded, relatively
        assert set(expected) <= {h.split("#")[0] for h in p.hrefs}, name  # navigation to every page
        for href in p.hrefs:
            assert not re.match(r"^[a-z]+:", href), (name, href)  # no http:, file:, javascript: links
            target, _, anchor = href.partition("#")
            target = target or name
            assert target in pages, (name, href)
            assert not anchor or anchor in parsed[target].ids, (name, href)


def test_every_page_is_valid_html(site: Path) -> None:
    html5lib = pytest.importorskip("html5lib")
    for name, page in _pages(site).items():
        parser = html5lib.HTMLParser(strict=True)
        parser.parse(page)  # raises on the first parse error
        assert parser.errors == [], name


def test_no_page_prints_a_count_of_one_to_ten(site: Path) -> None:
    hidden = 0
    for name, page in _pages(site).items():
        counts = [(h, c) for h, c in cells(page) if any(w in h for w in COUNT_HEADERS)]
        small = [(h, c) for h, c in counts if SMALL.fullmatch(c.replace(",", ""))]
        assert not small, (name, small[:5])
        assert not SMALL_IN_TEXT.search(body(page)), (name, SMALL_IN_TEXT.search(body(page)))
        hidden += sum(c == "&lt;11" for _, c in counts)
    assert hidden  # 400 patients leave small cells to hide, on the pages as in the single file


def test_value_chain_and_outcome_hierarchy_follow_the_template(site: Path, synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    lib = synthetic_workspace.library
    for cid, tpl in lib.kind("conditions").items():
        page = (site / condition_page_name(cid)).read_text(encoding="utf-8")
        drawn = re.findall(r'class="phase" style="[^"]*" data-phase="([a-z-]+)"', page)
        steps = lib.get("process_maps", tpl.process_map).steps if tpl.process_map else []
        phases = {ph.phase for ph in tpl.phases} | {s.phase for s in steps}
        assert drawn == [p for p in PHASES if p in phases], cid  # care order, every phase with a step
        for ph in tpl.phases:
            for act in ph.activities:
                assert act.replace("&", "&amp;") in page or act in page, (cid, act)
        if tpl.process_map:
            for step in lib.get("process_maps", tpl.process_map).steps:
                assert step.description.replace("&", "&amp;").replace("'", "&#x27;") in page, (cid, step.step_code)
        tiers = re.split(r'<div class="tier" ', page)[1:]
        assert [t[t.index('data-tier="') + 11] for t in tiers] == ["1", "2", "3"]
        for m in tpl.outcomes:
            band = tiers[m.tier - 1]
            assert m.title.replace("&", "&amp;").replace("'", "&#x27;") in band, (cid, m.id)


def test_composite_only_where_content_gives_weights(site: Path, synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    from carevalue.queries.scorecard import library_composites

    with_weights = {c.condition for c in library_composites(synthetic_workspace.library)}
    assert with_weights
    for cid in synthetic_workspace.library.kind("conditions"):
        page = (site / condition_page_name(cid)).read_text(encoding="utf-8")
        assert ("Composite scores (explicit weights from content)" in page) == (cid in with_weights), cid
    for c in library_composites(synthetic_workspace.library):
        page = (site / condition_page_name(c.condition)).read_text(encoding="utf-8")
        total = sum(w.weight for w in c.weights)
        for w in c.weights:
            assert f"{w.weight / total:.3f}" in page and w.source in page


def test_funnel_points_carry_provider_names() -> None:
    import pandas as pd

    from carevalue.engine.risk.funnel import funnel
    from carevalue.report import figures

    counts = pd.DataFrame({"provider": ["a", "b", "c"], "n": [100.0, 120.0, 300.0],
                           "observed": [10.0, 11.0, 30.0], "expected": [10.0, 10.5, 29.0]})
    names = {"a": "Riverside University Medical Centre", "b": "Southvale Community Hospital", "c": "C"}
    fig = figures.funnel_figure(funnel(counts, "ratio"), "t", names=names)
    pts = fig.data[-1]
    assert list(pts.text) == [names[p] for p in counts["provider"]]
    assert pts.mode == "markers+text" and pts.cliponaxis is False and "%{text}" in pts.hovertemplate
    assert fig.layout.margin.r >= 7 * len(names["a"])  # room for the longest label beside its point
    # a and b sit close together (expected 10 and 10.5, O/E 1.0 and 1.05): one label above, one below
    assert sorted(pts.textposition[:2]) == ["bottom right", "top right"] and pts.textposition[2] == "middle right"


def _methods_page(ws: Workspace) -> str:
    return render(Report(sections=[methods.section(ws, Report())]), "test.duckdb")


def test_methods_states_the_thresholds_and_follows_the_content(synthetic_workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = _methods_page(synthetic_workspace)
    assert f"&lt;{THRESHOLD}" in page and f"1–{THRESHOLD - 1} patients" in page
    assert " and ".join(f"{lv:.1%}" for lv in LEVELS) in page  # 95.0% and 99.8%
    assert f"at least {MIN_PROVIDERS_FOR_OVERDISPERSION} providers" in page
    for word in ("Cox", "exact Poisson", "winsorised", "complementary", "Σ minutes × capacity cost rate",
                 "Stockholm", "G-BA", "Leapfrog", "CMS Star Rating"):
        assert word.replace("&", "&amp;") in page, word
    # a temp content folder overriding one standard's threshold and one composite weight
    packaged = Path(methods.__file__).parents[1] / "content"
    std = yaml.safe_load((packaged / "standards" / "g-ba-mindestmengen.yaml").read_text())
    knee = next(t for t in std["thresholds"] if t["id"] == "knee-tep")
    knee["minimum"] = 4321
    (tmp_path / "standards").mkdir()
    (tmp_path / "standards" / "g-ba-mindestmengen.yaml").write_text(yaml.safe_dump(std, allow_unicode=True))
    comp = yaml.safe_load((packaged / "scorecard-sets" / "hip-composites.yaml").read_text())
    comp["composites"][0]["weights"][0]["weight"] = 44
    (tmp_path / "scorecard-sets").mkdir()
    (tmp_path / "scorecard-sets" / "hip-composites.yaml").write_text(yaml.safe_dump(comp, allow_unicode=True))
    ws = Workspace.open(synthetic_workspace.store, content=[tmp_path])
    try:
        changed = _methods_page(ws)
    finally:
        ws.close()
    assert "4,321" in changed and "4,321" not in page
    assert "0.500" in changed and "0.250" in changed and "0.500" not in page  # 44 / 88, 22 / 88
    assert str(tmp_path) in changed  # the page names the content folder it read


def test_cli_writes_the_site_or_the_single_file(synthetic_workspace, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    s = str(synthetic_workspace.store)
    res = CliRunner().invoke(app, ["report", "--store", s, "--out", str(tmp_path / "site")])
    assert res.exit_code == 0, res.stderr
    assert (tmp_path / "site" / "index.html").exists() and (tmp_path / "site" / "methods.html").exists()
    assert str((tmp_path / "site" / "index.html").resolve()) in res.stdout.replace("\n", "")
    res = CliRunner().invoke(app, ["report", "--store", s, "--out", str(tmp_path / "one.html")])
    assert res.exit_code == 0, res.stderr
    one = (tmp_path / "one.html").read_text(encoding="utf-8")
    assert one.count('<script type="text/javascript">/**') == 1 and not (tmp_path / PLOTLY_FILE).exists()
    shutil.rmtree(tmp_path / "site")


CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).parents[2] / "build" / "screenshots"


@pytest.mark.skipif(not Path(CHROMIUM).exists() and not shutil.which("chromium"), reason="Debian chromium not installed")
def test_every_page_opens_offline_within_the_page_width(site: Path) -> None:
    """Chromium opens each page from disk with every non-file request aborted: none is attempted,
    every plotly figure draws (plotly.min.js loaded relatively), and nothing runs past the page
    width (wide tables scroll inside their container)."""
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
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        pg.route("**/*", guard)
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        for name in _pages(site):
            pg.goto((site / name).as_uri(), wait_until="load")
            figs = pg.locator(".plotly-graph-div").count()
            if figs:
                pg.wait_for_function(f"document.querySelectorAll('.plotly-graph-div .main-svg').length >= {figs}")
            width = pg.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            assert width[0] <= width[1], (name, width)
            if name in ("index.html", "methods.html") or name.startswith(("condition-hip", "segment-chronic")):
                pg.screenshot(path=str(SHOTS / f"site-{name.removesuffix('.html')}.png"))
        browser.close()
    assert attempted == [] and errors == []
