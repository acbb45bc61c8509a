"""Per-patient code words straight from the store: each distinct code looked up once in a code table.

The same diagnoses as :func:`carevalue.engine.riskscores.diagnoses.diagnosis_codes` (own ICD-10
code, extra ICD-10 codings, the crosswalk's targets for a SNOMED CT condition without an ICD-10
coding, in the look-back window), but turned into the integer words of a code table and OR-ed per
patient. The distinct (code_system, code) pairs of the conditions and of the codings (a few
thousand, however many records) are cleaned, tested for their system and looked up in the code
table and the crosswalk once; each record then finds its words by one equi-join on its own
(code_system, code), with no string function per record.
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


def _crosswalk_words(crosswalk: ir.Table | pa.Table, codes: ir.Table, words: list[str]) -> ir.Table:
    """_snomed -> the OR of the words (s-prefixed) of its ICD-10 targets that are in the code table."""
    xw = crosswalk_table(crosswalk) if isinstance(crosswalk, pa.Table) else crosswalk
    j = xw.select("snomed_code", "icd10").join(codes, "icd10")
    return j.group_by(_snomed="snomed_code").aggregate(**{"s" + w: bit_or(j[w]) for w in words})


def condition_codes(conditions: ir.Table, codes: ir.Table, words: list[str], crosswalk: Crosswalk) -> ir.Table:
    """Per distinct (code_system, code) of ``conditions`` (as _cs, _code): the words of the code
    (0 unless it is an ICD-10 code of the table), ``_xw`` (whether it is a SNOMED CT code, so
    that the crosswalk applies when the condition has no ICD-10 coding) and the crosswalk's words
    for it (``x``-prefixed; 0 without a crosswalk)."""
    pairs = conditions.select(_cs=conditions.code_system, _code=conditions.code).distinct()
    snomed = is_snomed(pairs._cs).fill_null(False)
    p = pairs.mutate(_key=ibis.ifelse(is_icd10(pairs._cs), normalised(pairs._code), ibis.null("string")),
                     _xw=snomed, _skey=ibis.ifelse(snomed, pairs._code.strip(), ibis.null("string")))
    if crosswalk is None:
        j = p.left_join(codes, p._key == codes.icd10)
        return j.select("_cs", "_code", "_xw", **{w: j[w].fill_null(0) for w in words},
                        **{"x" + w: ibis.literal(0, "int64") for w in words})
    sw = _crosswalk_words(crosswalk, codes, words)
    j = p.left_join(codes, p._key == codes.icd10).left_join(sw, p._skey == sw._snomed)
    return j.select("_cs", "_code", "_xw", **{w: j[w].fill_null(0) for w in words},
                    **{"x" + w: j["s" + w].fill_null(0) for w in words})


def coding_codes(codings: ir.Table, codes: ir.Table, words: list[str]) -> ir.Table:
    """Per distinct ICD-10 (code_system, code) of the conditions' codings (as _kcs, _kcode): the
    words of the code (0 when not in the table: an ICD-10 coding still stops the crosswalk)."""
    pairs = codings.select(_kcs=codings.code_system, _kcode=codings.code).distinct()
    pairs = pairs.filter(is_icd10(pairs._kcs) & pairs._kcode.notnull())
    j = pairs.left_join(codes, normalised(pairs._kcode) == codes.icd10)
    return j.select("_kcs", "_kcode", **{"k" + w: j[w].fill_null(0) for w in words})


def patient_words(conditions: ir.Table, codings: ir.Table | None, codes: ir.Table, words: list[str],
                  as_of: date, lookback_days: int | None = 365, crosswalk: Crosswalk = None,
                  patients: ir.Table | None = None, code_pairs: ir.Table | None = None) -> ir.Table:
    """patient_id and, per word of ``codes`` (a table of icd10, upper case without dots, and integer
    ``words``), the OR over the patient's diagnoses in the window; one row per patient with a
    condition in the window (words may be 0).

    ``code_pairs`` is the table whose distinct (code_system, code) pairs are looked up (default
    ``conditions``): any table holding at least the conditions' codes, such as the stored
    conditions table itself, which the backend reads once more more cheaply than the counted view."""
    cond = in_window(conditions, as_of, lookback_days, patients).select(
        "condition_id", "patient_id", "code_system", "code")
    cc = condition_codes(conditions if code_pairs is None else code_pairs, codes, words, crosswalk)
    c = cond.left_join(cc, (cond.code_system == cc._cs) & (cond.code == cc._code))
    c = c.select("condition_id", "patient_id", "_xw", *words, *["x" + w for w in words])
    if codings is None:
        rows = c.select("patient_id", **{w: c[w].fill_null(0) | ibis.ifelse(c._xw, c["x" + w], 0).fill_null(0)
                                         for w in words})
    else:
        x = codings.filter(codings.record_table == "conditions")
        kc = coding_codes(x, codes, words)
        k = x.join(kc, (x.code_system == kc._kcs) & (x.code == kc._kcode))
        k = k.select(_rid=k.record_id, **{"k" + w: k["k" + w] for w in words})
        # One row per condition and ICD-10 coding (or one with null k-words when it has none): the
        # crosswalk's words count only for a SNOMED CT condition without any ICD-10 coding.
        c = c.left_join(k, c.condition_id == k._rid)
        rows = c.select("patient_id", **{
            w: c[w].fill_null(0) | ibis.ifelse(c._xw & c._rid.isnull(), c["x" + w], c["k" + w]).fill_null(0)
            for w in words})
    return rows.group_by("patient_id").aggregate(**{w: bit_or(rows[w]) for w in words})
