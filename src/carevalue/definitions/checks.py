"""Checks over the whole library that one file's model cannot make: phases no rule can reach,
process-map steps in a phase their template never assigns, and numbers without a source."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carevalue.definitions.condition import ConditionTemplate, EventRule
from carevalue.definitions.process_map import ProcessMap
from carevalue.definitions.sources import unsourced_numbers

if TYPE_CHECKING:
    from carevalue.definitions.loader import Library

_SHOWN = 5  # unsourced field paths listed per definition before "... and N more"


def _covers(set_a: list[str], set_b: list[str]) -> bool:
    """A filter list ``a`` (empty = anything) lets through everything filter ``b`` does."""
    return not set_a or (bool(set_b) and set(set_b) <= set(set_a))


def _within(a: EventRule, b: EventRule) -> bool:
    """Every day rule ``b`` accepts, ``a`` accepts too."""
    lo_a, hi_a = (a.days.from_day, a.days.to_day) if a.days else (None, None)
    lo_b, hi_b = (b.days.from_day, b.days.to_day) if b.days else (None, None)
    lo_ok = lo_a is None or (lo_b is not None and lo_b >= lo_a)
    hi_ok = hi_a is None or (hi_b is not None and hi_b <= hi_a)
    return lo_ok and hi_ok


def covers(a: EventRule, b: EventRule) -> bool:
    """Rule ``a`` matches every event rule ``b`` matches."""
    return (a.table == b.table and _covers(a.code_sets, b.code_sets) and _covers(a.class_codes, b.class_codes)
            and _covers(a.categories, b.categories) and (b.at_index_facility or not a.at_index_facility)
            and _within(a, b))


def impossible(tpl: ConditionTemplate, rule: EventRule) -> str | None:
    """Why the rule's day window lies outside every cycle of the template, or None."""
    to_day = rule.days.to_day if rule.days else None
    if to_day is None:
        return None
    if tpl.cycle.kind == "chronic" and to_day <= 0:
        return f"to_day {to_day} is before the first diagnosis that starts every chronic period"
    if tpl.cycle.kind == "acute" and len(tpl.cycle.triggers) == 1 and to_day <= -tpl.cycle.days_before:
        return f"to_day {to_day} is before the cycle starts (days_before {tpl.cycle.days_before})"
    return None


def unreachable_phases(tpl: ConditionTemplate) -> list[tuple[int, str, str]]:
    """(index, phase, why) of each declared phase to which no event can be assigned: it has no rule,
    or every rule is outside the cycle window or always beaten by a better-ranked rule of another
    phase (lower priority; on a tie the rule listed first) matching the same events."""
    ranked = sorted(((r.priority, n, ph.phase, r) for n, (ph, r) in
                     enumerate((ph, r) for ph in tpl.phases for r in ph.rules)), key=lambda x: (x[0], x[1]))
    order = {id(r): k for k, (_, _, _, r) in enumerate(ranked)}
    out: list[tuple[int, str, str]] = []
    for i, ph in enumerate(tpl.phases):
        if not ph.rules:
            out.append((i, ph.phase, "it has no rules"))
            continue
        reasons = []
        for r in ph.rules:
            why = impossible(tpl, r)
            if why is None:
                beaten = next((p for _, _, p, other in ranked[:order[id(r)]]
                               if p != ph.phase and covers(other, r)), None)
                if beaten is None:
                    break
                why = f"a {r.table} rule is always taken first by a rule of {beaten}"
            reasons.append(why)
        else:
            out.append((i, ph.phase, "; ".join(dict.fromkeys(reasons))))
    return out


def check_library(lib: Library) -> tuple[list[str], list[str]]:
    """(errors, warnings) of the library-wide checks."""
    errors: list[str] = []
    warnings: list[str] = []
    reachable: dict[str, set[str]] = {}
    for tid, tpl in lib.kind("conditions").items():
        dead = unreachable_phases(tpl)
        reachable[tid] = set(tpl.phase_order()) - {p for _, p, _ in dead}
        for i, phase, why in dead:
            errors.append(f"{lib.file_of('conditions', tid)}: phases.{i}: phase {phase!r} is unreachable: "
                          f"no event can be assigned to it ({why})")
    for mid, pm in lib.kind("process_maps").items():
        if not isinstance(pm, ProcessMap) or pm.scope != "condition" or pm.applies_to not in reachable:
            continue
        phases = reachable[pm.applies_to]
        for i, step in enumerate(pm.steps):
            if step.phase not in phases:
                warnings.append(f"{lib.file_of('process_maps', mid)}: steps.{i}.phase: {step.phase!r} is not a "
                                f"phase template {pm.applies_to!r} assigns events to; allowed: {sorted(phases)}")
    for folder, objs in sorted(lib.by_kind.items()):
        for did, obj in sorted(objs.items()):
            missing = unsourced_numbers(obj)
            if missing:
                more = f" ... and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
                warnings.append(f"{lib.file_of(folder, did)}: {len(missing)} numbers without a source in scope "
                                f"({', '.join(missing[:_SHOWN])}{more}); add `source:` (a citation, or "
                                f"'assumption: <who/why>') to the definition or to the part holding them")
    return errors, warnings
