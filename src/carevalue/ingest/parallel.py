"""Parse source files in worker processes while the store writes the files before them, in order.

Parsing (JSON, mapping, checks) is Python and most of an ingest's time, and each file is parsed
on its own; so files are parsed side by side in ``workers`` processes and handed to the writer one
at a time in dependency order, exactly as a serial ingest would write them. The only state a parse
reads from the store is the identifiers that conditional references search: a worker reads them
from a snapshot the writer made when the file was sent, and when a file written since then changed
the identifiers that parse used, the file is parsed again against the store (so the result is
always the serial one). A large NDJSON file is parsed in parts side by side (ingest/file_parts.py),
so one big file does not leave the other workers idle.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from carevalue.ingest import file_parts
from carevalue.ingest.batch import Batch
from carevalue.ingest.references import IDENTIFIED_TABLES, References, identifier_sql
from carevalue.ingest.sources import SourceFile, parse_file, sha256

if TYPE_CHECKING:
    from carevalue.ingest.store import Store

# Below this much input, starting worker processes costs more than it saves (unless asked for).
PARALLEL_MIN_BYTES = 8 * 1024 * 1024


def default_workers() -> int:
    """Worker processes for parsing: ``CAREVALUE_INGEST_WORKERS``, else one per core."""
    env = os.environ.get("CAREVALUE_INGEST_WORKERS")
    return max(1, int(env)) if env else max(1, os.cpu_count() or 1)


class _Snapshot:
    """The store's searchable identifiers as of one point between files (one Parquet per type)."""

    def __init__(self, folder: str, generation: int) -> None:
        self.folder = folder
        self.generation = generation

    def path(self, rtype: str) -> Path:
        return Path(self.folder) / f"g{self.generation}-{rtype}.parquet"

    def write(self, store: Store) -> None:
        for rtype in IDENTIFIED_TABLES:
            path = self.path(rtype)
            if not path.exists():
                store.con.execute(f"COPY ({identifier_sql(rtype)}) TO '{path}' (FORMAT parquet)")

    def __call__(self, rtype: str) -> dict[str, str]:
        import pyarrow.parquet as pq

        t = pq.read_table(self.path(rtype))
        return dict(zip(t.column(0).to_pylist(), t.column(1).to_pylist(), strict=True))


def _exit_with_parent(parent: int) -> None:
    """In a worker: end the process as soon as the ingest that started it is gone (e.g. kill -9)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="exit-with-parent").start()


def parse_in_worker(src: SourceFile, snapshot: _Snapshot | None) -> Batch:
    """Parse one file into a frozen Batch (Arrow tables), noting which identifiers it looked up."""
    refs = References(identifiers=snapshot)
    batch = Batch(src.label, src.format, sha256(src.path))
    parse_file(src, batch, refs)
    batch.identifiers_used = frozenset(refs.used)
    return batch.freeze()


def parse_part_in_worker(src: SourceFile, snapshot: _Snapshot | None, span: tuple[int, int],
                         first: bool) -> tuple[Batch, np.ndarray]:
    """Parse one part of a file (its byte ``span``) into a frozen Batch, with the hashes of its row
    keys for the join; the first part carries the whole file's SHA-256."""
    refs = References(identifiers=snapshot)
    batch = Batch(src.label, src.format, sha256(src.path) if first else "")
    parse_file(src, batch, refs, span)
    batch.identifiers_used = frozenset(refs.used)
    keys = batch.key_hashes()
    return batch.freeze(), keys


def parsed_in_order(files: list[SourceFile], store: Store, workers: int,
                    while_parsing: Callable[[], None] | None = None) -> Iterator[tuple[SourceFile, Batch]]:
    """Each file's Batch, in order; the caller writes each before asking for the next.
    ``while_parsing`` runs here once the last file is sent to a worker, when a core is about to be
    free (work the writer would otherwise do after the last file)."""
    changed: list[set[str]] = []  # changed[g]: identifier types a written file changed, generation g -> g+1
    # Forked workers start at once with everything imported (a spawned one takes seconds on a busy
    # machine); they only parse and never touch the store's connection. Spawn where fork is unsafe.
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    with tempfile.TemporaryDirectory(prefix="carevalue-ingest-") as folder:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_exit_with_parent,
                                   initargs=(os.getpid(),))
        try:
            # Per file sent: its parse (a Batch) or its parts' parses ((Batch, key hashes) each).
            pending: deque[tuple[SourceFile, list[Future[Any]], int]] = deque()
            written = 0
            todo = iter(files)
            # Key hashes of parts are compared across processes: only forked ones share the hash seed.
            split = workers if ctx.get_start_method() == "fork" else 1

            def send() -> None:
                src = next(todo, None)
                if src is None:
                    return
                snap = _Snapshot(folder, len(changed))
                snap.write(store)
                cut = file_parts.spans(src, split) if split > 1 else []
                if len(cut) > 1:
                    pending.append((src, [pool.submit(parse_part_in_worker, src, snap, span, i == 0)
                                          for i, span in enumerate(cut)], len(changed)))
                else:
                    pending.append((src, [pool.submit(parse_in_worker, src, snap)], len(changed)))

            gc.freeze()  # the writer's objects stay shared with the forked workers, not copied
            try:
                for _ in range(workers + 1):
                    send()
            finally:
                gc.unfreeze()
            while pending:
                if while_parsing is not None and len(pending) + written == len(files):
                    while_parsing()  # every file is sent: a worker will be idle from now on
                    while_parsing = None
                src, futures, generation = pending.popleft()
                results = [f.result() for f in futures]
                batch = file_parts.join(results) if isinstance(results[0], tuple) else results[0]
                if batch is None or set().union(*changed[generation:]) & batch.identifiers_used:
                    # The parts of the file may have met (a key in two parts), or a file written
                    # meanwhile changed identifiers this parse looked up: parse it whole, here.
                    batch = Batch(src.label, src.format, sha256(src.path))
                    parse_file(src, batch, References(store))
                yield src, batch
                written += 1
                tables = set(batch.tables)
                kinds = {rtype for rtype, tbl in IDENTIFIED_TABLES.items() if tbl in tables}
                if kinds:
                    changed.append(kinds)
                send()
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
