"""Plausibility checks over the whole store after ingest (content/plausibility-rules, after OHDSI's
Data Quality Dashboard): each violation becomes a ``plausibility_flags`` row with its reason.

Records stay stored (read = stored + quarantined is untouched); engine/record_filter.counting
leaves out records flagged ``exclude`` (and every record of an excluded patient).
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.plausibility_rule import PlausibilityCheck, PlausibilityRules
from carevalue.model import table as declared

FLAG_COLUMNS = ("record_table", "record_id", "patient_id", "rule", "action", "detail", "record_source")

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


def _check(con: BaseBackend, chk: PlausibilityCheck, as_of: date) -> list[ir.Table]:
    pts = con.table("patients")
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
    have = set(con.list_tables())
    p = pts.select(_pid="patient_id", _birth="birth_date", _death="death_date")
    for name in chk.tables:
        if name not in have or name not in EVENT_DATE:
            continue
        t = con.table(name)
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


def violations(con: BaseBackend, rules: PlausibilityRules, as_of: date | None = None) -> ir.Table:
    """Every violation of every check (``FLAG_COLUMNS``); ``as_of`` (default today) for future dates."""
    parts = [x for chk in rules.checks for x in _check(con, chk, as_of or date.today())]
    return ibis.union(*parts) if len(parts) > 1 else parts[0]


def flag(con: BaseBackend, rules: PlausibilityRules, as_of: date | None = None) -> dict[str, int]:
    """Re-derive ``plausibility_flags`` for the whole store; returns violations per reason."""
    v = violations(con, rules, as_of).execute()
    con.raw_sql("DELETE FROM plausibility_flags")
    if len(v):
        con.insert("plausibility_flags", v[list(FLAG_COLUMNS)])
    by_rule = {c.id: c for c in rules.checks}
    counts = v.groupby("rule").size().to_dict() if len(v) else {}
    return {f"{by_rule[k].reason} ({by_rule[k].action})": int(n) for k, n in sorted(counts.items())}
