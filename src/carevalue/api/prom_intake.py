"""Accepted PROM answers reach the core store through ingest: each is first written (fsync'd) as one
NDJSON file in the inbox, then ingested like any FHIR file, so it is stored or quarantined with a
reason, never lost; a file whose ingest did not finish (a crash) is ingested at the next start."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import orjson

from carevalue.workspace import Workspace

Outcome = Literal["new", "same", "conflict"]


def _canonical(qr: dict[str, Any]) -> bytes:
    return orjson.dumps({k: v for k, v in qr.items() if k not in ("id", "meta")}, option=orjson.OPT_SORT_KEYS)


class PromInbox:
    """One file per accepted response, named by its stored id."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, response_id: str) -> Path:
        return self.folder / f"{response_id}.ndjson"

    def read(self, response_id: str) -> dict[str, Any] | None:
        p = self.path(response_id)
        if not p.exists():
            return None
        out: dict[str, Any] = orjson.loads(p.read_bytes())
        return out

    def put(self, response_id: str, qr: dict[str, Any]) -> Outcome:
        """Keep ``qr`` under ``response_id``: new, the same as kept before, or a conflict with it."""
        before = self.read(response_id)
        if before is not None:
            return "same" if _canonical(before) == _canonical(qr) else "conflict"
        tmp = self.folder / f".{response_id}.{os.getpid()}.tmp"
        with tmp.open("wb") as fh:
            fh.write(orjson.dumps({**qr, "id": response_id}) + b"\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path(response_id))
        dfd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        return "new"

    def ingested(self, ws: Workspace, response_id: str) -> bool:
        t = ws.con.table("ingest_files")
        return int(t.filter(t.source == str(self.path(response_id))).count().execute()) > 0

    def ingest(self, ws: Workspace, response_id: str) -> dict[str, Any]:
        """Ingest one kept response; the file's read/stored/quarantined counts and reasons."""
        report = ws.ingest([self.path(response_id)])
        (f,) = report.files
        out: dict[str, Any] = f.as_json()
        return out

    def pending(self, ws: Workspace) -> list[str]:
        """Responses kept but not ingested (the server stopped in between)."""
        if "ingest_files" not in ws.tables():
            return []
        done = {str(s) for s in ws.con.table("ingest_files").source.execute()}
        return sorted(p.stem for p in self.folder.glob("*.ndjson") if str(p) not in done)
