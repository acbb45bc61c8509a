"""Travel distance: great-circle kilometres from patients' home areas to the site treating them.

Site coordinates come from FHIR ``Location.position`` in the store (an organization's site is the
Location it manages, via ``Location.managingOrganization``), falling back to the facts file's
``sites``; home-area centroids come from the facts file's ``postal_areas``. Every coordinate keeps
the source it came from (:meth:`Geography.coordinates`)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd
from ibis.backends import BaseBackend

from carevalue.definitions.ipu_facts import IpuFacts

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)
COORDINATE_COLUMNS = ("kind", "unit_id", "location_id", "latitude", "longitude", "source")
FACTS_SOURCE = "facts file"


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def store_sites(locations: pd.DataFrame, weights: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One positioned Location per managing organization: the one with most index events
    (``weights`` by location id), ties and unweighted by smallest location id.

    ``locations`` has location_id, organization_id, latitude, longitude (rows without both
    coordinates or without an organization are skipped)."""
    cols = ["organization_id", "location_id", "latitude", "longitude"]
    loc = locations[cols].dropna()
    if loc.empty:
        return pd.DataFrame(columns=cols)
    w = weights or {}
    loc = loc.assign(_w=[-float(w.get(str(i), 0.0)) for i in loc.location_id])
    loc = loc.sort_values(["organization_id", "_w", "location_id"])
    return loc.drop_duplicates("organization_id")[cols].reset_index(drop=True)


class Geography:
    """Site coordinates by organization id and home-area coordinates by postal code, with sources."""

    def __init__(self, facts: IpuFacts, stored: pd.DataFrame | None = None) -> None:
        """``stored``: :func:`store_sites` rows (win over the facts file's sites for their organization)."""
        rows: dict[str, dict[str, object]] = {
            s.organization_id: {"kind": "site", "unit_id": s.organization_id, "location_id": None,
                                "latitude": s.latitude, "longitude": s.longitude, "source": FACTS_SOURCE}
            for s in facts.sites}
        for r in (stored.to_dict("records") if stored is not None else []):
            org = str(r["organization_id"])
            rows[org] = {"kind": "site", "unit_id": org, "location_id": str(r["location_id"]),
                         "latitude": float(r["latitude"]), "longitude": float(r["longitude"]),
                         "source": f"FHIR Location/{r['location_id']}.position"}
        areas = {a.postal_code: {"kind": "postal-area", "unit_id": a.postal_code, "location_id": None,
                                 "latitude": a.latitude, "longitude": a.longitude, "source": FACTS_SOURCE}
                 for a in facts.postal_areas}
        self._rows = [*(rows[k] for k in sorted(rows)), *(areas[k] for k in sorted(areas))]
        self.sites = {k: (float(v["latitude"]), float(v["longitude"])) for k, v in rows.items()}  # type: ignore[arg-type]
        self.areas = {k: (float(v["latitude"]), float(v["longitude"])) for k, v in areas.items()}  # type: ignore[arg-type]

    @classmethod
    def from_store(cls, con: BaseBackend, facts: IpuFacts,
                   weights: Mapping[str, float] | None = None) -> Geography:
        """Sites from the store's positioned Locations, else the facts file (also when the store
        predates the position columns)."""
        loc = con.table("locations")
        if not {"latitude", "longitude"} <= set(loc.columns):
            return cls(facts)
        loc = loc.filter(loc.latitude.notnull() & loc.longitude.notnull() & loc.organization_id.notnull())
        df = loc.select("location_id", "organization_id", "latitude", "longitude").execute()
        return cls(facts, store_sites(df, weights))

    @property
    def available(self) -> bool:
        return bool(self.sites) and bool(self.areas)

    def coordinates(self) -> pd.DataFrame:
        """Every coordinate used: kind (site or postal-area), unit, Location id, lat, lon, source."""
        return pd.DataFrame(self._rows, columns=list(COORDINATE_COLUMNS))

    def km(self, postal_code: str | None, organization_id: str) -> float | None:
        a, s = self.areas.get(str(postal_code)), self.sites.get(organization_id)
        return None if a is None or s is None else haversine_km(a[0], a[1], s[0], s[1])

    def mean_km(self, homes: pd.DataFrame, to_site: str | Mapping[str, str]) -> float | None:
        """Mean distance per cycle for ``homes`` (organization_id, postal_code, cycles), each going to
        ``to_site`` (one site, or a mapping from current organization to site); None when unknown."""
        total = dist = 0.0
        for r in homes.to_dict("records"):
            org = str(r["organization_id"])
            site = to_site if isinstance(to_site, str) else to_site.get(org, org)
            d = self.km(r["postal_code"], site)
            if d is None:
                return None
            total, dist = total + float(r["cycles"]), dist + float(r["cycles"]) * d
        return dist / total if total else None
