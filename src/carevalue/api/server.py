"""Serving the API with uvicorn: one process, or several worker processes sharing a PostgreSQL
operational database. Workers build their app from the environment (``app_from_env``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

SETTINGS = "CAREVALUE_SERVE"  # JSON: the settings the parent process passes to its workers


def app_from_env() -> FastAPI:
    """The app a uvicorn worker serves, from the settings its parent put in the environment."""
    from carevalue.api.app import create_app

    s = json.loads(os.environ[SETTINGS])
    return create_app(s["store"], s["content"], ops=s["ops"], database=s["database"],
                      token_ttl=timedelta(hours=s["token_hours"]), drain_every=s["drain_every"],
                      dashboard=s.get("dashboard", True), prepare=s.get("dashboard", True))


def serve(store: Path, content: Sequence[Path] = (), *, ops: Path | None = None, database: str | None = None,
          host: str = "127.0.0.1", port: int = 8000, workers: int = 1, token_hours: float = 8.0,
          drain_every: float | None = 5.0, dashboard: bool = True, log_level: str = "warning") -> None:
    """Run uvicorn over the store until stopped; several ``workers`` need a PostgreSQL ``database``."""
    import uvicorn

    from carevalue.api.opsdb import database_url

    url = database_url(database)
    if workers > 1 and url is None:
        raise ValueError("several workers share users, tokens and the PROM inbox through PostgreSQL: "
                         "give --database postgresql://... (or CAREVALUE_DATABASE_URL)")
    # With PostgreSQL the drain is a process of its own beside the workers: ingesting a batch never
    # holds up the requests a worker is serving. The embedded server drains in a thread.
    drainer = None
    if url is not None and drain_every:
        cmd = [sys.executable, "-m", "carevalue.cli", "proms", "drain", "--store", str(store),
               "--every", str(drain_every), *[a for c in content for a in ("--content", str(c))],
               *(["--ops", str(ops)] if ops else [])]
        drainer = subprocess.Popen(cmd, env={**os.environ, "CAREVALUE_DATABASE_URL": url})
    os.environ[SETTINGS] = json.dumps({"store": str(store), "content": [str(c) for c in content],
                                       "ops": str(ops) if ops else None, "database": url,
                                       "token_hours": token_hours,
                                       "drain_every": None if drainer else drain_every, "dashboard": dashboard})
    try:
        # A worker on a loaded machine may answer the supervisor's ping late: give it a minute
        # before it is restarted (a restart ends the requests it is serving).
        uvicorn.run("carevalue.api.server:app_from_env", factory=True, host=host, port=port, workers=workers,
                    log_level=log_level, access_log=False, timeout_worker_healthcheck=60)
    finally:
        if drainer is not None:
            drainer.terminate()
            drainer.wait(timeout=120)
