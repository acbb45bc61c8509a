"""Match coded records against many keyed code lists at once, as equi-joins (the set-based twin of
:func:`carevalue.engine.codesets.matches`, with the same semantics).

Content's code groups become rows (:func:`code_rows`): one per key x code, with the code system, how
the record's code is normalised before comparing (``raw``; ``dotless`` for ICD-10-CM; ``xw`` =
stripped, for SNOMED CT sources of the crosswalk) and, for a prefix, its length. :func:`match` joins
records on (normalisation, length, code): a prefix of length L matches the first L characters of the
record's code, so no ``startswith`` or ``isin`` chains are compiled, however many codes content has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ibis
import ibis.expr.types as ir

from carevalue.definitions.base import CODE_SYSTEM_ALIASES, CodeGroup
from carevalue.engine.codesets import _DOTLESS, CodeMap

EXACT = -1  # the length of an exact (non-prefix) code row
ROW_SCHEMA = {"_key": "string", "_sys": "string", "_norm": "string", "_len": "int64", "_c": "string"}


def group_rows(key: str, groups: Sequence[CodeGroup], crosswalk: CodeMap | None = None
               ) -> list[tuple[str, str, str, int, str]]:
    """Rows (key, system, normalisation, prefix length or EXACT, code) of one keyed code list."""
    out: set[tuple[str, str, str, int, str]] = set()
    for g in groups:
        dotless = g.system in _DOTLESS
        norm = "dotless" if dotless else "raw"
        for x in g.exact():
            out.add((key, g.system, norm, EXACT, x.replace(".", "") if dotless else x))
        for p in g.prefixes():
            out.add((key, g.system, norm, len(p), p))
        if crosswalk is not None:
            for s in crosswalk.sources_for(g):
                out.add((key, crosswalk.source, "xw", EXACT, s))
    return sorted(out)


def code_rows(keyed: Iterable[tuple[str, Sequence[CodeGroup]]], crosswalk: CodeMap | None = None) -> ir.Table:
    """The code rows of every (key, groups) as one memtable (columns of ``ROW_SCHEMA``)."""
    rows = sorted({r for key, groups in keyed for r in group_rows(key, groups, crosswalk)})
    cols = list(ROW_SCHEMA)
    return ibis.memtable({c: [r[i] for r in rows] for i, c in enumerate(cols)}, schema=ROW_SCHEMA)


def _aliases() -> ir.Table:
    pairs = sorted({(a, s) for s, al in CODE_SYSTEM_ALIASES.items() for a in al})
    return ibis.memtable({"_alias": [a for a, _ in pairs], "_csys": [s for _, s in pairs]},
                         schema={"_alias": "string", "_csys": "string"})


def _normalised(code: ir.StringValue, norm: str) -> ir.StringValue:
    if norm == "dotless":
        return code.replace(".", "")
    if norm == "xw":
        return code.strip()
    return code


def match(records: ir.Table, rows: ir.Table, shapes: Iterable[tuple[str, int]]) -> ir.Table:
    """Each record (columns ``_system``, ``_code`` and any others) joined to the keys whose code rows
    it matches: the record's columns without ``_system``/``_code``, plus ``_key``; distinct.
    ``shapes`` are the (normalisation, length) pairs the rows use (:func:`shapes_of`). A record
    matches a row when its system is one of the row system's aliases, or it has no system (a
    crosswalk row needs the source system)."""
    keep = [c for c in records.columns if c not in ("_system", "_code")]
    al = _aliases()
    r = records.left_join(al, records._system == al._alias).drop("_alias")
    parts = []
    for norm, length in sorted(set(shapes)):
        c = _normalised(r._code, norm)
        if length != EXACT:
            c = c.substr(0, length)
        parts.append(r.select(*keep, "_system", "_csys", _rn=ibis.literal(norm), _rl=ibis.literal(length, "int64"),
                              _rc=c))
    if not parts:
        return records.select(*keep, _key=ibis.null().cast("string")).limit(0)
    long = ibis.union(*parts) if len(parts) > 1 else parts[0]
    j = long.inner_join(rows, [long._rn == rows._norm, long._rl == rows._len, long._rc == rows._c])
    ok = (j._system.isnull() & (j._norm != "xw")) | (j._csys == j._sys)
    return j.filter(ok).select(*keep, "_key").distinct()


def shapes_of(keyed: Iterable[tuple[str, Sequence[CodeGroup]]], crosswalk: CodeMap | None = None
              ) -> set[tuple[str, int]]:
    """The (normalisation, length) pairs the code rows of ``keyed`` use."""
    return {(n, ln) for key, groups in keyed for _k, _s, n, ln, _c in group_rows(key, groups, crosswalk)}
