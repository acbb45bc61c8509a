"""The one privacy module: no shown number may describe fewer than 11 patients.

Primary suppression: a row whose patient count is 1..10 shows ``<11`` for its counts and hides its
values (the CMS cell-size rule; a count of 0 describes no one and is shown). Complementary
suppression: when rows add up to a published total (the rows of one group, e.g. the providers of a
condition), a single suppressed row could be recovered by subtraction, so the next-smallest row of
the group is suppressed too. Which columns are patient counts comes from the declared schema
(``Table.counts``) or is named by the query.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from carevalue.model import declared

THRESHOLD = 11
MARK = f"<{THRESHOLD}"

Row = dict[str, Any]


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


def suppress(rows: Iterable[Row], counts: Sequence[str] = ("patients",), *,
             values: Sequence[str] | None = None, keep: Sequence[str] = (),
             group_by: Sequence[str] | None = None, threshold: int = THRESHOLD) -> list[Row]:
    """Rows safe to show: small cells masked, and complementary cells when ``group_by`` is given.

    ``counts`` are the patient-count columns (a row is small when any is 1..threshold-1);
    ``values`` the columns to hide in a masked row (default: every numeric column not in ``keep``);
    ``group_by`` the columns whose rows sum to a shown total (e.g. ``["condition"]`` for providers
    of one condition) — within such a group, a lone suppressed row pulls the smallest other row in.
    Every row gets ``suppressed`` (True/False) so a reader can tell a hidden value from a missing one.
    """
    rows = list(rows)
    small = [any(is_small(r.get(c), threshold) for c in counts) for r in rows]
    if group_by is not None:
        groups: dict[tuple[Any, ...], list[int]] = {}
        for i, r in enumerate(rows):
            groups.setdefault(tuple(r.get(k) for k in group_by), []).append(i)
        for idx in groups.values():
            hidden = [i for i in idx if small[i]]
            shown = [i for i in idx if not small[i] and (_num(rows[i].get(counts[0])) or 0) > 0]
            if len(hidden) == 1 and shown:
                nxt = min(shown, key=lambda i: _num(rows[i].get(counts[0])) or 0)
                small[nxt] = True
    out = []
    for r, s in zip(rows, small, strict=True):
        out.append(_mask(r, counts, values, [*keep, *(group_by or ())]) if s else {**r, "suppressed": False})
    return out


def keep_large(rows: Iterable[Row], counts: Sequence[str] = ("patients",),
               threshold: int = THRESHOLD) -> list[Row]:
    """Rows safe to plot as points: those describing no small cell."""
    return [r for r in rows if not any(is_small(r.get(c), threshold) for c in counts)]
