"""API tokens on disk: a small SQLite file in rfapi's state directory.

rfapi's own state, never FreePBX's tables: a FreePBX upgrade or restore does not
touch it, and it survives rfapi upgrades (the installer keeps the directory).
SQLite serialises the writes of every gunicorn worker (one writer at a time, a
busy timeout instead of an error).

Only a SHA-256 digest of each token's secret is stored. Every worker keeps the
rows in memory for the per-request lookup; a write (create, revoke) bumps a
counter shared by every process (a memory-mapped file beside the database), and
each lookup compares it first, so a revoked token is refused by every worker
from the next request on. The in-memory copy is also re-read every
``MAX_AGE`` seconds, which bounds staleness if the file is replaced behind
rfapi's back (a restore from backup)."""
from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .files import SharedCounter


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
    MAX_AGE = 10.0

    def __init__(self, directory: str):
        self.directory = directory
        self.path = os.path.join(directory, "tokens.sqlite")
        self._local = threading.local()
        self._lock = threading.Lock()
        self._gen: Optional[SharedCounter] = None
        self._view: Optional[Dict[str, TokenRow]] = None
        self._view_gen: Optional[int] = None
        self._view_at = 0.0

    # -- plumbing ------------------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                os.makedirs(self.directory, mode=0o750, exist_ok=True)
                conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
                os.chmod(self.path, 0o600)  # digests only, but nobody else's business
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
            except (OSError, sqlite3.Error) as exc:
                raise StoreUnavailable("token store %s: %s" % (self.path, exc)) from None
            self._local.conn = conn
        return conn

    def _counter(self) -> Optional[SharedCounter]:
        if self._gen is None:
            with self._lock:
                if self._gen is None:
                    self._db()  # the directory exists before the counter file is made in it
                    self._gen = SharedCounter(os.path.join(self.directory, "tokens.generation"))
        return self._gen

    def _changed(self) -> None:
        try:
            self._counter().bump()
        except OSError:
            # The others then notice within MAX_AGE; this worker drops its copy now.
            pass
        with self._lock:
            self._view = None

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
        self._changed()

    def remove(self, token_id: str) -> bool:
        gone = self._run("DELETE FROM token WHERE id = ?", (token_id,)).rowcount > 0
        if gone:
            self._changed()
        return gone

    def touch(self, token_id: str, when: float) -> None:
        """Record a use (no generation bump: the lookup does not depend on it)."""
        self._run("UPDATE token SET last_used = ? WHERE id = ? AND (last_used IS NULL OR last_used < ?)",
                  (when, token_id, when))

    # -- reads ----------------------------------------------------------------------------
    def rows(self) -> List[TokenRow]:
        return [self._row(r) for r in self._run(
            "SELECT id, name, scopes, digest, created, last_used FROM token ORDER BY created, id")]

    def lookup(self, token_id: str) -> Optional[TokenRow]:
        """The row of this id as of this moment (in memory unless another process wrote)."""
        gen = self._counter().value
        now = time.monotonic()
        view = self._view
        if view is None or gen is None or gen != self._view_gen or now - self._view_at > self.MAX_AGE:
            # Read the counter before the rows: a write landing in between leaves the
            # older number here, so the next lookup reads again.
            view = {r.id: r for r in self.rows()}
            with self._lock:
                self._view, self._view_gen, self._view_at = view, gen, now
        return view.get(token_id)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
