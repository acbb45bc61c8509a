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
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from carevalue.ingest.batch import MAX_CONTENT, Reason
from carevalue.model import table

if TYPE_CHECKING:
    from carevalue.ingest.batch import Batch
    from carevalue.ingest.staging import Staging

_COLUMNS = ("table_name", "record_id", "record_type", "source", "locator", "last_updated", "ingest_seq",
            "current", "why", "row_keys", "digest")
_TYPES = (pa.string(), pa.string(), pa.string(), pa.string(), pa.string(), pa.timestamp("us"), pa.int64(),
          pa.bool_(), pa.string(), pa.string(), pa.string())


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


def _rows_json(rows: list[list[Any]]) -> str:
    """A version's rows (as the store holds them, without the source) as JSON, in a fixed order."""
    return json.dumps([{"table": r[0], "row": r[1:]} for r in sorted(rows, key=repr)], default=str)[:MAX_CONTENT]


def _register(con: duckdb.DuckDBPyConnection, name: str, columns: dict[str, list[Any]]) -> None:
    con.register(name, pa.table(columns))


def resolve(con: duckdb.DuckDBPyConnection, batch: Batch, stage: Staging, seq: int
            ) -> dict[str, dict[str, Any]]:
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
            """SELECT p.locator, rv.source, rv.locator, rv.last_updated, rv.ingest_seq, rv.row_keys, rv.digest
               FROM _probe p JOIN record_versions rv USING (table_name, record_id)
               WHERE rv."current" AND rv.source <> ?""", [src]).fetchall()
        con.unregister("_probe")
        if hits:
            _settle(con, versions, stage, src, seq, hits)
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


def _settle(con: duckdb.DuckDBPyConnection, versions: dict[str, dict[str, Any]], stage: Staging, src: str,
            seq: int, hits: list[tuple[Any, ...]]) -> None:
    """Records present in this file and, as the current version, in another file — settled in bulk."""
    older: list[tuple[dict[str, Any], str]] = []
    later: list[tuple[dict[str, Any], str, str, list[list[Any]], str]] = []
    for loc, o_src, o_loc, o_upd, o_seq, o_keys, o_digest in hits:
        v = versions[loc]
        name, rid, upd = v["table_name"], v["record_id"], v["last_updated"]
        if o_digest == v["digest"]:
            v.update(current=False, why=f"same content as the current version in {o_src} ({o_loc}), which keeps it")
            continue  # store.py drops an identical row stored from another source
        if o_upd is None or upd is None:
            continue  # a version without lastUpdated: the conflict stays a conflict (store.py quarantines it)
        if upd > o_upd or (upd == o_upd and seq > int(o_seq)):
            later.append((v, o_src, o_loc, json.loads(o_keys), _superseded(name, rid, src, loc, upd, o_upd)))
        else:
            why = _superseded(name, rid, o_src, o_loc, o_upd, upd)
            v.update(current=False, why=why)
            older.append((v, why))
    if older:
        _lose_incoming(con, stage, src, older)
    if later:
        _lose_stored(con, later)


def _lose_incoming(con: duckdb.DuckDBPyConnection, stage: Staging, src: str,
                   older: list[tuple[dict[str, Any], str]]) -> None:
    """This file's older versions: into quarantine with their rows, out of staging."""
    locs = [v["locator"] for v, _ in older]
    _register(con, "_older", {"locator": locs})
    rows: dict[str, list[list[Any]]] = {loc: [] for loc in locs}
    for name in stage.names:
        cols = ", ".join(f's."{c}"' for c in table(name).column_names if c != "source")
        for loc, *vals in con.execute(f'SELECT s._locator, {cols} FROM "_stage_{name}" s '
                                      "WHERE s._locator IN (SELECT locator FROM _older)").fetchall():
            rows[loc].append([name, *vals])
    _quarantine(con, [(src, v["locator"], v["record_type"], v["record_id"], why, _rows_json(rows[v["locator"]]))
                      for v, why in older])
    stage.remove_locators("SELECT locator FROM _older")
    con.unregister("_older")


