"""FHIR R4 ingest: bulk-export NDJSON and JSON (Bundle or single resource), gzip or not.

Every resource read is one record: mapped to the core tables (fhir_resources), kept verbatim in
``raw_resources`` when its type is not modelled, or quarantined with a reason. ``read`` counts NDJSON
lines that are not blank, Bundle entries, or 1 for a file holding a single resource.
"""

from __future__ import annotations

import codecs
import contextlib
import gzip
import io
import re
from pathlib import Path
from typing import IO, Any

import orjson

from carevalue.ingest.batch import MAX_CONTENT, Batch, Reason
from carevalue.ingest.fhir_resources import MAPPERS, Context, raw
from carevalue.ingest.fhir_values import Reject, concept, instant
from carevalue.ingest.references import References

MAX_LINE_BYTES = 64 * 1024 * 1024
_RESOURCE_TYPE = re.compile(r"^[A-Z][A-Za-z]{1,63}$")
# Lenient on purpose: FHIR says [A-Za-z0-9-.]{1,64}; we refuse only what cannot be an id at all.
_ID = re.compile(r"^[^\s/?#|]{1,256}$")
# Resource types of DSTU2/STU3 that R4 removed: a sign the data is not R4.
_OLD_TYPES = frozenset((
    "MedicationOrder", "ProcedureRequest", "ReferralRequest", "DiagnosticOrder", "DeviceUseRequest",
    "Order", "OrderResponse", "DeviceComponent", "EligibilityRequest", "EligibilityResponse",
    "ProcessRequest", "ProcessResponse", "DataElement", "ServiceDefinition", "Sequence",
))
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _open(path: Path) -> IO[bytes]:
    fh: IO[bytes] = open(path, "rb")  # noqa: SIM115 - returned to the caller
    if fh.read(2) == b"\x1f\x8b":
        fh.close()
        fh = gzip.open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115  # noqa: SIM115
    else:
        fh.seek(0)
    head = fh.peek(4)[:4] if hasattr(fh, "peek") else b""
    if head[:2] in _UTF16_BOMS:
        text = io.TextIOWrapper(fh, encoding="utf-16")
        return io.BytesIO(text.read().encode("utf-8"))
    return fh


def _bad_json(data: bytes, error: Exception) -> tuple[str, str]:
    """Reason and detail for bytes orjson refused."""
    if b"\x00" in data:
        return Reason.BINARY, "contains NUL bytes: binary data, not JSON text"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        return Reason.BINARY, f"not UTF-8 text ({e.reason} at byte {e.start})"
    return Reason.MALFORMED_JSON, f"not valid JSON: {error}"


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace").rstrip("\r\n")


