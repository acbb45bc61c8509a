"""Render docs/data-model.md from the table declarations (run: python -m carevalue.model.docs)."""

from __future__ import annotations

import sys
from pathlib import Path

from carevalue.model import MEASURE_TABLES, TABLES
from carevalue.model.schema import Table

HEADER = """# The common data model

Every table carevalue stores, generated from `src/carevalue/model/schema.py` (do not edit by
hand: `python -m carevalue.model.docs docs/data-model.md`). Codes always keep their system
(`code_system`): SNOMED CT `http://snomed.info/sct`, ICD-10-CM `http://hl7.org/fhir/sid/icd-10-cm`,
LOINC `http://loinc.org`, RxNorm `http://www.nlm.nih.gov/research/umls/rxnorm`, CPT
`http://www.ama-assn.org/go/cpt`, HCPCS `https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets`.
Timestamps are UTC. Amounts called *charge* or *paid* come from bills; costs come only from
`resources` × `activities` (time-driven activity-based costing).

Every row carries `source`, the file it came from; re-ingesting a file replaces exactly the rows
that file produced. A record that cannot be stored is in `quarantine` instead, with a reason.
"""


MEASURES = """
# Measure tables

What the engine stages write, declared in `src/carevalue/model/measures.py`. A stage may write
only the declared columns (the run refuses to publish otherwise). Columns listed as *patient
counts* are what small-cell suppression looks at: any aggregate shown with fewer than 11 patients
is suppressed. Measure tables are published per run (see `docs/runs.md`): readers always see the
last complete run.
"""


def _section(t: Table) -> list[str]:
    parts = [f"\n## `{t.name}`\n\n{t.doc} Key: {', '.join(f'`{k}`' for k in t.key)}."]
    if t.stage:
        parts.append(f" Written by stage `{t.stage}`.")
    if t.counts:
        parts.append(f" Patient counts: {', '.join(f'`{c}`' for c in t.counts)}.")
    if t.parent:
        parts.append(f" Child of `{t.parent}`.")
    parts.append("\n\n| column | type | required | meaning |\n|---|---|---|---|\n")
    parts += [f"| `{c.name}` | {c.type} | {'yes' if c.required else ''} | {c.doc} |\n" for c in t.columns]
    return parts


def render() -> str:
    parts = [HEADER]
    for t in TABLES:
        parts += _section(t)
    parts.append(MEASURES)
    for t in MEASURE_TABLES:
        parts += _section(t)
    return "".join(parts)


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/data-model.md")
    target.write_text(render())
