"""Match a table's code columns against code groups from content, as one Ibis boolean expression.

Systems match on any known alias (FHIR URI, Synthea name, OID) or when the source gave no system;
ICD-10 codes compare without dots so ``M16.11`` and ``M1611`` are the same code, and prefix
patterns (``M16.*``) match every code that starts with the prefix. With a :class:`CodeMap` (the
library's SNOMED CT -> ICD-10-CM crosswalk) a group written in ICD-10-CM also matches a SNOMED CT
coded record whose crosswalk target is in the group.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from carevalue.definitions.base import CODE_SYSTEM_ALIASES, CodeGroup

_DOTLESS = {"ICD-10-CM"}


def _dotless(code: str) -> str:
    return code.strip().upper().replace(".", "")


@dataclass(frozen=True)
class CodeMap:
    """Pairs (source code, target code) from ``source`` to ``target`` (targets dot-free)."""

    pairs: tuple[tuple[str, str], ...]
    source: str = "SNOMED CT"
    target: str = "ICD-10-CM"

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str]], source: str = "SNOMED CT",
           target: str = "ICD-10-CM") -> CodeMap:
        return cls(tuple(sorted({(s.strip(), _dotless(t)) for s, t in pairs if s and t})), source, target)

    def sources_for(self, group: CodeGroup) -> list[str]:
        """Source codes whose target is one of the group's codes or starts with one of its prefixes."""
        if group.system != self.target:
            return []
        exact = {_dotless(x) for x in group.exact()}
        prefixes = tuple(_dotless(p) for p in group.prefixes())
        return sorted({s for s, t in self.pairs if t in exact or (prefixes and t.startswith(prefixes))})


def matches(system: ir.StringValue, code: ir.StringValue, groups: Sequence[CodeGroup],
            crosswalk: CodeMap | None = None) -> ir.BooleanValue:
    """True where (system, code) is in any of the groups, directly or through ``crosswalk``;
    False for no groups."""
    out: ir.BooleanValue = ibis.literal(False)
    for g in groups:
        sys_ok = system.isnull() | system.isin(list(CODE_SYSTEM_ALIASES[g.system]))
        c = code.replace(".", "") if g.system in _DOTLESS else code
        exact = [x.replace(".", "") if g.system in _DOTLESS else x for x in g.exact()]
        hit: ir.BooleanValue = c.isin(exact) if exact else ibis.literal(False)
        for p in g.prefixes():
            hit = hit | c.startswith(p)
        out = out | (sys_ok & code.notnull() & hit)
        mapped = crosswalk.sources_for(g) if crosswalk is not None else []
        if mapped and crosswalk is not None:
            src_ok = system.isin(list(CODE_SYSTEM_ALIASES[crosswalk.source]))
            out = out | (src_ok & code.strip().isin(mapped))
    return out
