"""Names beside ids: the readable label a person sees for an organisation (the id stays the key)."""

from __future__ import annotations

from typing import Any

from ibis.backends import BaseBackend


def facility_names(con: BaseBackend) -> dict[str, str]:
    """Organisation id → name (the id itself where the store has no name)."""
    if "organizations" not in set(con.list_tables()):
        return {}
    o = con.table("organizations").select("organization_id", "name").execute()
    return {str(i): (str(n) if isinstance(n, str) and n else str(i))
            for i, n in zip(o["organization_id"], o["name"], strict=True)}


def with_facility(rows: list[dict[str, Any]], con: BaseBackend, col: str = "organization_id") -> list[dict[str, Any]]:
    """Rows with a ``facility`` name placed right after ``col`` (the id column is kept)."""
    names = facility_names(con)
    out = []
    for r in rows:
        new: dict[str, Any] = {}
        for k, v in r.items():
            new[k] = v
            if k == col:
                new["facility"] = names.get(str(v), str(v)) if v is not None else "(none)"
        out.append(new)
    return out
