"""Site coordinates from FHIR Location.position (Organization -> Location via managingOrganization),
falling back to the facts file, with the source of every coordinate stated; a bad position is
quarantined with its reason and nothing else is lost."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from fhir_bed import FhirBed

from carevalue.definitions.ipu_facts import IpuFacts
from carevalue.engine.network.distance import Geography, haversine_km, store_sites
from carevalue.ingest.run import ingest
from carevalue.ingest.store import Store

FACTS = IpuFacts.model_validate({
    "sites": [{"organization_id": "org-a", "latitude": 10.0, "longitude": 10.0},   # overridden by FHIR
              {"organization_id": "org-b", "latitude": 33.95, "longitude": -117.40}],  # only here
    "postal_areas": [{"postal_code": "92501", "latitude": 33.95, "longitude": -117.40}]})


def _location(id_: str, org: str, lat: object, lon: object) -> dict[str, object]:
    return {"resourceType": "Location", "id": id_, "name": id_, "managingOrganization": {"reference": f"Organization/{org}"},
            "position": {"latitude": lat, "longitude": lon}}


def test_position_is_stored_and_wins_over_the_facts_file(tmp_path: Path) -> None:
    bed = FhirBed(tmp_path)
    bed.organization("org-a")
    bed.organization("org-b")
    bed.add(_location("loc-a", "org-a", 33.95, -117.30))
    bed.add({"resourceType": "Location", "id": "loc-b", "managingOrganization": {"reference": "Organization/org-b"}})
    bed.run(["observation"])
    rows = {r["location_id"]: r for r in bed.rows("locations")}
    assert (rows["loc-a"]["latitude"], rows["loc-a"]["longitude"], rows["loc-a"]["organization_id"]) == (33.95, -117.30, "org-a")
    assert rows["loc-b"]["latitude"] is None and rows["loc-b"]["longitude"] is None

    assert bed.ws is not None
    geo = Geography.from_store(bed.ws.con, FACTS)
    c = geo.coordinates().set_index("unit_id")
    assert c.loc["org-a", "source"] == "FHIR Location/loc-a.position"
    assert c.loc["org-a", "location_id"] == "loc-a"
    assert c.loc["org-b", "source"] == "facts file"            # loc-b has no position: the facts file's
    assert c.loc["92501", "kind"] == "postal-area"
    # Home 92501 (33.95, -117.40) to org-a's Location (33.95, -117.30): same latitude, 0.1 degree of
    # longitude apart: 2R asin(cos(33.95 deg) sin(0.05 deg)) = 2 x 6371.0088 x 0.00072391 = 9.224 km.
    expected = 2 * 6371.0088 * math.asin(math.cos(math.radians(33.95)) * math.sin(math.radians(0.05)))
    assert geo.km("92501", "org-a") == pytest.approx(expected)
    assert geo.km("92501", "org-a") == pytest.approx(9.224, abs=0.001)
    assert geo.km("92501", "org-b") == pytest.approx(0.0)
    assert geo.km("99999", "org-a") is None


@pytest.mark.parametrize(("position", "reason", "field"), [
    ({"latitude": 95.0, "longitude": 0.0}, "value out of range", "position.latitude"),
    ({"latitude": 10.0, "longitude": -181.0}, "value out of range", "position.longitude"),
    ({"longitude": 10.0}, "missing required field", "position.latitude"),
    ({"latitude": "north", "longitude": 10.0}, "non-numeric value", "position.latitude"),
    ("33.9,-117.4", "wrong type", "position"),
])
def test_a_bad_position_is_quarantined_with_its_reason(tmp_path: Path, position: object, reason: str, field: str) -> None:
    good = _location("loc-ok", "org-a", 1.0, 2.0)
    bad = {**_location("loc-bad", "org-a", 0, 0), "position": position}
    path = tmp_path / "Location.ndjson"
    path.write_text("".join(json.dumps(r) + "\n" for r in (good, bad)), encoding="utf-8")
    with Store(":memory:") as store:
        rep = ingest([path], store).files[0]
        assert (rep.read, rep.stored, rep.quarantined) == (2, 1, 1)
        got = store.con.execute("SELECT reason, field FROM quarantine").fetchall()
        assert got == [(reason, field)]
        assert store.con.execute("SELECT location_id, latitude, longitude FROM locations").fetchall() == [("loc-ok", 1.0, 2.0)]


def test_an_organizations_site_is_its_most_used_location() -> None:
    loc = pd.DataFrame({"location_id": ["l1", "l2", "l3", "l4"], "organization_id": ["o1", "o1", "o2", "o2"],
                        "latitude": [1.0, 2.0, 3.0, 4.0], "longitude": [1.0, 2.0, 3.0, 4.0]})
    # o1: l2 has more index events than l1; o2: no events, so the smallest id (l3).
    s = store_sites(loc, {"l1": 3, "l2": 7}).set_index("organization_id")["location_id"].to_dict()
    assert s == {"o1": "l2", "o2": "l3"}


def test_haversine_quarter_meridian() -> None:
    # Equator to pole along a meridian: a quarter of the circumference, pi/2 x R = 10,007.5 km.
    assert haversine_km(0.0, 0.0, 90.0, 0.0) == pytest.approx(math.pi / 2 * 6371.0088)
