"""The dashboard's figures are plotly's own JSON, written without graph objects: plotly reads each
back unchanged (nothing invalid, nothing dropped) and the plotly_white template is in it."""

from __future__ import annotations

import json

import dashboard_fixture as fx
import plotly.graph_objects as go
import pytest

from carevalue.web import figures, pages
from carevalue.workspace import Workspace

C = fx.CONDITION


def _figures(ws: Workspace) -> dict[str, str | None]:
    card = pages.condition(ws, C)
    rows = pages.comparison(ws, C, "length-of-stay", "discharge", None, 0.95)["rows"]
    ratio = pages.comparison(ws, C, "readmission-30d", "30 days", None, 0.95)["rows"]
    return {"cost": figures.cost_bars(card["costs"]), "phases": figures.phase_stack(card["phases"]),
            "forest": figures.forest(rows, "O - E"), "forest ratio": figures.forest(ratio, "O/E events"),
            "timeline": figures.timeline(pages.timeline(ws, "p62")["cycles"])}


@pytest.mark.parametrize("name", ["cost", "phases", "forest", "forest ratio", "timeline"])
def test_plotly_reads_each_figure_back_unchanged(dashboard_ws: Workspace, name: str) -> None:
    text = _figures(dashboard_ws)[name]
    assert text is not None
    fig = json.loads(text)
    again = json.loads(go.Figure(fig).to_json())  # validates every trace and layout property
    assert again == fig
    assert fig["layout"]["template"]["layout"]["plot_bgcolor"] == "white"  # plotly_white, expanded


def test_figures_draw_only_shown_rows(dashboard_ws: Workspace) -> None:
    fig = json.loads(_figures(dashboard_ws)["cost"])  # type: ignore[arg-type]
    assert "org-tiny" not in fig["data"][0]["x"]  # 5 patients: suppressed, so not drawn
