"""The FHIR test bed itself: a hip replacement written in a few lines becomes one acute care cycle."""

from __future__ import annotations

from pathlib import Path

from fhir_bed import FhirBed


def test_a_hip_replacement_in_five_lines_is_one_cycle(tmp_path: Path) -> None:
    bed = FhirBed(tmp_path)
    p = bed.patient(born="1950-03-01", sex="female")
    dx = bed.encounter(p, "2024-01-03", org="org-a")
    bed.condition(p, "239872002", "2024-01-03", encounter=dx)
    op = bed.encounter(p, "2024-01-10", cls="IMP", org="org-a", days=3)
    bed.procedure(p, "52734007", "2024-01-10", encounter=op)
    bed.run(["observation", "cycles"])
    (cycle,) = bed.rows("care_cycles", patient_id=p)
    assert cycle["condition"] == "hip-osteoarthritis" and cycle["organization_id"] == "org-a"
    phases = {r["event_id"]: r["phase"] for r in bed.rows("cycle_events", cycle_id=cycle["cycle_id"])}
    # the template: index-facility encounters 45 days before surgery up to it are "preparing"
    assert phases[op] == "intervening" and phases[dx] == "preparing"
