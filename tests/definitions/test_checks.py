"""Library-wide checks: phases no rule can reach, and code systems that are not known."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

from carevalue.definitions.base import CodeGroup
from carevalue.definitions.checks import unreachable_phases
from carevalue.definitions.codesystems import CODE_SYSTEM_ALIASES
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.loader import CONTENT, load

HIP = yaml.safe_load((CONTENT / "conditions" / "hip-osteoarthritis.yaml").read_text())
T2D = yaml.safe_load((CONTENT / "conditions" / "type-2-diabetes.yaml").read_text())


def _tpl(data: dict, **changes: object) -> ConditionTemplate:
    return ConditionTemplate.model_validate({**copy.deepcopy(data), **changes})


def _write(tmp: Path, kind: str, data: dict) -> Path:
    (tmp / kind).mkdir(parents=True, exist_ok=True)
    p = tmp / kind / f"{data['id']}.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_packaged_templates_have_no_unreachable_phase() -> None:
    for tpl in load().conditions():
        assert unreachable_phases(tpl) == [], tpl.id


def test_a_phase_without_rules_is_unreachable() -> None:
    phases = copy.deepcopy(HIP["phases"])
    phases[4]["rules"] = []
    assert unreachable_phases(_tpl(HIP, phases=phases)) == [(4, "monitoring-managing", "it has no rules")]


def test_a_phase_whose_rules_are_always_taken_by_another_phase_is_unreachable() -> None:
    """Diagnosing's only rule: any procedure in the imaging code set, priority 40; preparing has any
    procedure at all at priority 5, so it always wins."""
    phases = copy.deepcopy(HIP["phases"])
    phases[0]["rules"] = [{"table": "procedures", "code_sets": ["imaging"], "priority": 40}]
    phases[1]["rules"].append({"table": "procedures", "priority": 5})
    dead = unreachable_phases(_tpl(HIP, phases=phases))
    assert dead == [(0, "diagnosing", "a procedures rule is always taken first by a rule of preparing")]
    # the same rule at a better priority than the catch-all keeps the phase reachable
    phases[0]["rules"][0]["priority"] = 1
    assert unreachable_phases(_tpl(HIP, phases=phases)) == []
    # a narrower rule elsewhere (only at the index facility) does not shadow it
    phases[0]["rules"][0]["priority"] = 40
    phases[1]["rules"][-1]["at_index_facility"] = True
    assert unreachable_phases(_tpl(HIP, phases=phases)) == []


def test_a_rule_window_outside_every_cycle_is_unreachable() -> None:
    phases = copy.deepcopy(T2D["phases"])
    phases[0]["rules"] = [{"table": "encounters", "days": {"to_day": 0}}]
    dead = unreachable_phases(_tpl(T2D, phases=phases))
    assert dead and dead[0][:2] == (0, phases[0]["phase"]) and "before the first diagnosis" in dead[0][2]
    phases = copy.deepcopy(HIP["phases"])
    phases[0]["rules"] = [{"table": "encounters", "days": {"to_day": -240}}]  # days_before is 240
    assert unreachable_phases(_tpl(HIP, phases=phases))[0][2] == "to_day -240 is before the cycle starts (days_before 240)"


def test_validate_reports_the_unreachable_phase_with_file_and_field(tmp_path: Path) -> None:
    bad = copy.deepcopy(HIP)
    bad["phases"][4]["rules"] = []
    p = _write(tmp_path, "conditions", bad)
    errors = load(tmp_path, strict=False).errors
    assert errors == [f"{p}: phases.4: phase 'monitoring-managing' is unreachable: no event can be "
                      "assigned to it (it has no rules)"]


def test_unknown_code_system_lists_the_known_ones(tmp_path: Path) -> None:
    bad = copy.deepcopy(HIP)
    bad["code_sets"]["imaging"][0]["system"] = "SNOMED-UK"
    p = _write(tmp_path, "conditions", bad)
    errors = load(tmp_path, strict=False).errors
    assert len(errors) == 1
    assert errors[0].startswith(f"{p}: code_sets.imaging.0.system: unknown code system 'SNOMED-UK'; known: "
                                "SNOMED CT, ICD-10-CM, LOINC, CPT, HCPCS, RxNorm, CVX")


def test_unknown_flag_code_system_in_a_process_map(tmp_path: Path) -> None:
    pm = yaml.safe_load((CONTENT / "process_maps" / "migraine.yaml").read_text())
    pm["flags"][0]["codes"][0]["system"] = "http://snomed.info/sc"
    p = _write(tmp_path, "process_maps", pm)
    errors = load(tmp_path, strict=False).errors
    assert len(errors) == 1 and errors[0].startswith(
        f"{p}: flags.0.codes.0.system: unknown code system 'http://snomed.info/sc'; known: SNOMED CT")


def test_any_known_spelling_reads_as_the_system_name() -> None:
    for name, aliases in CODE_SYSTEM_ALIASES.items():
        for a in aliases:
            assert CodeGroup(system=a, codes=["x"]).system == name
