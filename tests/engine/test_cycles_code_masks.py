"""cycles.in_groups (codes matched once per distinct code, in Python) agrees with codesets.matches
(the Ibis expression every other stage uses) on every code set of the shipped templates."""

from __future__ import annotations

import ibis

from carevalue.definitions.base import CODE_SYSTEM_ALIASES
from carevalue.definitions.loader import load
from carevalue.engine.codesets import matches
from carevalue.engine.cycles import in_groups


def _probe_codes(groups):  # type: ignore[no-untyped-def]
    rows = []
    for g in groups:
        systems = [*sorted(CODE_SYSTEM_ALIASES[g.system])[:2], None, "http://example.org/other"]
        for c in g.codes[:5]:
            base = c.rstrip("*").rstrip(".")
            for code in {base, base + "1", base.replace(".", ""), base[:-1], c, base + ".9"}:
                rows += [(s, code) for s in systems]
    rows.append((None, None))
    return rows


def test_in_groups_matches_the_backend_expression():
    con = ibis.duckdb.connect()
    checked = 0
    for tpl in load().conditions():
        for name, groups in tpl.code_sets.items():
            rows = _probe_codes(groups)
            t = ibis.memtable({"s": [r[0] for r in rows], "c": [r[1] for r in rows]},
                              schema={"s": "string", "c": "string"})
            got = con.to_pyarrow(t.select("s", "c", hit=matches(t.s, t.c, groups).fill_null(False)))
            for s, c, hit in zip(*[got.column(k).to_pylist() for k in ("s", "c", "hit")], strict=True):
                assert in_groups(s, c, groups) == bool(hit), (tpl.id, name, s, c)
                checked += 1
    assert checked > 1000
