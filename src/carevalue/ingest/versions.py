"""Versions of one record across files: FHIR meta.lastUpdated decides which one is stored.

Every version of a record that carries ``meta.lastUpdated`` gets a row in ``record_versions``
(current or not, and why). When a file brings a version of a record already stored from another
file, the later ``lastUpdated`` wins; on a tie the later ingest wins (``ingest_seq``: the order in
which a file's present content was first ingested, so re-ingesting an unchanged file changes
nothing). The losing version is quarantined as "superseded by a later version" — a stored one with
its rows as JSON content — so read = stored + quarantined still holds for both files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from carevalue.ingest.batch import MAX_CONTENT, Reason
from carevalue.model import table

if TYPE_CHECKING:
    from carevalue.ingest.batch import Batch

_COLUMNS = ("table_name", "record_id", "record_type", "source", "locator", "last_updated", "ingest_seq",
            "current", "why", "row_keys")
_TYPES = (pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.timestamp("us"), pa.int64(),
          pa.bool_(), pa.string(), pa.string())

# (staged table, where clause on alias s, field, reason, detail SQL) -> quarantine those staged records
MoveFn = Callable[[str, str, str, str, str], None]


def ingest_seq(con: duckdb.DuckDBPyConnection, src: str, sha256: str) -> int:
    """The file's ingest order: kept when its content is unchanged since it was ingested, else next."""
    prev = con.execute("SELECT sha256 FROM ingest_files WHERE source = ?", [src]).fetchone()
    if prev is not None and sha256 and prev[0] == sha256:
        kept = con.execute("SELECT max(ingest_seq) FROM record_versions WHERE source = ?", [src]).fetchone()
        if kept and kept[0] is not None:
            return int(kept[0])
    top = con.execute("SELECT coalesce(max(ingest_seq), 0) FROM record_versions").fetchone()
    return int(top[0] if top else 0) + 1


def _ts(v: datetime | None) -> str:
    return "(none)" if v is None else f"{v:%Y-%m-%dT%H:%M:%SZ}"


