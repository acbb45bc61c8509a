"""The templates' outcome sets as data: one row per condition x measure x time point (:class:`Specs`),
with the code lists, encounter classes, PROM scales, composite components and exclusions they use
as rows keyed by a record key. The outcome families (engine/outcome_families.py) join these tables
instead of looping over measures in Python, so one expression covers every template.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.types as ir

from carevalue.definitions.base import CodeGroup
from carevalue.definitions.condition import ConditionTemplate
from carevalue.definitions.outcome import OutcomeComponent, OutcomeExclusion, OutcomeMeasure
from carevalue.definitions.valueset import ValueSet

# How a record key's records are timed and which count (conditions at onset; diagnoses when recorded; encounters of classes):
ANY, RECORDED, CLASSES = "any", "recorded", "classes"
SPEC_SCHEMA = {"_sid": "int64", "_cond": "string", "measure": "string", "tier": "int64", "level": "int64",
               "time_point": "string", "time_point_day": "int64", "_window": "int64", "_calc": "string",
               "_good": "boolean", "_instrument": "string", "_all_scales": "boolean", "_rk": "string"}


class MissingValueSet(LookupError):
    """A measure names a value set the library does not have."""


def component_groups(part: OutcomeComponent | OutcomeExclusion, value_sets: Mapping[str, ValueSet]
                     ) -> list[CodeGroup]:
    """The code groups of a component or exclusion: inline codes plus its value set's."""
    groups = list(part.codes)
    if part.value_set:
        if part.value_set not in value_sets:
            raise MissingValueSet(f"{part.id}: value set '{part.value_set}' is not in the library")
        groups += list(value_sets[part.value_set].codes)
    return groups


def measure_groups(tpl: ConditionTemplate, m: OutcomeMeasure, default_set: str | None = None) -> list[CodeGroup]:
    """A measure's inline codes plus its template code set's (or ``default_set``'s)."""
    name = m.code_set or default_set
    return list(m.codes) + (list(tpl.code_sets[name]) if name else [])


@dataclass(frozen=True)
class RecordKey:
    """Records one measure (component, exclusion) counts: matched by ``groups`` (all encounters of
    ``classes`` when a CLASSES key has no groups), timed as ``variant`` says."""

    key: str
    groups: tuple[CodeGroup, ...]
    variant: str
    classes: tuple[str, ...] = ()