class _Reader:
    """Turns parsed JSON values into records of one Batch."""

    def __init__(self, batch: Batch, refs: References | None) -> None:
        self.batch = batch
        self.refs = refs if refs is not None else References()
        self.refs.begin()
        self.ctx = Context(batch.source, self.refs)

    def reject(self, locator: str, rtype: Any, rid: Any, field: str, reason: str, detail: str, raw_text: Any) -> None:
        text = raw_text() if callable(raw_text) else raw_text
        self.batch.reject(locator, rtype if type(rtype) is str else None, rid if type(rid) is str else None,
                          field, reason, detail, text)

    def _known_type(self, res: dict[str, Any], rtype: Any, rid: Any, locator: str, raw_text: Any) -> bool:
        """Whether a resourceType no mapper takes names an R4 resource (stored raw); else quarantined.
        (Mapped types are valid R4 names: the resource() fast path skips these checks for them.)"""
        if rtype is None:
            hint = " (looks like a bulk-export log event)" if "eventId" in res or "exportId" in res else ""
            self.reject(locator, None, rid, "resourceType", Reason.MISSING_RESOURCE_TYPE,
                        f"object has no resourceType, so it is not a FHIR resource{hint}", raw_text)
            return False
        if type(rtype) is not str or not _RESOURCE_TYPE.match(rtype):
            self.reject(locator, None, rid, "resourceType", Reason.INVALID_RESOURCE_TYPE,
                        f"resourceType {rtype!r} is not a FHIR resource type name", raw_text)
            return False
        if rtype in _OLD_TYPES:
            self.reject(locator, rtype, rid, "resourceType", Reason.UNSUPPORTED_VERSION,
                        f"{rtype} exists only before FHIR R4 (DSTU2/STU3); this ingest reads R4", raw_text)
            return False
        return True

    def resource(self, res: Any, locator: str, raw_text: Any, full_url: str | None = None) -> None:
        """One record: envelope checks, then the mapper of its type (or raw_resources)."""
        if type(res) is not dict:
            self.reject(locator, None, None, "", Reason.NOT_OBJECT,
                        f"expected a JSON object (a FHIR resource), got {type(res).__name__}", raw_text)
            return
        rtype: Any = res.get("resourceType")  # a str once the checks below passed
        rid = res.get("id")
        mapper = MAPPERS.get(rtype) if type(rtype) is str else None
        if mapper is None and not self._known_type(res, rtype, rid, locator, raw_text):
            return
        if rid is None:
            if full_url and full_url.startswith("urn:uuid:"):
                rid = full_url[9:]
            else:
                self.reject(locator, rtype, None, "id", Reason.MISSING_ID,
                            f"{rtype} has no id (and no urn:uuid fullUrl to take one from)", raw_text)
                return
        if type(rid) is not str or not _ID.match(rid):
            self.reject(locator, rtype, None, "id", Reason.INVALID_ID,
                        f"id {rid!r} is not usable: it must be 1-256 characters of text without blanks, '/', '?', '#' or '|'",
                        raw_text)
            return
        try:
            if mapper is None:
                rows = raw(res, rid, self.ctx, raw_text() if callable(raw_text) else raw_text)
            else:
                rows = mapper(res, rid, self.ctx)
        except Reject as e:
            self.reject(locator, rtype, rid, e.field, e.reason, f"{rtype}/{rid}: {e.detail}", raw_text)
            return
        except (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError) as e:
            # A shape no specific check foresaw: still a record a person can look at.
            self.reject(locator, rtype, rid, "", Reason.WRONG_TYPE,
                        f"{rtype}/{rid}: unexpected structure ({type(e).__name__}: {e})", raw_text)
            return
        meta = res.get("meta")
        self.batch.accept(locator, rows, None, rtype, None if meta is None else _last_updated(meta))
        if self.batch.quarantine_rows and self.batch.quarantine_rows[-1][1] == locator and raw_text is not None:
            # accept() quarantined a duplicate: give the entry its content.
            q = self.batch.quarantine_rows[-1]
            if q[7] is None:
                self.batch.quarantine_rows[-1] = (*q[:7], (raw_text() if callable(raw_text) else raw_text)[:10_000])


def _last_updated(meta: Any) -> Any:
    """meta.lastUpdated (of a resource's ``meta``) as a UTC datetime, or None when absent or
    unreadable (then no versioning)."""
    if type(meta) is not dict or meta.get("lastUpdated") is None:
        return None
    try:
        return instant(meta["lastUpdated"], "meta.lastUpdated")
    except Reject:
        return None


def lines_before(path: Path, offset: int) -> int:
    """How many lines end before byte ``offset`` of an uncompressed file."""
    n = 0
    with open(path, "rb") as fh:
        while offset > 0:
            block = fh.read(min(offset, 1 << 23))
            if not block:
                break
            n += block.count(b"\n")
            offset -= len(block)
    return n


def parse_ndjson(path: Path, batch: Batch, refs: References | None = None,
                 span: tuple[int, int] | None = None) -> None:
    """Bulk-export NDJSON: one resource per line. Blank lines are not records and are not counted.

    ``span`` = (start, end): only the lines starting in that byte range of an uncompressed UTF-8
    file (start at a line start), with their line numbers in the whole file (one part of a file
    parsed in pieces, ingest/file_parts.py)."""
    reader = _Reader(batch, refs)
    limit = MAX_LINE_BYTES
    loads = orjson.loads
    resource = reader.resource
    with _open(path) if span is None else open(path, "rb") as fh:
        lineno, pos, end = 0, 0, -1
        if span is not None:
            pos, end = span
            lineno = lines_before(path, pos)
            fh.seek(pos)
        while True:
            if 0 <= end <= pos:
                break
            line = fh.readline(limit + 1)
            if not line:
                break
            pos += len(line)
            lineno += 1
            if lineno == 1 and line.startswith(_UTF8_BOM):
                line = line[3:]
            if len(line) > limit and not line.endswith(b"\n"):
                size = len(line)
                while True:
                    more = fh.readline(limit + 1)
                    size += len(more)
                    pos += len(more)
                    if not more or more.endswith(b"\n"):
                        break
                batch.read += 1
                reader.reject(f"line {lineno}", None, None, "", Reason.LINE_TOO_LONG,
                              f"line of {size:,} bytes exceeds the limit of {limit:,} bytes", _text(line[:2000]))
                continue
            if line.isspace():
                continue
            batch.read += 1
            locator = f"line {lineno}"
            try:
                res = loads(line)
            except orjson.JSONDecodeError as e:
                reason, detail = _bad_json(line, e)
                reader.reject(locator, None, None, "", reason, detail, _text(line))
                continue
            resource(res, locator, lambda line=line: _text(line))  # type: ignore[misc]


