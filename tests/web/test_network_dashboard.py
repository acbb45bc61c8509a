"""The dashboard's network page over a hand-built network store: it renders the standard checks, the
below-standard list, the scenario with its cost interval and the IPU evidence; its .json twin carries
the same rows; the map is a tile-free plotly map (nothing fetched from a server); small cells show <11."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
import network_store  # noqa: E402

from carevalue.web.app import create_dashboard_app  # noqa: E402
from carevalue.workspace import Workspace  # noqa: E402


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_dashboard_app(Workspace.on_connection(network_store.build())))


def test_page_shows_checks_scenarios_and_ipu_evidence(client: TestClient) -> None:
    r = client.get("/network")
    assert r.status_code == 200, r.text
    page = r.text
    assert "cdn" not in page.lower() and "https://" not in page
    assert "/network.json" in page and "tkr-hospital" in page
    below = re.search(r'<table id="network-below">.*?</table>', page, flags=re.S)
    assert below and "org-mid" in below.group(0) and "org-big" not in below.group(0)
    assert "280,000 – 320,000" in page                      # the projected cost's 95% interval
    assert "0.02 – 0.09" in page                             # the projected outcome's interval
    assert "evidence org-big 7" in page
    checks = re.search(r'<table id="network-checks">.*?</table>', page, flags=re.S).group(0)
    small = next(r for r in re.findall(r"<tr>.*?</tr>", checks, flags=re.S) if "org-small" in r)
    cells = [re.sub("<.*?>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", small, flags=re.S)]
    assert "&lt;11" in cells and not {"5", "5.00", "45"} & set(cells), cells  # 5 cycles (shortfall 45) never print


def test_twin_carries_the_rows_and_the_map_is_offline(client: TestClient) -> None:
    d = client.get("/network.json").json()
    assert d["condition"] == network_store.COND and d["year"] == 2025
    assert [r["unit_id"] for r in d["below"]] == ["org-mid", "org-small"]
    assert d["scenarios"][0]["projected_cost_low"] == 280000.0
    assert sum(r["score"] for r in d["ipu_evidence"] if r["organization_id"] == "org-big") == 20
    sites = {r["organization_id"]: r for r in d["sites"]}
    assert sites["org-small"]["cycles"] == "<11" and sites["org-mid"]["below"] == "tkr-hospital"
    assert sites["org-big"]["source"] == "FHIR Location/loc-big.position"
    assert sites["org-small"]["source"] == "facts file"
    page = client.get("/network").text
    fig = json.loads(re.search(r"data-figure='(.*?)'", page, flags=re.S).group(1).replace("&#34;", '"')
                     .replace("&quot;", '"').replace("&#39;", "'").replace("&amp;", "&"))
    assert {t["type"] for t in fig["data"]} == {"scattermap"}
    assert fig["layout"]["map"]["style"] == "white-bg"
    assert all(t["mode"] == "markers" for t in fig["data"])   # no text layer: no glyphs to fetch
    assert "http" not in json.dumps(fig)


def test_nav_links_the_network_page(client: TestClient) -> None:
    assert 'href="http://testserver/network">network</a>' in client.get("/network").text
