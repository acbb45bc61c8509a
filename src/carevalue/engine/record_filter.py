"""What counts: every stage reads core tables through :func:`counting`, the one place status
semantics (content/record-rules) and plausibility exclusions (``plausibility_flags``) apply.

Nothing is deleted from the store; a record that does not count is simply not in the view.
:func:`excluded` lists each record left out with its reason, for reports and tests. The rules
always come from the caller (the run's definitions library); engine code never loads content.
:class:`Counted` hands engine code a store whose core tables hold only what counts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.record_rule import RecordRules
from carevalue.engine.codesets import CodeMap
from carevalue.model import TABLES
from carevalue.model import table as declared

FLAGS = "plausibility_flags"
CORE = frozenset(t.name for t in TABLES)


def _key(name: str) -> str:
    return declared(name).key[0]


def _status_ok(t: ir.Table, rules: RecordRules, name: str) -> ir.BooleanValue:
    ok: ir.BooleanValue = ibis.literal(True)
    for r in rules.for_table(name):
        if r.column not in t.columns:
            continue
        col = t[r.column]
        known = col.isin(r.codes())
        keep = col.isin(r.counts) if r.counts else ibis.literal(False)
        if r.other_counts:
            keep = keep | ~known
        ok = ok & ibis.cases((col.isnull(), ibis.literal(r.missing_counts)), else_=keep)
    return ok


def _excluded_by_flags(con: BaseBackend, name: str) -> tuple[ir.Table | None, ir.Table | None]:
    """(record ids, patient ids) excluded by plausibility flags, when the store has flags."""
    if FLAGS not in con.list_tables():
        return None, None
    f = con.table(FLAGS).filter(lambda f: f.action == "exclude")
    rec = f.filter(f.record_table == name).select(_xid="record_id").distinct()
    pat = f.filter(f.record_table == "patients").select(_xpid="record_id").distinct()
    return rec, pat


def counting(con: BaseBackend, name: str, rules: RecordRules) -> ir.Table:
    """The rows of core table ``name`` that count, with closing rules applied (same columns)."""
    t = con.table(name)
    cols = t.columns
    t = t.filter(_status_ok(t, rules, name))
    if rules.follow_encounter and name != "encounters" and "encounter_id" in cols \
            and "encounters" in con.list_tables():
        e = con.table("encounters")
        gone = e.filter(~_status_ok(e, rules, "encounters")).select(_xeid="encounter_id")
        t = t.anti_join(gone, t.encounter_id == gone._xeid)
    rec, pat = _excluded_by_flags(con, name)
    if rec is not None and pat is not None:
        t = t.anti_join(rec, t[_key(name)] == rec._xid)
        if "patient_id" in cols and name != "patients":
            t = t.anti_join(pat, t.patient_id == pat._xpid)
    for c in rules.closing:
        if c.table == name and c.end_column in cols:
            fill = ibis.coalesce(*[t[f] for f in c.fill_from]).cast(t[c.end_column].type())
            t = t.mutate(**{c.end_column: ibis.cases(
                (t[c.column].isin(c.values) & t[c.end_column].isnull(), fill), else_=t[c.end_column])})
    return t.select(*cols)


@contextmanager
def joins_as_written(con: BaseBackend) -> Iterator[None]:
    """On DuckDB, build every hash join on the side the query puts on the right for the duration
    of the block (other backends plan as they do).

    DuckDB estimates each anti join of :func:`counting` (excluded encounters, plausibility flags)
    to keep a fraction of its input, so a query over counted records takes them for its smallest
    input and builds its hash tables on them, though they are its largest (millions of events
    against thousands of cycles). The queries that use this put the small side on the right."""
    if getattr(con, "name", None) != "duckdb":
        yield
        return
    before = str(con.raw_sql("SELECT current_setting('disabled_optimizers')").fetchone()[0])  # type: ignore[attr-defined]
    names = [n.strip() for n in before.split(",") if n.strip()]
    con.raw_sql(f"SET disabled_optimizers = '{','.join([*names, 'build_side_probe_side'])}'")
    try:
        yield
    finally:
        con.raw_sql(f"SET disabled_optimizers = '{before}'")


def excluded(con: BaseBackend, name: str, rules: RecordRules) -> ir.Table:
    """(record_id, reason) of each record of ``name`` that does not count, with the first reason."""
    t = con.table(name)
    key = t[_key(name)]
    reasons: list[tuple[ir.BooleanValue, ir.StringValue]] = []
    for r in rules.for_table(name):
        if r.column not in t.columns:
            continue
        col = t[r.column]
        for code, why in r.excluded.items():
            reasons.append((col == code, ibis.literal(f"{r.element} {why}")))
        if not r.missing_counts:
            reasons.append((col.isnull(), ibis.literal(f"{r.element} missing")))
        if not r.other_counts:
            reasons.append((col.notnull() & ~col.isin(r.codes()), ibis.literal(f"{r.element} not in {r.value_set}")))
    why = ibis.cases(*reasons, else_=ibis.null().cast("string")) if reasons else ibis.null().cast("string")
    out = t.select(record_id=key.cast("string"), reason=why)
    kept = counting(con, name, rules).select(_k=lambda x: x[_key(name)].cast("string"))
    out = out.anti_join(kept, out.record_id == kept._k)
    return out.mutate(reason=out.reason.fill_null("follows an excluded encounter, or fails a plausibility rule"))


@dataclass(frozen=True)
class Counted:
    """A store seen through the record rules: a core table holds only its rows that count
    (:func:`counting`); every other table (measure tables of earlier stages) reads as stored.
    ``crosswalk`` is the library's code map that value sets match through (None: none)."""

    con: BaseBackend
    rules: RecordRules
    crosswalk: CodeMap | None = None
    written: dict[str, str] = field(default_factory=dict)

    def table(self, name: str) -> ir.Table:
        if name in self.written:
            return self.con.table(self.written[name])
        return counting(self.con, name, self.rules) if name in CORE else self.con.table(name)

    def materialised(self, names: Sequence[str], prefix: str = "_counted_") -> Counted:
        """The same view with the counting rows of ``names`` written once as scratch tables (a stage
        that queries them many times then does not re-apply the rules each time); drop them with
        :meth:`drop`."""
        from carevalue.backends import write_table

        have = set(self.con.list_tables())
        written = dict(self.written)
        for n in names:
            if n in CORE and n in have:
                write_table(self.con, prefix + n, counting(self.con, n, self.rules))
                written[n] = prefix + n
        return Counted(self.con, self.rules, self.crosswalk, written)

    def drop(self) -> None:
        """Drop the scratch tables :meth:`materialised` wrote."""
        for scratch in self.written.values():
            self.con.raw_sql(f"DROP TABLE IF EXISTS {scratch}")

    def list_tables(self) -> list[str]:
        return list(self.con.list_tables())