def _naive_utc(v: Any) -> Any:
    if isinstance(v, datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


def _stored_rows(con: duckdb.DuckDBPyConnection, row_keys: list[list[Any]], source: str) -> list[list[Any]]:
    """The stored rows a version produced, each as [table, values without source...]."""
    out: list[list[Any]] = []
    for tk in row_keys:
        name, key = tk[0], tk[1:]
        t = table(name)
        where = " AND ".join(f'"{k}" = ?' for k in t.key)
        cols = [c for c in t.column_names if c != "source"]
        sel = ", ".join(f'"{c}"' for c in cols)
        for row in con.execute(f'SELECT {sel} FROM "{name}" WHERE {where} AND source = ?', [*key, source]).fetchall():
            out.append([name, *row])
    return sorted(out, key=repr)


def _staged_rows(con: duckdb.DuckDBPyConnection, staged: list[str], locator: str) -> list[list[Any]]:
    out: list[list[Any]] = []
    for name in staged:
        cols = [c for c in table(name).column_names if c != "source"]
        sel = ", ".join(f'"{c}"' for c in cols)
        for row in con.execute(f'SELECT {sel} FROM "_stage_{name}" WHERE _locator = ?', [locator]).fetchall():
            out.append([name, *row])
    return sorted(out, key=repr)


def _as_json(rows: list[list[Any]]) -> str:
    return json.dumps([{"table": r[0], "row": r[1:]} for r in rows], default=str)


def resolve(con: duckdb.DuckDBPyConnection, batch: Batch, staged: list[str], seq: int,
            move: MoveFn) -> dict[str, dict[str, Any]]:
    """Settle this file's versions against the current versions from other files (before the
    store's other conflict checks); returns them for :func:`record`."""
    src = batch.source
    versions = {loc: dict(v) for loc, v in batch.versions.items()}
    if not versions:
        return versions
    for v in versions.values():
        v["last_updated"] = _naive_utc(v["last_updated"])
    current = [v for v in versions.values() if v["current"]]
    if current:
        probe = pa.table({"table_name": [v["table_name"] for v in current],
                          "record_id": [v["record_id"] for v in current],
                          "locator": [v["locator"] for v in current]})
        con.register("_probe", probe)
        hits = con.execute(
            """SELECT p.locator, rv.source, rv.locator, rv.last_updated, rv.ingest_seq, rv.row_keys
               FROM _probe p JOIN record_versions rv USING (table_name, record_id)
               WHERE rv."current" AND rv.source <> ?""", [src]).fetchall()
        con.unregister("_probe")
        for loc, o_src, o_loc, o_upd, o_seq, o_keys in hits:
            _settle(con, versions[loc], staged, src, seq, o_src, o_loc, o_upd, int(o_seq), json.loads(o_keys), move)
    return versions


def record(con: duckdb.DuckDBPyConnection, src: str, versions: dict[str, dict[str, Any]], seq: int) -> None:
    """Write this file's versions to ``record_versions``; one quarantined for another reason is not current."""
    if not versions:
        return
    lost = dict(con.execute("SELECT locator, min(reason) FROM quarantine WHERE source = ? GROUP BY locator",
                            [src]).fetchall())
    for loc, v in versions.items():
        if v["current"] and loc in lost:
            v.update(current=False, why=f"quarantined: {lost[loc]}")
    cols: dict[str, list[Any]] = {c: [] for c in _COLUMNS}
    for v in versions.values():
        for c in _COLUMNS:
            if c == "source":
                cols[c].append(src)
            elif c == "ingest_seq":
                cols[c].append(seq)
            elif c == "row_keys":
                cols[c].append(json.dumps(v["row_keys"], default=str))
            else:
                cols[c].append(v[c])
    tbl = pa.Table.from_arrays([pa.array(cols[c], type=t) for c, t in zip(_COLUMNS, _TYPES, strict=True)],
                               names=list(_COLUMNS))
    con.register("_versions", tbl)
    con.execute(f"INSERT INTO record_versions ({', '.join(_COLUMNS)}) SELECT * FROM _versions")
    # The current version's reason depends only on how many versions there are, not on ingest order.
    con.execute("""UPDATE record_versions rv SET why = CASE WHEN c.n > 1
                       THEN 'current: the latest of ' || c.n || ' versions (lastUpdated, then later ingest)'
                       ELSE 'current: the only version' END
                   FROM (SELECT table_name, record_id, count(*) AS n FROM record_versions
                         WHERE (table_name, record_id) IN (SELECT table_name, record_id FROM _versions)
                         GROUP BY ALL) c
                   WHERE rv."current" AND rv.table_name = c.table_name AND rv.record_id = c.record_id""")
    con.unregister("_versions")


def _settle(con: duckdb.DuckDBPyConnection, v: dict[str, Any], staged: list[str], src: str, seq: int,
            o_src: str, o_loc: str, o_upd: datetime | None, o_seq: int, o_keys: list[list[Any]],
            move: MoveFn) -> None:
    """One record present in this file and, as the current version, in another file."""
    name, rid, upd = v["table_name"], v["record_id"], v["last_updated"]
    mine = _staged_rows(con, staged, v["locator"])
    theirs = _stored_rows(con, o_keys, o_src)
    if not theirs:
        return  # the other file's rows are gone (e.g. quarantined there): nothing to settle
    if json.dumps(mine, default=str) == json.dumps(theirs, default=str):
        v.update(current=False, why=f"same content as the current version in {o_src} ({o_loc}), which keeps it")
        return  # store.py drops an identical row stored from another source
    if o_upd is None or upd is None:
        return  # a version without lastUpdated: the conflict stays a conflict (store.py quarantines it)
    later = upd > o_upd or (upd == o_upd and seq > o_seq)
    if later:
        why = _superseded(name, rid, src, v["locator"], upd, o_upd)
        _quarantine(con, o_src, o_loc, v["record_type"], rid, why, theirs)
        for tk in o_keys:
            t = table(tk[0])
            where = " AND ".join(f'"{k}" = ?' for k in t.key)
            con.execute(f'DELETE FROM "{tk[0]}" WHERE {where} AND source = ?', [*tk[1:], o_src])
        con.execute('UPDATE record_versions SET "current" = false, why = ? '
                    "WHERE table_name = ? AND record_id = ? AND source = ? AND locator = ?",
                    [why, name, rid, o_src, o_loc])
        q = con.execute("SELECT count(DISTINCT locator) FROM quarantine WHERE source = ?", [o_src]).fetchone()
        n = int(q[0]) if q else 0
        con.execute("UPDATE ingest_files SET quarantined = ?, stored = read - ? WHERE source = ?", [n, n, o_src])
        return
    why = _superseded(name, rid, o_src, o_loc, o_upd, upd)
    _quarantine(con, src, v["locator"], v["record_type"], rid, why, mine)
    esc = v["locator"].replace("'", "''")
    move(name, f"s._locator = '{esc}'", "meta.lastUpdated", Reason.SUPERSEDED, "'" + why.replace("'", "''") + "'")
    v.update(current=False, why=why)


def _superseded(name: str, rid: str, win_src: str, win_loc: str, win: datetime, lose: datetime) -> str:
    """Why a version lost, worded the same whichever file came first (re-ingest is idempotent)."""
    tie = " (same lastUpdated: the later ingest wins)" if win == lose else ""
    return (f"{name} {rid}: superseded by the version in {win_src} ({win_loc}), lastUpdated "
            f"{_ts(win)} vs {_ts(lose)}{tie}")


def _quarantine(con: duckdb.DuckDBPyConnection, src: str, loc: str, rtype: str, rid: str, why: str,
                rows: list[list[Any]]) -> None:
    """The losing version into quarantine, its rows (as the store holds them) as JSON content."""
    con.execute("INSERT INTO quarantine VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [src, loc, rtype, rid.split("/")[0], "meta.lastUpdated", Reason.SUPERSEDED, why,
                 _as_json(rows)[:MAX_CONTENT]])
