"""One large NDJSON file parsed in parts side by side, joined into the batch a whole parse gives.

A bulk export often puts every resource of a type in one file, and then the largest file bounds a
parallel ingest while the other workers wait. NDJSON records are independent except for the
in-file duplicate and version checks, so a file is cut at line starts into parts, each part is
parsed on its own (line numbers as in the whole file), and the parts are joined in order when no
row key occurs in two parts and no part met a duplicate or a superseded version. Otherwise the
parts could have interacted, and the caller parses the file whole instead.
"""

from __future__ import annotations

import codecs
import os

import numpy as np

from carevalue.ingest.batch import Batch, Reason
from carevalue.ingest.sources import SourceFile

# A file is cut into parts of at least this much (a part costs a process hand-over and a join).
PART_MIN_BYTES = 16 * 1024 * 1024
_NOT_PLAIN = (b"\x1f\x8b", codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)  # gzip, UTF-16: read whole
# Quarantine reasons that mean records of one file met each other: the parts may have interacted.
_MET = frozenset((Reason.DUPLICATE, Reason.SUPERSEDED))


def spans(src: SourceFile, parts: int) -> list[tuple[int, int]]:
    """Byte ranges (start, end) cutting ``src`` into up to ``parts`` pieces at line starts; one
    range (the whole file) when it is small, compressed, UTF-16 or not NDJSON."""
    size = os.path.getsize(src.path)
    parts = min(parts, size // PART_MIN_BYTES)
    if src.format != "fhir-ndjson" or parts < 2:
        return [(0, size)]
    with open(src.path, "rb") as fh:
        if fh.read(2) in _NOT_PLAIN:
            return [(0, size)]
        cuts = [0]
        for k in range(1, parts):
            fh.seek(max(size * k // parts - 1, cuts[-1]))
            fh.readline()  # to the start of the next line
            cuts.append(min(fh.tell(), size))
    cuts.append(size)
    ranges = [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]
    return ranges or [(0, size)]


def join(parts: list[tuple[Batch, np.ndarray]]) -> Batch | None:
    """The batch of the whole file from its parts in order (each part's frozen batch and its
    :meth:`Batch.key_hashes`), or None when the parts may have interacted: a key (hash) in two
    parts, or a duplicate or superseded record met inside a part."""
    if any(r[5] in _MET for b, _ in parts for r in b.quarantine_rows):
        return None
    keys = np.concatenate([h for _, h in parts])
    keys.sort(kind="stable")  # sorted runs: a merge, linear
    if keys.size > 1 and bool(np.any(keys[1:] == keys[:-1])):
        return None
    return Batch.joined([b for b, _ in parts])
