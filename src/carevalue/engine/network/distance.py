"""Travel distance: great-circle kilometres from patients' home areas to the facility treating them,
when the facts file gives coordinates for sites and postal areas (FHIR Location.position)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pandas as pd

from carevalue.definitions.ipu_facts import IpuFacts

EARTH_RADIUS_KM = 6371.0088  # mean Earth radius (IUGG)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


class Geography:
    """Site and home-area coordinates from the facts file."""

    def __init__(self, facts: IpuFacts) -> None:
        self.sites = {s.organization_id: (s.latitude, s.longitude) for s in facts.sites}
        self.areas = {a.postal_code: (a.latitude, a.longitude) for a in facts.postal_areas}

    @property
    def available(self) -> bool:
        return bool(self.sites) and bool(self.areas)

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
