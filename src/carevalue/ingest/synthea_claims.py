"""Synthea claims.csv and claims_transactions.csv -> claims, claim_lines (+ raw_resources).

A CHARGE transaction is one claim line (line_no = its CHARGEID, which increases within a claim).
PAYMENT, ADJUSTMENT, TRANSFERIN and TRANSFEROUT transactions follow the charge they settle (by
CHARGEID); their PAYMENTS add up to that line's ``paid_amount``, and each of them is kept verbatim
in ``raw_resources`` (record_type 'claims_transactions', record_id = the transaction ID). A claim's
``total_charge`` / ``total_paid`` are the sums over the transactions file next to claims.csv.
A TODATE of 1970-01-01T00:00:00Z is Synthea's "no end date" and is read as null.
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from carevalue.ingest.csv_records import CsvRecords, Emit, open_text, parse_number, parse_timestamp

# Synthea writes the epoch as TODATE of point-in-time lines (immunizations, medications): no end.
NO_DATE = datetime(1970, 1, 1)
TRANSACTION_TYPES = {"CHARGE", "PAYMENT", "ADJUSTMENT", "TRANSFERIN", "TRANSFEROUT"}
_TRANSACTIONS_FILE = re.compile(r"^claims_transactions([.\-_]?\d+)?\.csv(\.gz)?$", re.IGNORECASE)


def _none_if_zero(v: str | None) -> str | None:
    return None if v in (None, "0") else v  # Synthea writes 0 for "no secondary insurance"


def map_claims_transactions(r: CsvRecords) -> list[Emit]:
    ids = r.text("ID", required=True)
    r.ids = ids
    claim = r.text("CLAIMID", required=True)
    charge_id = r.integer("CHARGEID", required=True)
    types = [t.upper() if t else None for t in r.text("TYPE", required=True)]
    r.one_of(types, r.has("TYPE") or "TYPE", TRANSACTION_TYPES)
    amount = r.number("AMOUNT")
    payments = r.number("PAYMENTS")
    start = r.timestamp("FROMDATE")
    end = [None if e == NO_DATE else e for e in r.timestamp("TODATE")]
    r.not_before(start, end, "FROMDATE", "TODATE")
    is_charge = [t == "CHARGE" for t in types]
    for j, (ch, a) in enumerate(zip(is_charge, amount, strict=True)):
        if ch and a is None:
            r.problem(j, r.has("AMOUNT") or "AMOUNT", "missing required field", "a CHARGE has no AMOUNT")

    # Attach each settling transaction to the charge before it (by CHARGEID) in the same claim.
    by_claim: dict[str, list[int]] = defaultdict(list)
    for j, (cid, k) in enumerate(zip(claim, charge_id, strict=True)):
        if cid is not None and k is not None:
            by_claim[cid].append(j)
    paid: list[float | None] = [0.0 if ch else None for ch in is_charge]
    for rows in by_claim.values():
        rows.sort(key=lambda j: charge_id[j])  # type: ignore[arg-type,return-value]
        current: int | None = None
        for j in rows:
            if is_charge[j]:
                current = j
            elif current is not None and types[j] == "PAYMENT" and payments[j] is not None \
                    and j not in r.problems and current not in r.problems:
                paid[current] = (paid[current] or 0.0) + payments[j]  # type: ignore[operator]

    content = [None if c else orjson.dumps(dict(zip(r.header, row, strict=True))).decode()
               for c, row in zip(is_charge, r.rows, strict=True)]
    patient = r.text("PATIENTID")
    return [
        Emit("claim_lines", {
            "claim_id": claim, "line_no": charge_id, "patient_id": patient,
            "code": r.text("PROCEDURECODE"), "display": r.text("NOTES"), "service_date": start,
            "quantity": r.number("UNITS"), "charge_amount": amount, "paid_amount": paid,
        }, when=is_charge),
        Emit("raw_resources", {
            "record_type": "claims_transactions", "record_id": ids, "patient_id": patient,
            "content": content,
        }, when=[not c for c in is_charge]),
    ]


def transaction_totals(folder: Path) -> dict[str, list[Any]]:
    """Per claim id: [total charge, total paid, place of service, last TODATE] from the folder's
    claims_transactions files, over the rows the transactions ingest can read (known TYPE,
    whole-number CHARGEID, numeric amounts)."""
    totals: dict[str, list[Any]] = {}
    for f in sorted(folder.iterdir()):
        if not _TRANSACTIONS_FILE.match(f.name):
            continue
        with open_text(f) as fh:
            reader = csv.reader(fh)
            header = [h.strip().upper() for h in next(reader, [])]
            need = ("CLAIMID", "CHARGEID", "TYPE", "AMOUNT", "PAYMENTS")
            if not set(need) <= set(header):
                continue
            ci, ki, ti, ai, pi = (header.index(n) for n in need)
            oi = header.index("PLACEOFSERVICE") if "PLACEOFSERVICE" in header else None
            di = header.index("TODATE") if "TODATE" in header else None
            width = len(header)
            for row in reader:
                if len(row) != width or not row[ci]:
                    continue
                try:
                    int(row[ki])
                    kind = row[ti].strip().upper()
                    if kind not in TRANSACTION_TYPES:
                        continue
                    t = totals.setdefault(row[ci], [0.0, 0.0, None, None])
                    if kind == "CHARGE":
                        t[0] += parse_number(row[ai])
                    elif kind == "PAYMENT":
                        t[1] += parse_number(row[pi])
                    if oi is not None and t[2] is None and row[oi]:
                        t[2] = row[oi]
                    if di is not None and row[di]:
                        d: datetime = parse_timestamp(row[di])
                        if d != NO_DATE and (t[3] is None or d > t[3]):
                            t[3] = d
                except ValueError:
                    continue
    return totals


def map_claims(r: CsvRecords) -> list[Emit]:
    ids = r.text("Id", required=True)
    r.ids = ids
    totals = transaction_totals(r.path.parent)
    found = [totals.get(i) if i else None for i in ids]
    status = r.text("STATUS1", "STATUSP")
    return [Emit("claims", {
        "claim_id": ids, "kind": "synthea-claim", "patient_id": r.text("PATIENTID", required=True),
        "encounter_id": r.text("APPOINTMENTID"),
        "organization_id": [t[2] if t else None for t in found],
        "practitioner_id": r.text("PROVIDERID"),
        "payer_id": [_none_if_zero(p) for p in r.text("PRIMARYPATIENTINSURANCEID")],
        "status": [s.lower() if s else None for s in status],
        "service_start": r.timestamp("SERVICEDATE"),
        "service_end": [t[3] if t else None for t in found],
        "total_charge": [t[0] if t else None for t in found],
        "total_paid": [t[1] if t else None for t in found],
    })]
