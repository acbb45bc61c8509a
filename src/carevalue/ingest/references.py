"""Resolve FHIR references to the ids records are stored under.

A reference may be a bundle-local ``urn:uuid:...`` (an entry's fullUrl), a relative ``Type/id``,
an absolute URL ending in ``Type/id``, a conditional ``Type?identifier=system|value`` (Synthea
transaction bundles) or a logical ``{"identifier": {...}}``. Conditional and logical references
are looked up in the bundle first, then among stored records by ``identifier_value``; failing
that the identifier value itself is used (Synthea gives its resources their identifier as id).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from carevalue.ingest.store import Store

# Tables whose identifier_value column can be searched, by FHIR resource type.
_IDENTIFIED = {
    "Patient": ("patients", "patient_id"),
    "Organization": ("organizations", "organization_id"),
    "Practitioner": ("practitioners", "practitioner_id"),
    "Location": ("locations", "location_id"),
}
# Type parts of relative references already seen to qualify for the Type/id fast path of
# References.resolve (non-empty, capitalised, without '?', ':' or '#'); bounded, types are few.
_PLAIN_TYPES: dict[str, str] = {}
_TYPE_ID = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([^/?#]+)(?:/_history/[^/]+)?$")


def identifier_sql(rtype: str) -> str:
    """The stored (identifier_value, id) pairs of a resource type that conditional references search."""
    tbl, key = _IDENTIFIED[rtype]
    return f'SELECT identifier_value, {key} FROM "{tbl}" WHERE identifier_value IS NOT NULL'


# The table each searchable resource type is stored in.
IDENTIFIED_TABLES = {rtype: tbl for rtype, (tbl, _key) in _IDENTIFIED.items()}


class Unresolvable(ValueError):
    """A reference that is not a FHIR reference at all (wrong shape)."""


class References:
    """Per-ingest reference resolver: a bundle-local map plus the store's identifiers."""

    def __init__(self, store: Store | None = None,
                 identifiers: Callable[[str], dict[str, str]] | None = None) -> None:
        """``identifiers`` (resource type -> {identifier_value: id}) stands in for the store when
        parsing in a worker process (a snapshot the writer made); ``used`` names the types read."""
        self.store = store
        self.identifiers = identifiers
        self.used: set[str] = set()
        self._store_maps: dict[str, dict[str, str]] = {}
        # bundle-local: fullUrl -> (type, id); "system|value" and "Type|value" -> id
        self.local: dict[str, tuple[str, str]] = {}
        self.local_ident: dict[tuple[str, str], str] = {}
        # conditional reference text -> resolution (valid until begin()/invalidate())
        self._conditional: dict[str, tuple[str, str]] = {}

    def invalidate(self) -> None:
        """Forget cached store identifiers (call after writing organizations/practitioners/...)."""
        self._store_maps.clear()
        self._conditional.clear()

    def begin(self) -> None:
        """Start a new file / bundle: forget bundle-local names."""
        self.local = {}
        self.local_ident = {}
        self._conditional = {}

    def add_local(self, full_url: str | None, rtype: str, rid: str, identifiers: object = None) -> None:
        if full_url:
            self.local[full_url] = (rtype, rid)
        self.local.setdefault(f"{rtype}/{rid}", (rtype, rid))
        if isinstance(identifiers, list):
            for ident in identifiers:
                if isinstance(ident, dict):
                    value = ident.get("value")
                    if isinstance(value, str):
                        system = ident.get("system")
                        self.local_ident[(rtype, f"{system}|{value}")] = rid
                        self.local_ident.setdefault((rtype, value), rid)

    def _stored(self, rtype: str, value: str) -> str | None:
        spec = _IDENTIFIED.get(rtype)
        if spec is None or (self.store is None and self.identifiers is None):
            return None
        m = self._store_maps.get(rtype)
        if m is None:
            self.used.add(rtype)
            if self.identifiers is not None:
                m = self.identifiers(rtype)
            else:
                assert self.store is not None
                m = dict(self.store.con.execute(identifier_sql(rtype)).fetchall())
            self._store_maps[rtype] = m
        return m.get(value)

    def by_identifier(self, rtype: str, system: object, value: str) -> str:
        """The id of the ``rtype`` resource with this identifier (or the value itself)."""
        rid = self.local_ident.get((rtype, f"{system}|{value}")) or self.local_ident.get((rtype, value))
        return rid or self._stored(rtype, value) or value

    def resolve(self, ref: object, expected: str | None = None) -> tuple[str | None, str | None]:
        """(resource type, id) of a Reference element; (None, None) when it names nothing.

        Raises Unresolvable when the element is not a Reference (wrong type, unusable string).
        """
        if type(ref) is not dict:
            raise Unresolvable(f"expected a Reference object, got {type(ref).__name__}")
        r = ref.get("reference")
        if type(r) is str:
            hit = self.local.get(r)
            if hit is not None:
                return hit
            # Fast path for the common relative form Type/id: a type seen before (one dict lookup,
            # and the same type string every time) and an id without '/', '?', ':' or '#'.
            head, slash, tail = r.partition("/")
            known = _PLAIN_TYPES.get(head)
            if known is not None and tail and "/" not in tail and "?" not in tail and ":" not in tail \
                    and "#" not in tail:
                return known, tail
            if slash and head and tail and head[0].isupper() and "/" not in tail and "?" not in r \
                    and ":" not in r and "#" not in r:
                if len(_PLAIN_TYPES) < 1024:
                    _PLAIN_TYPES[head] = head
                return head, tail
        if r is None:
            ident = ref.get("identifier")
            if isinstance(ident, dict) and isinstance(ident.get("value"), str):
                rtype = ref.get("type") if isinstance(ref.get("type"), str) else expected
                if rtype is None:
                    return None, ident["value"]
                return rtype, self.by_identifier(rtype, ident.get("system"), ident["value"])
            return None, None
        if not isinstance(r, str):
            raise Unresolvable(f"reference must be a string, got {type(r).__name__}")
        if not r or r.isspace():
            raise Unresolvable("empty reference")
        hit = self.local.get(r)
        if hit is not None:
            return hit
        if r.startswith("urn:uuid:") or r.startswith("urn:oid:"):
            return expected, r[9:] if r.startswith("urn:uuid:") else r[8:]
        if r.startswith("#"):
            return None, None  # contained resource: no stored id
        q = r.find("?")
        if q > 0:
            cached = self._conditional.get(r)
            if cached is not None:
                return cached
            rtype = r[:q]
            params = r[q + 1:]
            for part in params.split("&"):
                name, _, val = part.partition("=")
                if name == "identifier" and val:
                    system, bar, value = val.rpartition("|")
                    hit = (rtype, self.by_identifier(rtype, system if bar else None, value))
                    self._conditional[r] = hit
                    return hit
            raise Unresolvable(f"conditional reference {r!r} has no identifier= criterion")
        m = _TYPE_ID.search(r)
        if m:
            return m.group(1), m.group(2)
        raise Unresolvable(f"{r!r} is not a reference of the form Type/id, urn:uuid:..., or Type?identifier=...")
