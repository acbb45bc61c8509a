"""A ``$export``-style extract: FHIR resources as NDJSON (one resource per line, per type)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson

MEDIA_TYPE = "application/fhir+ndjson"


def ndjson(resources: Iterable[dict[str, Any]]) -> Iterator[bytes]:
    """Each resource as one line of JSON."""
    for r in resources:
        yield orjson.dumps(r) + b"\n"


def bundle(resources: list[dict[str, Any]], base: str, total: int | None = None,
           next_url: str | None = None) -> dict[str, Any]:
    """A searchset Bundle of ``resources`` (validated)."""
    from carevalue.interop.fhir import validate

    b: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset",
                         "total": len(resources) if total is None else total,
                         "entry": [{"fullUrl": f"{base}/{r['resourceType']}/{r['id']}", "resource": r,
                                    "search": {"mode": "match"}} for r in resources]}
    if next_url:
        b["link"] = [{"relation": "next", "url": next_url}]
    return validate(b)
