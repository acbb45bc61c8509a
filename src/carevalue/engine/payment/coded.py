"""Every code list the payment content names, matched once against the store's procedures and
diagnoses as data (a :mod:`carevalue.engine.code_match` equi-join, not an ``IN``/``startswith``
chain per list): one small table of (record, key) rows that the DRG grouper, complication care,
warranties and exclusions filter by key, so each compiles to a few lines of SQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ibis
import ibis.expr.types as ir
from ibis.backends import BaseBackend

from carevalue.definitions.base import CodeGroup
from carevalue.engine import code_match

PROCEDURES, DIAGNOSES = "procedures", "conditions"
COLUMNS = ("_src", "_rid", "patient_id", "encounter_id", "ts", "_key")


@dataclass
class CodeLists:
    """Keyed code lists to match: ``procedures`` against procedure records, ``diagnoses`` against
    condition records (a key names one list; the caller chooses keys that say what it is for)."""

    procedures: dict[str, list[CodeGroup]] = field(default_factory=dict)
    diagnoses: dict[str, list[CodeGroup]] = field(default_factory=dict)

    def add(self, source: str, key: str, groups: Sequence[CodeGroup]) -> str:
        """Add a list (kept only when it has codes) and return its key."""
        if groups:
            target = self.procedures if source == PROCEDURES else self.diagnoses
            target.setdefault(key, []).extend(groups)
        return key


def _records(con: BaseBackend, source: str) -> ir.Table:
    """The source's records as ``_src, _rid, patient_id, encounter_id, ts, _system, _code`` (a
    timestamp column the table lacks is null: the grouper of a hand-made store needs none)."""
    t = con.table(source)
    stamps = ("start_ts",) if source == PROCEDURES else ("onset_ts", "recorded_ts")
    have = [t[c] for c in stamps if c in t.columns]
    ts = ibis.coalesce(*have) if len(have) > 1 else have[0] if have else ibis.null("timestamp")
    rid = "procedure_id" if source == PROCEDURES else "condition_id"
    return t.select(_src=ibis.literal(source), _rid=t[rid], patient_id="patient_id",
                    encounter_id="encounter_id", ts=ts, _system="code_system", _code="code")


def coded_records(con: BaseBackend, lists: CodeLists) -> ir.Table:
    """(_src, _rid, patient_id, encounter_id, ts, _key): each procedure (``ts`` = start) and
    condition (``ts`` = onset, else recorded) matching a keyed list, once per key. Records carry
    their id, so two records are never merged."""
    parts = []
    for source, keyed in ((PROCEDURES, lists.procedures), (DIAGNOSES, lists.diagnoses)):
        if not keyed:
            continue
        rows = code_match.code_rows(keyed.items())
        parts.append(code_match.match(_records(con, source), rows, code_match.shapes_of(keyed.items())))
    if not parts:
        return ibis.memtable({c: [] for c in COLUMNS}, schema={
            "_src": "string", "_rid": "string", "patient_id": "string", "encounter_id": "string",
            "ts": "timestamp", "_key": "string"})
    u = ibis.union(*parts) if len(parts) > 1 else parts[0]
    return u.select(*COLUMNS)


def with_key(coded: ir.Table, keys: Sequence[str]) -> ir.Table:
    """The coded rows of ``keys`` (none: an empty selection)."""
    return coded.filter(coded._key.isin(list(keys)) if keys else ibis.literal(False))
