"""Composites come from content only (scorecard-sets), show their weights, and score a provider only
when every weighted outcome is usable."""

from __future__ import annotations

from pathlib import Path

import dashboard_fixture as fx
import pytest
from fastapi.testclient import TestClient

from carevalue.definitions.loader import load
from carevalue.queries import scorecard as sc
from carevalue.queries.base import QueryError
from carevalue.web.app import create_dashboard_app
from carevalue.workspace import Workspace

C = fx.CONDITION


def test_the_library_composite_names_its_weights_and_sources() -> None:
    (hip,) = sc.library_composites(load(), C)
    assert {w.measure for w in hip.weights} == {"mortality-90d", "cms-complications", "readmission-30d"}
    assert all(w.weight == 22 and "medicare.gov" in w.source for w in hip.weights)  # 22% each, CMS groups


def test_a_composite_of_an_unknown_condition_is_a_library_error(tmp_path: Path) -> None:
    (tmp_path / "scorecard-sets").mkdir()
    (tmp_path / "scorecard-sets" / "x.yaml").write_text(
        "id: x\ntitle: X\nsource: test\ncomposites:\n  - id: y\n    condition: nope\n    title: Y\n"
        "    source: test\n    weights: [{measure: m, weight: 1, source: test}]\n")
    lib = load(tmp_path, strict=False)
    assert any("composites.0.condition" in e and "'nope'" in e for e in lib.errors), lib.errors


def test_unknown_measure_or_id_is_a_query_error(dashboard_ws) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match="no composite"):
        dashboard_ws.ask(sc.composite, definition="nope")
    bad = sc.Composite.model_validate({"id": "b", "condition": C, "title": "B", "source": "test",
                                       "weights": [{"measure": "no-such", "weight": 1, "source": "test"}]})
    with pytest.raises(QueryError, match="no-such"):
        dashboard_ws.ask(sc.composite, definition=bad)


@pytest.fixture(scope="module")
def own(dashboard_store: Path, tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    content = tmp_path_factory.mktemp("content")
    (content / "scorecard-sets").mkdir()
    (content / "scorecard-sets" / "stay.yaml").write_text(
        "id: stay\ntitle: Stay\nsource: test\ncomposites:\n  - id: stay-only\n    condition: hip-osteoarthritis\n"
        "    title: Length of stay only\n    source: test weights\n"
        "    weights: [{measure: length-of-stay, time_point: discharge, weight: 3, source: test}]\n")
    return TestClient(create_dashboard_app(Workspace.open(dashboard_store, [content])))


def test_the_scorecard_page_shows_composites_from_content(own: TestClient) -> None:
    data = own.get(f"/conditions/{C}.json").json()
    by_id = {c["id"]: c for c in data["composites"]}
    hip, stay = by_id["hip-star-groups"], by_id["stay-only"]
    assert [round(w["weight"], 3) for w in hip["weights"]] == [0.333] * 3  # 22 / 66 each
    # the fixture has no complications or readmissions and too few deaths: nobody is scored
    assert all(r["score"] is None for r in hip["rows"] if not r["suppressed"])
    scores = {r["organization_id"]: r["score"] for r in stay["rows"]}
    # a lower-better score counts as −(O − E): org-b −1.39, org-c +1.16 (docs/dashboard.md worked example)
    assert scores["org-b"] == pytest.approx(-1.39, abs=0.01) and scores["org-c"] == pytest.approx(1.16, abs=0.01)
    html = own.get(f"/conditions/{C}").text
    assert 'id="composites"' in html and "0.333" in html and "medicare.gov" in html

