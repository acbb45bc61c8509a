"""Helpers shared by the page tests: a section rendered alone, and the cells of its tables."""

from __future__ import annotations

import re

from carevalue.report.build import render
from carevalue.report.layout import Report, Section

SMALL = re.compile(r"([1-9]|10)(\.0+)?")
SMALL_IN_TEXT = re.compile(r"(?<![–-])\b([1-9]|10)( of [\d,]+)? (patients?|cycles?|events?|episodes?|censored)\b")


def page_of(section: Section) -> str:
    """The HTML of a report holding only this section (plotly inline, the real template)."""
    return render(Report(sections=[section]), "test.duckdb")


def cells(page: str) -> list[tuple[str, str]]:
    """(header, cell text) for every cell of every table."""
    out = []
    for t in re.findall(r"<table>.*?</table>", page, flags=re.S):
        heads = [re.sub("<.*?>", "", h) for h in re.findall(r"<th>(.*?)</th>", t)]
        for row in re.findall(r"<tr>(.*?)</tr>", t, flags=re.S)[1:]:
            out += list(zip(heads, [re.sub("<.*?>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)],
                            strict=False))
    return out


def body(page: str) -> str:
    """The page without the inline plotly.js and the header legend (which names the range 1–10)."""
    page = re.sub(r"<script type=\"text/javascript\">/\*\*.*?</script>", "", page, count=1, flags=re.S)
    return re.sub(r"<header>.*?</header>", "", page, flags=re.S)
