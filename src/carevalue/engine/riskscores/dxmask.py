"""Per-patient code words straight from the store: each condition's codes looked up once in a code table.

The same diagnoses as :func:`carevalue.engine.riskscores.diagnoses.diagnosis_codes` (own ICD-10
code, extra ICD-10 codings, the crosswalk's targets for a SNOMED CT condition without an ICD-10
coding, in the look-back window), but each code is turned into the integer words of a code table
where it is found and the words are OR-ed per patient: the codings are looked up before they are
joined to their conditions and the crosswalk is looked up once (it is small), so each condition is
one row with no string kept past the join.
"""

from __future__ import annotations

from datetime import date

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from carevalue.engine.riskscores.crosswalk import crosswalk_table
from carevalue.engine.riskscores.diagnoses import (
    Crosswalk,
    in_window,
    is_icd10,
    is_snomed,
    normalised,
)


@ibis.udf.agg.builtin
def bit_or(x: int) -> int:  # type: ignore[empty-body]
    """Bitwise OR of a group (a built-in of DuckDB and Spark SQL; ibis's own BitOr has no Spark rule)."""


def _looked_up(t: ir.Table, key: ir.StringValue, codes: ir.Table, words: list[str], prefix: str,
               keep: list[str]) -> ir.Table:
    """``t``'s ``keep`` columns and the code table's ``words`` (as ``prefix`` + word) of ``key``
    (left join: a key not in the table, or null, gets nulls)."""
    k = t.select(*keep, _key=key)
    j = k.left_join(codes, k._key == codes.icd10)
    return j.select(*keep, **{prefix + w: j[w] for w in words})


def _crosswalk_words(crosswalk: ir.Table | pa.Table, codes: ir.Table, words: list[str]) -> ir.Table:
    """snomed code -> the OR of the words of its ICD-10 targets that are in the code table."""
    xw = crosswalk_table(crosswalk) if isinstance(crosswalk, pa.Table) else crosswalk
    j = xw.select("snomed_code", "icd10").join(codes, "icd10")
    return j.group_by(_snomed="snomed_code").aggregate(**{"s" + w: bit_or(j[w]) for w in words})


def patient_words(conditions: ir.Table, codings: ir.Table | None, codes: ir.Table, words: list[str],
                  as_of: date, lookback_days: int | None = 365, crosswalk: Crosswalk = None,
                  patients: ir.Table | None = None) -> ir.Table:
    """patient_id and, per word of ``codes`` (a table of icd10, upper case without dots, and integer
    ``words``), the OR over the patient's diagnoses in the window; only patients with a code of
    the table (a word may still be 0 or null)."""
    cond = in_window(conditions, as_of, lookback_days, patients)
    own = ibis.ifelse(is_icd10(cond.code_system), normalised(cond.code), ibis.null("string"))
    keep = ["condition_id", "patient_id", "code_system", "code"]
    c = _looked_up(cond, own, codes, words, "o", keep)
    parts: list[str] = ["o"]
    if codings is not None:
        x = codings.filter((codings.record_table == "conditions") & is_icd10(codings.code_system)
                           & codings.code.notnull())
        # Every ICD-10 coding is kept (null words when its code is not in the table): having one is
        # what stops the crosswalk, mapped or not.
        xk = _looked_up(x.select(_rid=x.record_id, code=x.code), normalised(x.code), codes, words, "k", ["_rid"])
        c = c.left_join(xk, c.condition_id == xk._rid)
        parts.append("k")
    if crosswalk is not None:
        sw = _crosswalk_words(crosswalk, codes, words)
        no_coding = c._rid.isnull() if codings is not None else ibis.literal(True)
        # Null unless SNOMED CT coded with no ICD-10 coding, so that the left join stays one equi-join.
        c = c.mutate(_xkey=ibis.ifelse(no_coding & is_snomed(c.code_system), c.code.strip(), ibis.null("string")))
        c = c.left_join(sw, c._xkey == sw._snomed)
        parts.append("s")

    def word(w: str) -> ir.IntegerValue:
        out: ir.IntegerValue = c[parts[0] + w].fill_null(0)
        for p in parts[1:]:
            out = out | c[p + w].fill_null(0)
        return out

    rows = c.select("patient_id", **{w: word(w) for w in words})
    return rows.group_by("patient_id").aggregate(**{w: bit_or(rows[w]) for w in words})
