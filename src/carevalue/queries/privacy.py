"""The one privacy module: no shown number may describe 1 to 10 patients or events.

Primary suppression: a row whose patient (or event) count is 1..10 shows ``<11`` for its counts and
hides its values (the CMS cell-size rule; a count of 0 describes no one and is shown). Complementary
suppression: when rows add up to a published total (the rows of one group, e.g. the providers of a
condition), a single suppressed row could be recovered by subtraction, so the next-smallest row of
the group is suppressed too (a zero cell when no other is left); with several groupings (rows and
columns of a cross-table) this repeats until every group of two or more rows hides none or at least
two. A one-row group's total is its row: a total shown for it must go through this module too. Which columns are patient counts comes from the
declared schema (``Table.counts``) or is named by the query.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from carevalue.model import declared

THRESHOLD = 11
MARK = f"<{THRESHOLD}"

Row = dict[str, Any]
Grouping = Sequence[str]


def count_columns(table: str) -> tuple[str, ...]:
    """The patient-count columns of a declared table."""
    return declared(table).counts


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else f


def is_small(v: Any, threshold: int = THRESHOLD) -> bool:
    """True where a count describes 1..threshold-1 patients (0 and missing describe no one)."""
    n = _num(v)
    return n is not None and 0 < n < threshold


def _mask(row: Row, counts: Sequence[str], values: Sequence[str] | None, keep: Sequence[str]) -> Row:
    out = dict(row)
    for c in counts:
        if c in out:
            out[c] = MARK
    cols = values if values is not None else [
        k for k, v in row.items() if k not in keep and _num(v) is not None]
    for c in cols:
        if c in out and c not in counts and c not in keep:
            out[c] = None
    out["suppressed"] = True
    return out


def _groupings(group_by: Grouping | Sequence[Grouping] | None) -> list[tuple[str, ...]]:
    if group_by is None:
        return []
    items = list(group_by)
    if items and all(isinstance(g, list | tuple) for g in items):
        return [tuple(g) for g in items]
    return [tuple(str(g) for g in items)]


def _complete(rows: list[Row], small: list[bool], counts: Sequence[str],
              groupings: list[tuple[str, ...]]) -> None:
    """Pull in complementary cells until no group hides exactly one row beside shown ones."""
    size = [_num(r.get(counts[0])) or 0.0 for r in rows]
    changed = True
    while changed:
        changed = False
        for keys in groupings:
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i, r in enumerate(rows):
                groups.setdefault(tuple(r.get(k) for k in keys), []).append(i)
            for idx in groups.values():
                hidden = [i for i in idx if small[i]]
                shown = [i for i in idx if not small[i]]
                if len(hidden) == 1 and shown:  # the smallest non-zero cell, else a zero one
                    small[min(shown, key=lambda i: (size[i] == 0, size[i], i))] = True
                    changed = True


def suppress(rows: Iterable[Row], counts: Sequence[str] = ("patients",), *,
             values: Sequence[str] | None = None, keep: Sequence[str] = (),
             group_by: Grouping | Sequence[Grouping] | None = None, threshold: int = THRESHOLD,
             extra_small: Sequence[bool] | None = None, cells: Sequence[str] = ()) -> list[Row]:
    """Rows safe to show: small cells masked, and complementary cells when ``group_by`` is given.

    ``counts`` are the patient- or event-count columns (a row is small when any is 1..threshold-1);
    ``values`` the columns to hide in a masked row (default: every numeric column not in ``keep``);
    ``group_by`` the columns whose rows sum to a shown total (e.g. ``["condition"]`` for providers
    of one condition; ``[]`` when all rows sum to one total), or several such groupings (the rows and
    the columns of a cross-table); ``extra_small`` marks rows small for a reason the query knows
    (e.g. 1..10 non-events); ``cells`` are secondary counts shown as ``<11`` where 1..10 without
    hiding the row. Every row gets ``suppressed`` so a hidden value reads differently from a missing
    one.
    """
    rows = list(rows)
    small = [any(is_small(r.get(c), threshold) for c in counts) for r in rows]
    if extra_small is not None:
        small = [a or bool(b) for a, b in zip(small, extra_small, strict=True)]
    groupings = _groupings(group_by)
    if groupings:
        _complete(rows, small, counts, groupings)
    held = [*keep, *(k for g in groupings for k in g)]
    out = [_mask(r, counts, values, held) if s else {**r, "suppressed": False}
           for r, s in zip(rows, small, strict=True)]
    for r in out:
        for c in cells:
            if is_small(r.get(c), threshold):
                r[c] = MARK
    return out


SMALL_IN_TEXT = re.compile(
    r"\b(\d[\d,]*)(?: of (\d[\d,]*))? (patients?|cycles?|events?|providers?|people|persons?|deaths?|censored)\b")


def _small_number(text: str) -> bool:
    return 1 <= int(text.replace(",", "")) < THRESHOLD


def _scrub(m: re.Match[str]) -> str:
    n, total, unit = m.group(1), m.group(2), m.group(3)
    n_out = MARK if _small_number(n) else n
    of = "" if total is None else f" of {MARK if _small_number(total) else total}"
    return f"{n_out}{of} {unit}"


def scrub_text(message: Any) -> str:
    """A message with any count of 1..10 patients, cycles or events ("4 patients", "4 of 21
    patients", "8 censored", and the total in "12 of 10 ..." or "4 of 9 patients") replaced by
    ``<11``."""
    if message is None:
        return ""
    return SMALL_IN_TEXT.sub(_scrub, str(message))


def keep_large(rows: Iterable[Row]) -> list[Row]:
    """Rows safe to plot as points: those :func:`suppress` left shown."""
    return [r for r in rows if not r.get("suppressed")]