def parse_json(path: Path, batch: Batch, refs: References | None = None) -> None:
    """A JSON file: a Bundle (each entry one record) or a single resource (one record)."""
    reader = _Reader(batch, refs)
    with _open(path) as fh:
        data = fh.read()
    if data.startswith(_UTF8_BOM):
        data = data[3:]
    if not data.strip():
        return
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError as e:
        batch.read += 1
        reason, detail = _bad_json(data, e)
        reader.reject("file", None, None, "", reason, detail, _text(data[:10_000]))
        return
    if type(doc) is not dict or doc.get("resourceType") != "Bundle":
        batch.read += 1
        reader.resource(doc, "resource", lambda: _text(data[:10_000]))
        return
    entries = doc.get("entry")
    if entries is None:
        batch.read += 1
        reader.reject("bundle", "Bundle", doc.get("id"), "entry", Reason.BUNDLE_WITHOUT_ENTRIES,
                      f"Bundle (type {doc.get('type')!r}) has no entry array, so it carries no resources",
                      _text(data[:10_000]))
        return
    if type(entries) is not list:
        batch.read += 1
        reader.reject("bundle", "Bundle", doc.get("id"), "entry", Reason.WRONG_TYPE,
                      f"Bundle.entry should be a list, got {type(entries).__name__}", _text(data[:10_000]))
        return
    _index_bundle(entries, reader)
    for i, entry in enumerate(entries, 1):
        batch.read += 1
        locator = f"entry {i}"

        def raw_text(entry: Any = entry) -> str:
            return orjson.dumps(entry).decode()

        if type(entry) is not dict:
            reader.reject(locator, None, None, "", Reason.NOT_OBJECT,
                          f"Bundle.entry[{i - 1}] should be an object, got {type(entry).__name__}", raw_text)
            continue
        res = entry.get("resource")
        full_url = entry.get("fullUrl")
        if res is None:
            req = entry.get("request")
            what = f" (request {req.get('method')} {req.get('url')})" if type(req) is dict else ""
            reader.reject(locator, None, None, "resource", Reason.ENTRY_WITHOUT_RESOURCE,
                          f"Bundle.entry[{i - 1}] has no resource{what}", raw_text)
            continue
        reader.resource(res, locator, raw_text, full_url if type(full_url) is str else None)


def _index_bundle(entries: list[Any], reader: _Reader) -> None:
    """Bundle-local names (fullUrl, identifiers) and Medication codes, before any entry is mapped."""
    refs = reader.refs
    for entry in entries:
        if type(entry) is not dict:
            continue
        res = entry.get("resource")
        if type(res) is not dict:
            continue
        rtype = res.get("resourceType")
        rid = res.get("id")
        full_url = entry.get("fullUrl") if type(entry.get("fullUrl")) is str else None
        if rid is None and full_url and full_url.startswith("urn:uuid:"):
            rid = full_url[9:]
        if type(rtype) is not str or type(rid) is not str:
            continue
        refs.add_local(full_url, rtype, rid, res.get("identifier"))
        if rtype == "Medication":
            with contextlib.suppress(Reject):
                reader.ctx.medications[rid] = concept(res.get("code"), "code")


def raw_records(path: Path, locators: set[str]) -> dict[str, str]:
    """The raw text of the records at ``locators`` ('line N' / 'entry N') of a FHIR file."""
    out: dict[str, str] = {}
    lines = {int(x[5:]) for x in locators if x.startswith("line ") and x[5:].isdigit()}
    entries = {int(x[6:]) for x in locators if x.startswith("entry ") and x[6:].isdigit()}
    with _open(path) as fh:
        if lines:
            for n, line in enumerate(fh, 1):
                if n in lines:
                    out[f"line {n}"] = _text(line[:MAX_CONTENT]).removeprefix("\ufeff")
        elif entries:
            try:
                doc = orjson.loads(fh.read().removeprefix(_UTF8_BOM))
                for i in entries:
                    out[f"entry {i}"] = orjson.dumps(doc["entry"][i - 1]).decode()
            except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
                pass
    return out
