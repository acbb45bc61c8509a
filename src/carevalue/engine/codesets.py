"""Match a table's code columns against code groups from content, as one Ibis boolean expression.

Systems match on any known alias (FHIR URI, Synthea name, OID) or when the source gave no system;
ICD-10 codes compare without dots so ``M16.11`` and ``M1611`` are the same code, and prefix
patterns (``M16.*``) match every code that starts with the prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from carevalue.definitions.base import CODE_SYSTEM_ALIASES, CodeGroup

_DOTLESS = {"ICD-10-CM"}


def matches(system: ir.StringValue, code: ir.StringValue, groups: Sequence[CodeGroup]) -> ir.BooleanValue:
    """True where (system, code) is in any of the groups; False for no groups."""
    out: ir.BooleanValue = ibis.literal(False)
    for g in groups:
        sys_ok = system.isnull() | system.isin(list(CODE_SYSTEM_ALIASES[g.system]))
        c = code.replace(".", "") if g.system in _DOTLESS else code
        exact = [x.replace(".", "") if g.system in _DOTLESS else x for x in g.exact()]
        hit: ir.BooleanValue = c.isin(exact) if exact else ibis.literal(False)
        for p in g.prefixes():
            hit = hit | c.startswith(p)
        out = out | (sys_ok & code.notnull() & hit)
    return out
