"""The payment page on the synthetic store: it renders the five models' revenue and margin per
provider with the methods text from the content (the warranty, what is unverified), draws margin
per cycle by provider and model only from shown rows, prints no count of 1..10, and names the
command when the payment tables are missing."""

from __future__ import annotations

from html import escape as html_escape

import ibis
import pytest
from _pages import SMALL, SMALL_IN_TEXT, body, cells, page_of

from carevalue.report import payment as page
from carevalue.report.layout import Report
from carevalue.workspace import Workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(synthetic_workspace):  # type: ignore[no-untyped-def]
    rep = Report()
    sec = page.section(synthetic_workspace, rep)
    return rep, sec, page_of(sec)


def test_section_renders_the_five_models_and_the_methods(built, synthetic_workspace) -> None:  # type: ignore[no-untyped-def]
    rep, sec, html = built
    assert sec.computed and '<section id="payment" data-computed="yes"' in html
    assert [r["model"] for r in rep.tables["payment-models"]] == list(page.MODELS.values())
    lib = synthetic_workspace.library
    for b in lib.kind("bundles").values():
        assert b.title in html
        for w in b.warranties:
            assert w.title in html
    for e in [*lib.kind("episode-models").values(), *lib.kind("time-based-payments").values()]:
        for u in e.unverified:
            assert html_escape(u) in html
    assert "not verified" in html.lower()


def test_margin_figure_per_condition_from_shown_rows(built) -> None:  # type: ignore[no-untyped-def]
    rep, _, _ = built
    figs = {k.removeprefix("margin-"): f for k, f in rep.figures.items() if k.startswith("margin-")}
    assert figs
    for cond, fig in figs.items():
        rows = [r for r in rep.tables[f"payment-{cond}"] if not r["suppressed"]]
        assert [t.name for t in fig.data] == list(page.MODELS.values())
        assert list(fig.data[0].x) == [r["facility"] for r in rows]
        # the bars are the query's margins per cycle, model by model
        for tr, m in zip(fig.data, page.MODELS, strict=True):
            assert list(tr.y) == pytest.approx([r[f"{m}_margin_per_cycle"] for r in rows])


def test_no_count_of_one_to_ten_anywhere(built) -> None:  # type: ignore[no-untyped-def]
    _, _, html = built
    counted = [(h, c) for h, c in cells(html) if h in ("patients", "cycles", "episodes")]
    assert counted
    assert not [(h, c) for h, c in counted if SMALL.fullmatch(c.replace(",", ""))]
    assert any(c == "&lt;11" for _, c in counted)
    assert not SMALL_IN_TEXT.search(body(html))


def test_missing_tables_name_the_command() -> None:
    sec = page.section(Workspace.on_connection(ibis.duckdb.connect()), Report())
    assert not sec.computed and "payment_ledger" in sec.note and "carevalue run" in sec.note
