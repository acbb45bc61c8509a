"""The user store: accounts with a role, argon2 password hashes, expiring sign-in tokens, sign-in attempts.

It lives in its own SQLite file beside (never inside) the analytic store, or in the deployment's
PostgreSQL database. A token is a random string handed to the client once; only its SHA-256 is
stored, so the database alone signs no one in.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from carevalue.api.opsdb import OpsDB, SqliteOps


class Role(StrEnum):
    admin = "admin"          # everything, including users and the audit log
    analyst = "analyst"      # aggregates (small cells suppressed) and runs
    clinician = "clinician"  # aggregates, and the records of patients cared for in their IPUs
    payer = "payer"          # de-identified aggregates
    employer = "employer"    # de-identified aggregates
    patient = "patient"      # their own record and results, their own PROMs


HASHES_AT_ONCE = 2  # argon2 computations in flight per process


class UserError(ValueError):
    """A user cannot be created as asked (duplicate, missing patient id, weak password ...)."""


@dataclass(frozen=True)
class User:
    username: str
    role: Role
    patient_id: str | None
    ipu_ids: tuple[str, ...]


def _now() -> datetime:
    return datetime.now(UTC)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserStore:
    """Users, tokens and sign-in attempts in one SQLite file (a path) or the PostgreSQL database."""

    MIN_PASSWORD = 12

    def __init__(self, db: str | Path | OpsDB, token_ttl: timedelta = timedelta(hours=8)) -> None:
        self.db: OpsDB = SqliteOps(db) if isinstance(db, str | Path) else db
        self.db.ensure("users")
        self.token_ttl = token_ttl
        self.hasher = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
        # Each hash takes 64 MiB: a burst of sign-ins waits its turn rather than exhaust memory.
        self._hashing = threading.BoundedSemaphore(HASHES_AT_ONCE)
        self._dummy = self.hasher.hash(secrets.token_hex(16))

    # ------------------------------------------------------------------ accounts
    def add(self, username: str, password: str, role: Role | str, patient_id: str | None = None,
            ipu_ids: tuple[str, ...] | list[str] = ()) -> User:
        """Create a user; a patient needs the patient_id they are, a clinician the IPUs they work in."""
        role = Role(role)
        if not username or not username.strip():
            raise UserError("a user needs a name")
        if len(password) < self.MIN_PASSWORD:
            raise UserError(f"a password needs at least {self.MIN_PASSWORD} characters")
        if role is Role.patient and not patient_id:
            raise UserError("a patient user needs --patient-id (the patient they are)")
        if role is Role.clinician and not ipu_ids:
            raise UserError("a clinician user needs at least one --ipu (the IPUs whose patients they see)")
        with self.db.connect() as con:
            if con.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone():
                raise UserError(f"user {username!r} exists already")
            con.execute("INSERT INTO users VALUES (?, ?, ?, ?, ?, ?)",
                        (username, self.hasher.hash(password), role.value, patient_id,
                         json.dumps(list(ipu_ids)), _now().isoformat()))
        return User(username, role, patient_id, tuple(ipu_ids))

    def get(self, username: str) -> User | None:
        with self.db.connect() as con:
            r = con.execute("SELECT * FROM users WHERE username = ?", (username,)).fetchone()
        return None if r is None else User(r["username"], Role(r["role"]), r["patient_id"],
                                           tuple(json.loads(r["ipu_ids"])))

    def list(self) -> list[User]:
        with self.db.connect() as con:
            rows = con.execute("SELECT username FROM users ORDER BY username").fetchall()
        return [u for r in rows if (u := self.get(r["username"])) is not None]

    # ------------------------------------------------------------------ sign-in
    def recent_failures(self, username: str, remote: str | None, window: timedelta) -> int:
        """Failed sign-ins for this name, or from this address, within ``window``."""
        since = (_now() - window).isoformat()
        with self.db.connect() as con:
            r = con.execute("SELECT count(*) FROM signin_attempts WHERE ok = 0 AND ts >= ? "
                            "AND (username = ? OR (remote IS NOT NULL AND remote = ?))",
                            (since, username, remote)).fetchone()
        return int(r[0])

    def verify(self, username: str, password: str, remote: str | None) -> User | None:
        """The user when the password matches (and the attempt recorded), else None."""
        with self.db.connect() as con:
            r = con.execute("SELECT password_hash FROM users WHERE username = ?", (username,)).fetchone()
        ok = False
        try:
            # Hash even for an unknown name, so timing does not tell which names exist.
            with self._hashing:
                ok = self.hasher.verify(r["password_hash"] if r else self._dummy, password) and r is not None
        except (VerificationError, InvalidHashError):
            ok = False
        with self.db.connect() as con:
            con.execute("INSERT INTO signin_attempts VALUES (?, ?, ?, ?)",
                        (_now().isoformat(), username, remote, int(ok)))
            if ok and r is not None and self.hasher.check_needs_rehash(r["password_hash"]):
                con.execute("UPDATE users SET password_hash = ? WHERE username = ?",
                            (self.hasher.hash(password), username))
        return self.get(username) if ok else None

    def issue(self, username: str) -> tuple[str, datetime]:
        """A new token for the user and when it expires."""
        token = secrets.token_urlsafe(32)
        now = _now()
        expires = now + self.token_ttl
        with self.db.connect() as con:
            con.execute("DELETE FROM tokens WHERE expires_ts < ?", (now.isoformat(),))
            con.execute("INSERT INTO tokens VALUES (?, ?, ?, ?)",
                        (_sha(token), username, now.isoformat(), expires.isoformat()))
        return token, expires

    def resolve(self, token: str) -> User | None:
        """The user a token signs in, while it has not expired."""
        with self.db.single() as con:
            r = con.execute("SELECT u.username, u.role, u.patient_id, u.ipu_ids, t.expires_ts FROM tokens t "
                            "JOIN users u ON u.username = t.username WHERE t.token_sha256 = ?",
                            (_sha(token),)).fetchone()
        if r is None or datetime.fromisoformat(r["expires_ts"]) <= _now():
            return None
        return User(r["username"], Role(r["role"]), r["patient_id"], tuple(json.loads(r["ipu_ids"])))

    def revoke(self, token: str) -> None:
        with self.db.connect() as con:
            con.execute("DELETE FROM tokens WHERE token_sha256 = ?", (_sha(token),))
