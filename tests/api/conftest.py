"""A synthetic store with one full run, an API app over a copy of it, and one user per role."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).parent))
from api_accounts import PASSWORD, copy_store  # noqa: E402

__all__ = ["PASSWORD", "copy_store"]


@pytest.fixture(scope="session")
def built_store(synthetic_store: Path) -> Path:
    """400 synthetic patients (seed 7), ingested and run once for the whole session (the shared
    ``synthetic_store``; tests use copies).

    ``CAREVALUE_API_TEST_STORE`` may name a store built the same way earlier, to skip the build.
    """
    given = os.environ.get("CAREVALUE_API_TEST_STORE")
    if given and Path(given).exists():
        return Path(given)
    return synthetic_store


def first_rows(store: Path, sql: str) -> list[tuple[Any, ...]]:
    from carevalue.pipeline.runs import RunStore

    con = RunStore(store).open_reader()
    try:
        return list(con.raw_sql(sql).fetchall())
    finally:
        con.disconnect()


@pytest.fixture(scope="module")
def store(built_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_store(built_store, tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="module")
def sql(client: TestClient) -> Callable[[str], list[tuple[Any, ...]]]:
    """Rows of a SQL query on the app's current run (to check answers against)."""

    def rows(q: str) -> list[tuple[Any, ...]]:
        with client.app.state.carevalue.reading() as ws:  # type: ignore[attr-defined]
            return list(ws.con.raw_sql(q).fetchall())

    return rows


@pytest.fixture(scope="module")
def people(store: Path) -> dict[str, Any]:
    """Two patients with a cycle in different IPUs, and a patient outside the first IPU."""
    rows = first_rows(store, "SELECT patient_id, ipu_id FROM care_cycles WHERE ipu_id IS NOT NULL "
                             "ORDER BY patient_id, ipu_id")
    by_ipu: dict[str, set[str]] = {}
    for pid, ipu in rows:
        by_ipu.setdefault(ipu, set()).add(pid)
    ipu = sorted(by_ipu, key=lambda k: -len(by_ipu[k]))[0]
    mine = sorted(by_ipu[ipu])
    others = sorted({p for p, _ in rows} - set(mine))
    return {"ipu": ipu, "patient": mine[0], "neighbour": mine[1], "outsider": others[0]}


@pytest.fixture(scope="module")
def app_for(store: Path, people: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
            ) -> Callable[..., Any]:
    from carevalue.api.app import create_app

    def make(**kw: Any) -> Any:
        ops = tmp_path_factory.mktemp("ops")
        app = create_app(store, ops=ops, **kw)
        users = app.state.carevalue.users
        users.add("ada", PASSWORD, "admin")
        users.add("ana", PASSWORD, "analyst")
        users.add("pay", PASSWORD, "payer")
        users.add("emp", PASSWORD, "employer")
        users.add("doc", PASSWORD, "clinician", ipu_ids=[people["ipu"]])
        users.add("pat", PASSWORD, "patient", patient_id=people["patient"])
        users.add("nei", PASSWORD, "patient", patient_id=people["neighbour"])
        return app

    return make


@pytest.fixture(scope="module")
def client(app_for: Callable[..., Any]) -> Iterator[TestClient]:
    with TestClient(app_for(signin_limit=3, signin_window=timedelta(minutes=15))) as c:
        yield c


@pytest.fixture(scope="module")
def as_(client: TestClient) -> Callable[[str], dict[str, str]]:
    """Headers signed in as a user (one token per user, cached)."""
    cache: dict[str, dict[str, str]] = {}

    def headers(user: str) -> dict[str, str]:
        if user not in cache:
            r = client.post("/api/v1/auth/token", json={"username": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            cache[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return cache[user]

    return headers


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A throwaway PostgreSQL cluster on loopback; the tests skip only where the server binaries are
    not installed (CI installs Debian's postgresql package)."""
    from carevalue.api.pg_local import LocalPostgres, binaries

    if binaries() is None:
        pytest.skip("PostgreSQL server binaries are not installed (apt-get install postgresql)")
    with LocalPostgres() as pg:
        yield pg.url


@pytest.fixture
def fresh_database(postgres: str) -> Iterator[str]:
    """A new empty database on the cluster for one test."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres, autocommit=True) as con:
        con.execute(f"CREATE DATABASE {name}")
    yield postgres.rsplit("/", 1)[0] + f"/{name}"
