"""PROM submissions under load against the PostgreSQL deployment (loopback only, bounded in time).

    python benchmarks/prom_load.py [--responses 10000] [--clients 50] [--workers 2] [--store S.duckdb]

Builds a small synthetic store (unless ``--store``), starts a throwaway PostgreSQL cluster (unless
``--database``), serves the API with uvicorn workers, and lets 50 concurrent httpx clients, each
signed in as a patient, submit FHIR QuestionnaireResponses: mostly new, some resubmissions (must
answer 200 ``duplicate``), some invalid (must answer 422 with field errors). Then it drains the
inbox into the store and checks that every accepted response is stored exactly once and every
rejected one was answered with a reason. Prints throughput and p50/p95/p99 latency.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson

PASSWORD = "correct horse battery"
QR_PATH = "/api/v1/fhir/QuestionnaireResponse"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_store(folder: Path, patients: int = 400, seed: int = 7) -> Path:
    """A synthetic population ingested into a new store (no run needed to accept PROM answers)."""
    import warnings

    from carevalue.synth import generate
    from carevalue.workspace import Workspace

    warnings.filterwarnings("ignore")
    generate(patients=patients, seed=seed, out=folder / "population")
    db = folder / "carevalue.duckdb"
    Workspace.open(db, must_exist=False).ingest([folder / "population" / "source"])
    return db


def patient_ids(store: Path, n: int) -> list[str]:
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        return [r[0] for r in con.execute("SELECT patient_id FROM patients ORDER BY patient_id LIMIT ?", [n]).fetchall()]
    finally:
        con.close()


def add_patient_users(store: Path, database: str, patients: list[str]) -> dict[str, str]:
    """One patient user per patient (name -> patient id)."""
    from carevalue.api.app import ops_folder
    from carevalue.api.opsdb import open_ops
    from carevalue.api.users import UserStore

    users = UserStore(open_ops(database, ops_folder(store), "users"))
    have = {u.username for u in users.list()}
    out = {}
    for i, pid in enumerate(patients):
        name = f"load-{i:03d}"
        if name not in have:
            users.add(name, PASSWORD, "patient", patient_id=pid)
        out[name] = pid
    return out


def start_server(store: Path, database: str, port: int, workers: int = 2, drain_every: float = 2.0) -> subprocess.Popen[bytes]:
    """``carevalue serve`` in its own process group (so a kill reaches every worker); waits until it answers.
    Its log goes to ``<store>.serve.log`` (a pipe nobody reads would block the server once full)."""
    env = {**os.environ, "CAREVALUE_DATABASE_URL": database}
    log = store.with_name(store.name + ".serve.log")
    with log.open("ab") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "carevalue.cli", "serve", "--store", str(store), "--port",
                                 str(port), "--workers", str(workers), "--drain-every", str(drain_every)],
                                env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=fh)
    deadline = time.monotonic() + 300  # workers import, open the store and migrate: slow on a busy machine
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server stopped: {log.read_text()[-4000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    kill(proc)
    raise RuntimeError("the server did not answer within 300 s")


def kill(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Send ``sig`` to the server's whole process group (the supervisor and its workers)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


@functools.cache
def _phq9() -> Any:
    from carevalue.definitions.instrument import load_instruments

    return load_instruments()["phq-9"]


def questionnaire_response(patient: str, ident: str, seed: int, invalid: bool = False) -> dict[str, Any]:
    """A PHQ-9 response of the patient (answers drawn from ``seed``); ``invalid``: one unknown answer code."""
    phq9 = _phq9()
    rnd = random.Random(seed)
    items = [{"linkId": i.link_id, "answer": [{"valueCoding": {"system": "http://loinc.org",
                                                               "code": rnd.choice(i.options).code}}]}
             for i in phq9.items]
    if invalid:
        items[0]["answer"][0]["valueCoding"]["code"] = "LA0000-0"
    day = 1 + seed % 28
    return {"resourceType": "QuestionnaireResponse", "identifier": {"system": "urn:carevalue:load", "value": ident},
            "questionnaire": "http://loinc.org/q/44249-1", "status": "completed",
            "subject": {"reference": f"Patient/{patient}"}, "authored": f"2025-02-{day:02d}T10:00:00Z",
            "item": items}


@dataclass
class Result:
    """What the clients saw: latencies, accepted ids, rejections with reasons, transport failures."""

    latencies: list[float] = field(default_factory=list)
    accepted: dict[str, str] = field(default_factory=dict)  # identifier -> response_id
    fresh: set[str] = field(default_factory=set)  # identifiers answered 201 (kept now, not before)
    duplicates: int = 0
    rejected: list[tuple[str, int, str]] = field(default_factory=list)  # identifier, status, reason
    unanswered: list[str] = field(default_factory=list)  # the connection failed: outcome unknown
    elapsed: float = 0.0


async def sign_in(base: str, users: dict[str, str]) -> dict[str, str]:
    """Every user signs in first (argon2 by design costs tens of ms each; not part of the timing)."""
    out = {}
    async with httpx.AsyncClient(base_url=base, timeout=120) as c:
        for name in users:
            r = await c.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})
            r.raise_for_status()
            out[name] = r.json()["access_token"]
    return out


async def load(base: str, users: dict[str, str], responses: int, seconds: float, invalid_every: int = 20,
               duplicate_every: int = 50, prefix: str = "r", only: set[str] | None = None,
               started: Callable[[], None] | None = None) -> Result:
    """``len(users)`` concurrent clients, each submitting its share of ``responses`` one after another,
    stopping early at ``seconds`` (``only``: just these identifiers, e.g. those that got no answer)."""
    tokens = await sign_in(base, users)
    res = Result()
    per = -(-responses // len(users))
    # Every request body is built before the clock starts: the clients share the 2 cores with the
    # server, and what they spend building FHIR resources is not the server's cost.
    bodies: dict[int, tuple[str, bytes]] = {}
    for k, name in enumerate(users):
        for j in range(per):
            n = k * per + j
            if n >= responses:
                break
            bad = n % invalid_every == invalid_every - 1
            dup = not bad and n % duplicate_every == duplicate_every - 1 and j > 0
            ident = f"{prefix}-{n - 1 if dup else n}"
            if only is None or ident in only:
                bodies[n] = ident, orjson.dumps(questionnaire_response(users[name], ident, n - 1 if dup else n,
                                                                       invalid=bad))
    if started is not None:  # signed in and bodies built: the measured part begins
        started()
    stop_at = time.monotonic() + seconds

    async def client(k: int, name: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30,
                                     headers={"Authorization": f"Bearer {tokens[name]}",
                                              "content-type": "application/fhir+json"}) as c:
            for j in range(per):
                n = k * per + j
                if n >= responses or time.monotonic() > stop_at:
                    return
                if n not in bodies:
                    continue
                ident, body = bodies[n]
                t0 = time.perf_counter()
                try:
                    r = await c.post(QR_PATH, content=body)
                except httpx.HTTPError:
                    res.unanswered.append(ident)
                    continue
                res.latencies.append(time.perf_counter() - t0)
                if r.status_code in (200, 201):
                    body = r.json()
                    res.accepted[ident] = body["response_id"]
                    res.duplicates += body["duplicate"]
                    if r.status_code == 201:
                        res.fresh.add(ident)
                else:
                    problem = r.json() if r.headers.get("content-type", "").startswith("application/problem") else {}
                    reason = "; ".join(e["message"] for e in problem.get("errors") or []) or problem.get("detail", "")
                    res.rejected.append((ident, r.status_code, reason))

    t = time.perf_counter()
    await asyncio.gather(*(client(k, name) for k, name in enumerate(users)))
    res.elapsed = time.perf_counter() - t
    return res


def drain(store: Path, database: str) -> list[dict[str, Any]]:
    """``carevalue proms drain`` (after the server stopped, or beside it)."""
    out = subprocess.run([sys.executable, "-m", "carevalue.cli", "proms", "drain", "--store", str(store), "--json"],
                         env={**os.environ, "CAREVALUE_DATABASE_URL": database}, capture_output=True, check=True)
    return list(orjson.loads(out.stdout))


def stored_counts(store: Path, response_ids: set[str]) -> dict[str, int]:
    """How many times each response id is in the store's questionnaire_responses."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        rows = con.execute("SELECT response_id, count(*) FROM questionnaire_responses "
                           "WHERE response_id LIKE 'prom-%' GROUP BY 1").fetchall()
    finally:
        con.close()
    got = {r[0]: int(r[1]) for r in rows}
    return {rid: got.get(rid, 0) for rid in response_ids}


