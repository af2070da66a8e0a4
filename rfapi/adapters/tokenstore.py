"""API tokens on disk: a small SQLite file in rfapi's state directory.

rfapi's own state, never FreePBX's tables: a FreePBX upgrade or restore does not
touch it, and it survives rfapi upgrades (the installer keeps the directory).
SQLite serialises the writes of every gunicorn worker (one writer at a time, a
busy timeout instead of an error).

Only a SHA-256 digest of each token's secret is stored. Every request with a
token reads its row afresh (one SELECT by primary key on a thread's own
connection, a few microseconds: tests/bench/tokens.py), so a revoke through
any worker is refused by every worker from the next request on, and no
per-process copy can go stale (not even after the file is restored from a
backup)."""
from __future__ import annotations

import os
import sqlite3
import threading
from dataclasses import dataclass
from typing import List, Optional, Tuple


class StoreUnavailable(Exception):
    """The state directory or the token database cannot be used."""


@dataclass(frozen=True)
class TokenRow:
    id: str
    name: str
    scopes: Tuple[str, ...]
    digest: str          # hex SHA-256 of the secret
    created: float
    last_used: Optional[float]


_SCHEMA = ("CREATE TABLE IF NOT EXISTS token (id TEXT PRIMARY KEY, name TEXT NOT NULL, scopes TEXT NOT NULL, "
           "digest TEXT NOT NULL, created REAL NOT NULL, last_used REAL)")


class TokenStore:
    def __init__(self, directory: str):
        self.directory = directory
        self.path = os.path.join(directory, "tokens.sqlite")
        self._local = threading.local()

    # -- plumbing ------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                os.makedirs(self.directory, mode=0o750, exist_ok=True)
                # Digests only, but nobody else's business: made 0600 when this creates it.
                os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
                conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise StoreUnavailable("token store %s: %s" % (self.path, exc)) from None
            self._local.conn = conn
        return conn

    def _run(self, sql: str, args=()) -> sqlite3.Cursor:
        try:
            return self._db().execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreUnavailable("token store %s: %s" % (self.path, exc)) from None

    @staticmethod
    def _row(r) -> TokenRow:
        return TokenRow(r[0], r[1], tuple(s for s in r[2].split(",") if s), r[3], r[4], r[5])

    # -- writes ---------------------------------------------------------------------------
    def add(self, row: TokenRow) -> None:
        self._run("INSERT INTO token (id, name, scopes, digest, created, last_used) VALUES (?, ?, ?, ?, ?, ?)",
                  (row.id, row.name, ",".join(row.scopes), row.digest, row.created, row.last_used))

    def remove(self, token_id: str) -> bool:
        return self._run("DELETE FROM token WHERE id = ?", (token_id,)).rowcount > 0

    def touch(self, token_id: str, when: float) -> None:
        """Record a use (the caller throttles: a write per request would serialise the workers)."""
        self._run("UPDATE token SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used < ?)",
                  (when, token_id, when))

    # -- reads ----------------------------------------------------------------------------
    def rows(self) -> List[TokenRow]:
        return [self._row(r) for r in self._run(
            "SELECT id, name, scopes, digest, created, last_used FROM token ORDER BY created, id")]

    def lookup(self, token_id: str) -> Optional[TokenRow]:
        """The row of this id as of this moment."""
        r = self._run("SELECT id, name, scopes, digest, created, last_used FROM token WHERE id = ?",
                      (token_id,)).fetchone()
        return self._row(r) if r else None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
