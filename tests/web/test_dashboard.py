"""The dashboard over the in-memory store: every page renders, its .json twin carries the rows the
page shows, small cells never print a number, and plotly.js is served from the package."""

from __future__ import annotations

import re

import dashboard_fixture as fx
import pytest
from fastapi.testclient import TestClient

from carevalue.web import deps
from carevalue.web.app import create_dashboard_app

C = fx.CONDITION
PAGES = ["/overview", f"/conditions/{C}", f"/conditions/{C}/providers/org-b", f"/conditions/{C}/comparison",
         f"/conditions/{C}/comparison?measure=length-of-stay&time_point=discharge&level=0.998",
         f"/conditions/{C}/like-you", f"/conditions/{C}/like-you?age=70&asa-class=2", "/segments/chronic"]


@pytest.fixture(scope="module")
def client(dashboard_ws) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(create_dashboard_app(dashboard_ws))


def _json_path(p: str) -> str:
    path, _, query = p.partition("?")
    return path + ".json" + ("?" + query if query else "")


@pytest.mark.parametrize("page", PAGES)
def test_page_and_twin(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200, html.text
    assert "cdn" not in html.text.lower() and "https://" not in html.text
    twin = client.get(_json_path(page))
    assert twin.status_code == 200
    assert _json_path(page) in html.text.replace("&amp;", "&")  # the page links its twin


def test_scorecard_twin_rows_are_the_page_rows(client: TestClient) -> None:
    data = client.get(f"/conditions/{C}.json").json()
    html = client.get(f"/conditions/{C}").text
    body = re.search(r'<table id="costs">.*?</table>', html, re.S).group(0)  # type: ignore[union-attr]
    assert body.count("<tr>") - 1 == len(data["costs"])
    shown = [r for r in data["costs"] if not r["suppressed"]]
    for r in shown:
        assert f"{r['cost_per_cycle']:,.0f}" in body
    assert html.count('class="provider"') >= len(data["outcomes"]) - 1


def test_small_cells_print_no_number(client: TestClient) -> None:
    data = client.get(f"/conditions/{C}/comparison.json").json()
    tiny = next(r for r in data["rows"] if r["organization_id"] == "org-tiny")
    assert tiny["patients"] == "<11" and tiny["oe"] is None and tiny["rank"] is None
    html = client.get(f"/conditions/{C}/comparison").text
    row = re.search(r"<tr>(?:(?!</tr>).)*org-tiny(?:(?!</tr>).)*</tr>", html, re.S).group(0)  # type: ignore[union-attr]
    assert "&lt;11" in row and not re.search(r">\s*5\s*<", row)


def test_comparison_page_shows_methods_and_tiers(client: TestClient) -> None:
    html = client.get(f"/conditions/{C}/comparison").text
    assert "Methods" in html and "Gamma(2 + O, 2 + E)" in html
    assert "worse" in html and "better" in html


def test_like_you_twin_has_the_persons_rows(client: TestClient) -> None:
    data = client.get(f"/conditions/{C}/like-you.json?age=70&asa-class=2").json()
    assert data["person"] == {"age": "70", "asa-class": "2"}
    ok = [r for r in data["rows"] if r["status"] == "ok"]
    assert ok and all(r["expected"] is not None for r in ok)
    assert client.get(f"/conditions/{C}/like-you.json?age=old").status_code == 404


def test_unknown_ids_are_404_with_the_known_ones(client: TestClient) -> None:
    r = client.get("/conditions/nope.json")
    assert r.status_code == 404 and "hip-osteoarthritis" in r.json()["detail"]
    assert client.get("/segments/nope").status_code == 404


def test_plotly_from_the_package(client: TestClient) -> None:
    from plotly.offline import get_plotlyjs

    js = client.get("/static/plotly.min.js")
    assert js.status_code == 200 and js.text == get_plotlyjs()
    assert client.get("/static/../app.py").status_code == 404


def test_router_depends_on_the_principal(dashboard_ws) -> None:  # type: ignore[no-untyped-def]
    app = create_dashboard_app(dashboard_ws)

    class Nurse:
        name = "nurse-on-ward-3"

    app.dependency_overrides[deps.get_principal] = lambda: Nurse()
    html = TestClient(app).get("/overview").text
    assert "nurse-on-ward-3" in html