def _procs() -> dict[int, tuple[int, int, float, bool]]:
    """Every process: pid -> (parent, session, CPU seconds so far, is a PROM drain), from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    rest = fh.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{d}/cmdline", "rb") as fh:
                    drain = b"\0proms\0drain" in fh.read()
            except OSError:
                continue
            out[int(d)] = (int(rest[1]), int(rest[3]), (int(rest[11]) + int(rest[12])) / tick, drain)
    return out


def cpu_seconds(server_session: int, postmaster: int | None) -> dict[str, float]:
    """CPU used so far by the server's workers, its drain process (both in the server's session),
    the PostgreSQL cluster (the postmaster and its backends) and this process (the clients)."""
    procs = _procs()

    def under(pid: int) -> bool:
        while pid > 1:
            if pid == postmaster:
                return True
            pid = procs[pid][0] if pid in procs else 1
        return False

    import resource

    me = resource.getrusage(resource.RUSAGE_SELF)
    return {"workers": sum(c for _p, sid, c, drain in procs.values() if sid == server_session and not drain),
            "drain": sum(c for _p, sid, c, drain in procs.values() if sid == server_session and drain),
            "postgresql": sum(c for pid, (_p, _s, c, _d) in procs.items() if postmaster and under(pid)),
            "clients": me.ru_utime + me.ru_stime}


def postmaster_pid(data: Path) -> int | None:
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def server_stack() -> str:
    """The event loop and HTTP parser uvicorn picks in this environment (``loop``/``http`` auto)."""
    import importlib.util

    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"uvicorn {loop} + {'httptools' if importlib.util.find_spec('httptools') else 'h11'}"


def percentile(xs: list[float], p: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))] if s else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--responses", type=int, default=10_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=180, help="Stop submitting after this long.")
    ap.add_argument("--store", type=Path, help="An existing store (default: 400 synthetic patients, built now).")
    ap.add_argument("--database", help="postgresql://... (default: a throwaway local cluster).")
    ap.add_argument("--drain-every", type=float, default=5.0, help="As `carevalue serve --drain-every` (its default).")
    a = ap.parse_args()

    import tempfile

    from carevalue.api.pg_local import LocalPostgres

    tmp = Path(tempfile.mkdtemp(prefix="prom-load-"))
    store = a.store or build_store(tmp)
    pg = None if a.database else LocalPostgres().start()
    url = a.database or pg.url  # type: ignore[union-attr]
    port = free_port()
    try:
        users = add_patient_users(store, url, patient_ids(store, a.clients))
        server = start_server(store, url, port, workers=a.workers, drain_every=a.drain_every)
        base = f"http://127.0.0.1:{port}"
        pm = postmaster_pid(pg.data) if pg is not None else None
        try:
            cpu0: dict[str, float] = {}
            res = asyncio.run(load(base, users, a.responses, a.seconds,
                                   started=lambda: cpu0.update(cpu_seconds(server.pid, pm))))
            cpu1 = cpu_seconds(server.pid, pm)
            # a client whose request got no answer (a timeout) sends it again: submissions are idempotent
            resent = (asyncio.run(load(base, users, a.responses, a.seconds, only=set(res.unanswered)))
                      if res.unanswered else None)
        finally:
            kill(server, signal.SIGTERM)
        batches = drain(store, url)
        if resent is not None:
            print(f"{len(res.unanswered)} submissions got no answer (client timeout 30 s); all were resent, "
                  f"then {len(resent.unanswered)} got none")
            res.accepted |= resent.accepted
        ids = set(res.accepted.values())
        counts = stored_counts(store, ids)
        once = sum(v == 1 for v in counts.values())
        lat = [x * 1000 for x in res.latencies]
        n = len(res.latencies)
        print(f"submissions: {n:,} answered in {res.elapsed:.1f} s by {a.clients} clients, {a.workers} workers "
              f"({server_stack()}), draining every {a.drain_every:g} s -> {n / res.elapsed:,.0f}/s")
        cpu = {k: (cpu1[k] - cpu0[k]) / max(n, 1) * 1000 for k in cpu0}
        print("CPU ms per submission: " + "  ".join(f"{k} {v:.2f}" for k, v in cpu.items())
              + f"  (load average at the end {os.getloadavg()[0]:.1f})")
        print(f"latency ms: p50 {percentile(lat, 50):.1f}  p95 {percentile(lat, 95):.1f}  p99 {percentile(lat, 99):.1f}"
              f"  max {max(lat):.1f}")
        print(f"accepted: {len(res.accepted):,} identifiers ({res.duplicates:,} resubmissions answered duplicate); "
              f"rejected: {len(res.rejected):,}, every one with a reason: "
              f"{all(r[2] for r in res.rejected)}; no answer: {len(res.unanswered)}")
        print(f"stored exactly once: {once:,} of {len(ids):,} accepted responses "
              f"(after {len(batches)} drain batch(es) at the end; more drained while serving)")
        ok = once == len(ids) and all(r[2] for r in res.rejected) and not (resent.unanswered if resent else None)
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    sys.exit(main())