def _lose_stored(con: duckdb.DuckDBPyConnection,
                 later: list[tuple[dict[str, Any], str, str, list[list[Any]], str]]) -> None:
    """Stored versions another file supersedes: their rows into quarantine (under their own file)
    as JSON, out of the tables; their record_versions rows no longer current; their files' counts."""
    by_table: dict[str, list[tuple[list[Any], str, str]]] = {}
    for _v, o_src, o_loc, o_keys, _why in later:
        for tk in o_keys:
            by_table.setdefault(tk[0], []).append((tk[1:], o_src, o_loc))
    rows: dict[tuple[str, str], list[list[Any]]] = {(o_src, o_loc): [] for _v, o_src, o_loc, _k, _w in later}
    for name, keys in by_table.items():
        t = table(name)
        cols: dict[str, list[Any]] = {f"k{i}": [str(k[0][i]) for k in keys] for i in range(len(t.key))}
        cols["__src"], cols["__loc"] = [k[1] for k in keys], [k[2] for k in keys]
        _register(con, "_keys", cols)
        on = " AND ".join(f'CAST(t."{k}" AS VARCHAR) = k.k{i}' for i, k in enumerate(t.key)) + " AND t.source = k.__src"
        sel = ", ".join(f't."{c}"' for c in t.column_names if c != "source")
        for o_src, o_loc, *vals in con.execute(f'SELECT k.__src, k.__loc, {sel} FROM "{name}" t JOIN _keys k ON {on}').fetchall():
            rows[(o_src, o_loc)].append([name, *vals])
        con.execute(f'DELETE FROM "{name}" t USING _keys k WHERE {on}')
        con.unregister("_keys")
    _quarantine(con, [(o_src, o_loc, v["record_type"], v["record_id"], why, _rows_json(rows[(o_src, o_loc)]))
                      for v, o_src, o_loc, _k, why in later if rows[(o_src, o_loc)]])
    _register(con, "_lost", {"table_name": [v["table_name"] for v, *_ in later],
                             "record_id": [v["record_id"] for v, *_ in later],
                             "source": [o for _v, o, *_ in later], "locator": [lc for _v, _o, lc, *_ in later],
                             "why": [w for *_, w in later]})
    con.execute("""UPDATE record_versions rv SET "current" = false, why = l.why FROM _lost l
                   WHERE rv.table_name = l.table_name AND rv.record_id = l.record_id
                   AND rv.source = l.source AND rv.locator = l.locator""")
    con.unregister("_lost")
    for o_src in sorted({o for _v, o, *_ in later}):
        q = con.execute("SELECT count(DISTINCT locator) FROM quarantine WHERE source = ?", [o_src]).fetchone()
        n = int(q[0]) if q else 0
        con.execute("UPDATE ingest_files SET quarantined = ?, stored = read - ? WHERE source = ?", [n, n, o_src])


def _superseded(name: str, rid: str, win_src: str, win_loc: str, win: datetime, lose: datetime) -> str:
    """Why a version lost, worded the same whichever file came first (re-ingest is idempotent)."""
    tie = " (same lastUpdated: the later ingest wins)" if win == lose else ""
    return (f"{name} {rid}: superseded by the version in {win_src} ({win_loc}), lastUpdated "
            f"{_ts(win)} vs {_ts(lose)}{tie}")


def _quarantine(con: duckdb.DuckDBPyConnection, rows: list[tuple[str, str, str, str, str, str]]) -> None:
    """Losing versions into quarantine: (source, locator, record type, record id, why, content)."""
    if not rows:
        return
    _register(con, "_lose", {
        "source": [r[0] for r in rows], "locator": [r[1] for r in rows], "record_type": [r[2] for r in rows],
        "record_id": [r[3].split("/")[0] for r in rows], "why": [r[4] for r in rows], "content": [r[5] for r in rows]})
    con.execute("""INSERT INTO quarantine SELECT source, locator, record_type, record_id, 'meta.lastUpdated', ?,
                   why, content FROM _lose""", [Reason.SUPERSEDED])
    con.unregister("_lose")