@dataclass
class Specs:
    """Every condition x measure x time point of the templates, and the rows they reference."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    keys: dict[str, RecordKey] = field(default_factory=dict)
    scales: list[tuple[int, str]] = field(default_factory=list)            # (_sid, scale)
    components: list[tuple[int, str, int, bool]] = field(default_factory=list)  # (_sid, _rk, window, death)
    exclusions: list[tuple[int, str, int, int]] = field(default_factory=list)   # (_sid, _rk, from, to)

    def add_key(self, key: str, groups: Sequence[CodeGroup], variant: str, classes: Sequence[str] = ()) -> str:
        self.keys[key] = RecordKey(key, tuple(groups), variant, tuple(classes))
        return key

    def table(self, calcs: Sequence[str]) -> ir.Table:
        """The spec rows of these calculations."""
        rows = [r for r in self.rows if r["_calc"] in calcs]
        return ibis.memtable({c: [r[c] for r in rows] for c in SPEC_SCHEMA}, schema=SPEC_SCHEMA)

    def has(self, *calcs: str) -> bool:
        return any(r["_calc"] in calcs for r in self.rows)

    def classes_table(self) -> ir.Table:
        """(_rk, _class) of every CLASSES key."""
        pairs = sorted({(k.key, c) for k in self.keys.values() if k.variant == CLASSES for c in k.classes})
        return _two(pairs, "_rk", "_class")

    def keyed_groups(self) -> list[tuple[str, Sequence[CodeGroup]]]:
        return [(k.key, k.groups) for k in self.keys.values() if k.groups]

    def variants_table(self) -> ir.Table:
        """(_rk, _variant, _open): _open = a CLASSES key without groups (every encounter of its classes)."""
        ks = sorted(self.keys.values(), key=lambda k: k.key)
        return ibis.memtable({"_rk": [k.key for k in ks], "_variant": [k.variant for k in ks],
                              "_open": [not k.groups for k in ks]},
                             schema={"_rk": "string", "_variant": "string", "_open": "boolean"})

    def scales_table(self) -> ir.Table:
        return ibis.memtable({"_ssid": [s for s, _ in self.scales], "_sscale": [x for _, x in self.scales]},
                             schema={"_ssid": "int64", "_sscale": "string"})

    def components_table(self) -> ir.Table:
        cs = self.components
        return ibis.memtable({"_csid": [c[0] for c in cs], "_crk": [c[1] for c in cs],
                              "_cwin": [c[2] for c in cs], "_cdeath": [c[3] for c in cs]},
                             schema={"_csid": "int64", "_crk": "string", "_cwin": "int64", "_cdeath": "boolean"})

    def exclusions_table(self) -> ir.Table:
        xs = self.exclusions
        return ibis.memtable({"_xsid": [x[0] for x in xs], "_xrk": [x[1] for x in xs],
                              "_xfrom": [x[2] for x in xs], "_xto": [x[3] for x in xs]},
                             schema={"_xsid": "int64", "_xrk": "string", "_xfrom": "int64", "_xto": "int64"})


def _two(pairs: Sequence[tuple[str, str]], a: str, b: str) -> ir.Table:
    return ibis.memtable({a: [x for x, _ in pairs], b: [y for _, y in pairs]}, schema={a: "string", b: "string"})


def _record_key(specs: Specs, tpl: ConditionTemplate, m: OutcomeMeasure, calc: str) -> str | None:
    k = f"{tpl.id}|{m.id}"
    if calc == "event":
        return specs.add_key(k, measure_groups(tpl, m), ANY)
    if calc == "encounters":
        return specs.add_key(k, measure_groups(tpl, m), CLASSES, m.encounter_classes or ["IMP", "EMER"])
    if calc == "readmission":
        return specs.add_key(k, [], CLASSES, m.encounter_classes or ["IMP"])
    if calc == "length-of-stay":
        return specs.add_key(k, [], CLASSES, m.encounter_classes or ["IMP"])
    if calc == "latest-value":
        return specs.add_key(k, measure_groups(tpl, m), ANY)
    if calc == "time-from-diagnosis":
        return specs.add_key(k, measure_groups(tpl, m, "diagnosis"), RECORDED)
    return None


def build_specs(templates: Sequence[ConditionTemplate], value_sets: Mapping[str, ValueSet] | None = None) -> Specs:
    """The specs of every measure and time point of ``templates``; composite-event value sets come
    from ``value_sets`` (the library's)."""
    vs = value_sets or {}
    specs = Specs()
    for tpl in templates:
        for m in tpl.outcomes:
            calc = m.resolved_calculation()
            rk = _record_key(specs, tpl, m, calc)
            parts: list[tuple[str, OutcomeComponent]] = []
            excl: list[tuple[str, OutcomeExclusion]] = []
            if calc == "composite-event":
                for comp in m.components:
                    ck = f"{tpl.id}|{m.id}|c:{comp.id}"
                    if not comp.death:
                        variant = CLASSES if comp.encounter_classes else ANY
                        specs.add_key(ck, component_groups(comp, vs), variant, comp.encounter_classes)
                    parts.append((ck, comp))
                for ex in m.exclusions:
                    xk = specs.add_key(f"{tpl.id}|{m.id}|x:{ex.id}", component_groups(ex, vs), ANY)
                    excl.append((xk, ex))
            for tp in m.time_points:
                sid = len(specs.rows)
                good = (calc == "survival") if calc in ("survival", "mortality") else m.direction == "higher-better"
                specs.rows.append({
                    "_sid": sid, "_cond": tpl.id, "measure": m.id, "tier": m.tier, "level": m.level,
                    "time_point": tp.label, "time_point_day": tp.day, "_window": tp.window_days, "_calc": calc,
                    "_good": good, "_instrument": m.instrument, "_all_scales": not m.scales, "_rk": rk})
                specs.scales += [(sid, s) for s in m.scales]
                specs.components += [(sid, ck, min(comp.within_days, tp.day), comp.death) for ck, comp in parts]
                specs.exclusions += [(sid, xk, ex.from_day, ex.to_day) for xk, ex in excl]
    return specs
