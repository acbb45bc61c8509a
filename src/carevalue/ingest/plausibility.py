"""Plausibility checks over the whole store after ingest (content/plausibility-rules, after OHDSI's
Data Quality Dashboard): each violation becomes a ``plausibility_flags`` row with its reason.

Records stay stored (read = stored + quarantined is untouched); engine/record_filter.counting
leaves out records flagged ``exclude`` (and every record of an excluded patient).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import date

import duckdb
import ibis
import ibis.expr.types as ir

from carevalue.definitions.plausibility_rule import PlausibilityCheck, PlausibilityRules
from carevalue.ingest.batch import arrow_schema
from carevalue.model import TABLES
from carevalue.model import table as declared

FLAG_COLUMNS = ("record_table", "record_id", "patient_id", "rule", "action", "detail", "record_source")

# A store holds every declared core table (created when it is opened).
_STORED = {t.name for t in TABLES}

# The date that places each event table's record in time.
EVENT_DATE = {
    "encounters": "start_ts", "conditions": "onset_ts", "procedures": "start_ts",
    "observations": "effective_ts", "medications": "authored_ts", "immunizations": "occurrence_ts",
    "claims": "service_start", "questionnaire_responses": "authored_ts",
}


def _flags(t: ir.Table, name: str, chk: PlausibilityCheck, pid: ir.Value, detail: ir.StringValue) -> ir.Table:
    key = declared(name).key[0]
    return t.select(record_table=ibis.literal(name), record_id=t[key].cast("string"),
                    patient_id=pid.cast("string"), rule=ibis.literal(chk.id), action=ibis.literal(chk.action),
                    detail=detail, record_source=t.source)


def _check(table: Callable[[str], ir.Table], chk: PlausibilityCheck, as_of: date) -> list[ir.Table]:
    pts = table("patients")
    if chk.check == "birth-in-future":
        bad = pts.filter(pts.birth_date > ibis.literal(as_of))
        return [_flags(bad, "patients", chk, bad.patient_id,
                       f"{chk.reason}: born " + bad.birth_date.cast("string") + f", checked on {as_of}")]
    if chk.check == "birth-before":
        assert chk.date is not None
        bad = pts.filter(pts.birth_date < ibis.literal(chk.date))
        return [_flags(bad, "patients", chk, bad.patient_id,
                       f"{chk.reason}: born " + bad.birth_date.cast("string"))]
    out = []
    p = pts.select(_pid="patient_id", _birth="birth_date", _death="death_date")
    for name in chk.tables:
        if name not in EVENT_DATE or name not in _STORED:
            continue
        t = table(name)
        ts = t[EVENT_DATE[name]]
        j = t.inner_join(p, t.patient_id == p._pid)
        ts = j[EVENT_DATE[name]]
        if chk.check == "before-birth":
            bad = j.filter(ts.date() < j._birth)
            what = " on " + bad[EVENT_DATE[name]].date().cast("string") + ", born " + bad._birth.cast("string")
        else:
            bad = j.filter(ts.date() > j._death + ibis.interval(days=chk.days))
            what = " on " + bad[EVENT_DATE[name]].date().cast("string") + ", died " + bad._death.cast("string")
        out.append(_flags(bad, name, chk, bad.patient_id, ibis.literal(f"{chk.reason}: {name[:-1]}") + what))
    return out


def _declared(name: str) -> ir.Table:
    """A core table as declared (unbound): the checks compile to SQL without touching a store."""
    return ibis.table(ibis.Schema.from_pyarrow(arrow_schema(name)), name=name)


def violations_sql(rules: PlausibilityRules, as_of: date | None = None) -> str:
    """One DuckDB query for every violation of every check (``FLAG_COLUMNS``), over the declared
    core tables; ``as_of`` (default today) for future dates. It needs no store, so an ingest
    compiles it while files are still being parsed; a process compiles the same rules once a day."""
    return _compiled(rules.model_dump_json(), as_of or date.today())


@functools.lru_cache(maxsize=8)
def _compiled(rules_json: str, as_of: date) -> str:
    rules = PlausibilityRules.model_validate_json(rules_json)
    parts = [x for chk in rules.checks for x in _check(_declared, chk, as_of)]
    expr = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return str(ibis.to_sql(expr, dialect="duckdb"))


def flag(con: duckdb.DuckDBPyConnection, sql: str, rules: PlausibilityRules) -> dict[str, int]:
    """Re-derive ``plausibility_flags`` for the whole store from :func:`violations_sql` (in the
    store, no rows pulled out); returns violations per reason."""
    cols = ", ".join(FLAG_COLUMNS)
    con.execute("DELETE FROM plausibility_flags")
    con.execute(f"INSERT INTO plausibility_flags ({cols}) SELECT {cols} FROM ({sql})")
    counts = con.execute("SELECT rule, count(*) FROM plausibility_flags GROUP BY rule ORDER BY rule").fetchall()
    by_rule = {c.id: c for c in rules.checks}
    return {f"{by_rule[k].reason} ({by_rule[k].action})": int(n) for k, n in counts}
