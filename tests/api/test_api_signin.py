"""Passwords are argon2id hashes; tokens expire; sign-in is rate limited and every attempt audited."""

from __future__ import annotations

import sqlite3
from datetime import timedelta

from fastapi.testclient import TestClient

from carevalue.api.users import UserStore

V1 = "/api/v1"


def test_passwords_are_stored_as_argon2id_hashes_only(tmp_path) -> None:
    users = UserStore(tmp_path / "u.sqlite")
    users.add("ada", "correct horse battery", "admin")
    (h,) = sqlite3.connect(tmp_path / "u.sqlite").execute("SELECT password_hash FROM users").fetchone()
    assert h.startswith("$argon2id$") and "correct horse" not in h
    assert users.verify("ada", "correct horse battery", None) is not None
    assert users.verify("ada", "wrong", None) is None
    assert users.verify("nobody", "correct horse battery", None) is None


def test_a_token_stops_working_when_it_expires(tmp_path) -> None:
    users = UserStore(tmp_path / "u.sqlite", token_ttl=timedelta(seconds=-1))
    users.add("ana", "correct horse battery", "analyst")
    token, _ = users.issue("ana")
    assert users.resolve(token) is None
    live = UserStore(tmp_path / "u.sqlite")
    token, _ = live.issue("ana")
    assert live.resolve(token).username == "ana"  # type: ignore[union-attr]
    # only the token's hash is kept: the file alone signs no one in
    kept = [r[0] for r in sqlite3.connect(tmp_path / "u.sqlite").execute("SELECT token_sha256 FROM tokens")]
    assert token not in kept


def test_users_need_what_their_role_is_scoped_by(tmp_path) -> None:
    import pytest

    from carevalue.api.users import UserError

    users = UserStore(tmp_path / "u.sqlite")
    with pytest.raises(UserError, match="patient-id"):
        users.add("p", "correct horse battery", "patient")
    with pytest.raises(UserError, match="ipu"):
        users.add("c", "correct horse battery", "clinician")
    with pytest.raises(UserError, match="12 characters"):
        users.add("a", "short", "admin")


def test_sign_in_is_rate_limited_after_failures_and_audited(app_for) -> None:
    with TestClient(app_for(signin_limit=3)) as c:
        for _ in range(3):
            r = c.post(f"{V1}/auth/token", json={"username": "ana", "password": "guess guess guess"})
            assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
        # even the right password is refused while the window lasts
        r = c.post(f"{V1}/auth/token", json={"username": "ana", "password": "correct horse battery"})
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        log = c.app.state.carevalue.audit.entries(limit=100)  # type: ignore[attr-defined]
        assert [e["status"] for e in log if e["action"] == "sign-in ana"] == [401, 401, 401, 429]
        # another user from another name is limited too when it comes from the same address
        r = c.post(f"{V1}/auth/token", json={"username": "pay", "password": "correct horse battery"})
        assert r.status_code == 429
