"""Trigger events of every template found by one join with code masks (cycles.trigger_hits) build
the same cycles as matching each template's trigger code sets against the events one by one."""

from __future__ import annotations

from pathlib import Path

from test_cycles import SNOMED, TPL, hip_patient, put

from carevalue.backends import connect
from carevalue.engine import cycles
from carevalue.ingest.store import Store

RULES_ID = ("record-rules", "default")


def _store(path: Path) -> None:
    with Store(path) as s:
        hip_patient(s)                                     # hip OA: surgery after diagnosis
        hip_patient(s, pid="p2", surgery="2024-06-01")
        put(s, "procedures", procedure_id="p2-s2", patient_id="p2", code_system=SNOMED, code="52734007",
            start_ts="2024-09-01 08:00")                     # extends p2's cycle (island)
        put(s, "patients", patient_id="p3", birth_date="1950-01-01")
        put(s, "procedures", procedure_id="p3-s", patient_id="p3", code_system=SNOMED, code="52734007",
            start_ts="2024-01-01 08:00")                     # no diagnosis: no cycle (require_code_set)
        put(s, "conditions", condition_id="p1-dm", patient_id="p1", code_system=SNOMED, code="44054006",
            onset_ts="2022-06-01 00:00")                     # chronic: type 2 diabetes
        put(s, "conditions", condition_id="p2-dm", patient_id="p2", code_system="SNOMED-CT", code="44054006",
            onset_ts="2023-02-01 00:00")                     # a system alias matches too


def test_cycles_from_trigger_hits_equal_cycles_matched_per_template(tmp_path: Path) -> None:
    from carevalue.definitions.loader import load

    path = tmp_path / "s.duckdb"
    _store(path)
    con = connect(path)
    rules = load().get(*RULES_ID)
    templates = [TPL[i] for i in ("hip-osteoarthritis", "knee-osteoarthritis", "type-2-diabetes",
                                  "head-and-neck-cancer")]
    ev = cycles.events(con, rules)
    until = cycles.data_end(con, ev, rules)
    codes = ev.select(*cycles._CODE_KEY).distinct()
    hits = cycles.trigger_hits(ev, cycles.trigger_masks(codes, templates))
    keys = ["cycle_id", "start_ts", "end_ts", "trigger_id", "index_ts"]
    joined = cycles.all_cycles(ev, templates, until, None, hits).execute().sort_values("cycle_id")[keys]
    each = cycles.all_cycles(ev, templates, until, None).execute().sort_values("cycle_id")[keys]
    assert joined.reset_index(drop=True).equals(each.reset_index(drop=True))
    by = {c.split(":")[0] for c in joined.cycle_id}
    assert by == {"hip-osteoarthritis", "type-2-diabetes"}
    assert not any(c.startswith("hip-osteoarthritis:p3") for c in joined.cycle_id)
    assert len([c for c in joined.cycle_id if c.startswith("hip-osteoarthritis:p2")]) == 1
    assert {"patient_id", "rank", "_tc"} <= set(hits.columns)
