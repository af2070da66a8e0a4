"""HTTP Basic auth (flask-httpauth).

Accepted: the API user from the config (constant-time compare, no database
hit), or a FreePBX admin from ``ampusers`` whose password matches its stored
SHA-1 and whose sections grant ALL SECTIONS (``*``). Admin lookups that
succeeded are cached for a few seconds; failures never are.

Repeated failures from one client address within a window earn that address a
429 for a cool-down; each failure is logged as one fail2ban-friendly line."""
from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Deque, Dict, Optional, Tuple

from flask import current_app, g, request
from flask_httpauth import HTTPBasicAuth

from .adapters.files import SharedCounter
from .dao import exact, first
from .http import ApiError, Forbidden, TooManyRequests, reply
from .runtime import runtime
from .services.tokens import BadToken, Tokens

REALM = "PBX API"
log = logging.getLogger("rfapi.auth")


@dataclass(frozen=True)
class User:
    name: str
    kind: str          # "api", "ampuser" or "token"
    full_access: bool
    scopes: Optional[frozenset] = None  # a token's scopes; None: Basic credentials, every scope
    token_name: str = ""                # a token's name (for the audit log)


def sha1_hex(password: str) -> str:
    return hashlib.sha1(password.encode("utf-8")).hexdigest()


def sections_of(raw) -> list:
    if isinstance(raw, (bytes, bytearray)):
        raw = raw.decode("utf-8", "replace")
    return [s for s in (raw or "").split(";") if s != ""]


class AdminCache:
    """Positive ampusers lookups, keyed by user and a hash of the password tried.

    ``clear()`` after any ampusers change also bumps a counter shared by every
    worker (a memory-mapped file in the cache dir); every hit compares it, so a
    deleted or demoted admin loses access in every worker at once, not after the
    TTL."""

    def __init__(self, generation_file: Optional[str] = None):
        self._data: Dict[Tuple[str, str], Tuple[User, float, Optional[int]]] = {}
        self._lock = threading.Lock()
        self._gen = SharedCounter(generation_file) if generation_file else None

    def _generation(self) -> Optional[int]:
        return self._gen.value if self._gen is not None else 0

    def get(self, key):
        gen = self._generation()
        with self._lock:
            hit = self._data.get(key)
            # An unreadable generation (None) never matches: no caching rather than stale answers.
            if hit and hit[1] > time.monotonic() and gen is not None and hit[2] == gen:
                return hit[0]
            self._data.pop(key, None)
            return None

    def put(self, key, user: User, ttl: float) -> None:
        if ttl <= 0:
            return
        gen = self._generation()
        with self._lock:
            if len(self._data) > 1000:
                self._data.clear()
            self._data[key] = (user, time.monotonic() + ttl, gen)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
        if self._gen is not None:
            try:
                self._gen.bump()
            except OSError as exc:
                log.warning("cannot bump the admin cache generation: %s", exc)


class FailureTracker:
    """Failed logins per client address, shared by every gunicorn worker.

    State lives in a small SQLite file in the cache dir, so N failures mean N
    across all workers (not N per worker). If that file cannot be used (cache
    dir not writable) it degrades to per-process memory, and says so once."""

    def __init__(self, path: Optional[str] = None):
        self._path = path
        # Bumped by every write to the file: a worker re-reads the blocked list only
        # when it moved (a memory read per request, not a query or a stat).
        self._writes = SharedCounter(path + ".writes") if path else None
        self._seen: Optional[int] = None
        self._mem_fails: Dict[str, Deque[float]] = {}
        self._mem_blocked: Dict[str, float] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._shared = path is not None

    def _db(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            import sqlite3

            conn = sqlite3.connect(self._path, timeout=2.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("CREATE TABLE IF NOT EXISTS failure (addr TEXT NOT NULL, at REAL NOT NULL)")
            conn.execute("CREATE INDEX IF NOT EXISTS failure_addr ON failure (addr, at)")
            conn.execute("CREATE TABLE IF NOT EXISTS blocked (addr TEXT PRIMARY KEY, until REAL NOT NULL)")
            self._local.conn = conn
        return conn

    def _fallback(self, exc: Exception) -> None:
        if self._shared:
            log.warning("failed-login tracking falls back to per-process memory: %s", exc)
        self._shared = False

    def _changed(self) -> bool:
        """Has any worker written the shared file since we last read it?"""
        mark = self._writes.value if self._writes is not None else None
        if mark is not None and mark == self._seen:
            return False
        self._seen = mark
        return True

    def _wrote(self) -> None:
        if self._writes is not None:
            try:
                self._writes.bump()
            except OSError as exc:  # the others then miss it until their view is re-read
                log.warning("cannot signal a failed-login change to other workers: %s", exc)

    def blocked(self, addr: str) -> bool:
        now = time.time()
        if self._shared:
            try:
                if self._changed() or not hasattr(self, "_blocked_view"):
                    rows = self._db().execute("SELECT addr, until FROM blocked WHERE until > ?", (now,)).fetchall()
                    self._blocked_view = dict(rows)
                until = self._blocked_view.get(addr)
                return until is not None and until > now
            except Exception as exc:  # sqlite3.Error, OSError
                self._fallback(exc)
        with self._lock:
            until = self._mem_blocked.get(addr)
            if until is None or until <= now:
                self._mem_blocked.pop(addr, None)
                return False
            return True

    def fail(self, addr: str, limit: int, window: float, cooldown: float) -> None:
        now = time.time()
        if self._shared:
            try:
                db = self._db()
                db.execute("BEGIN IMMEDIATE")
                try:
                    db.execute("DELETE FROM failure WHERE at < ?", (now - window,))
                    db.execute("DELETE FROM blocked WHERE until < ?", (now,))
                    db.execute("INSERT INTO failure (addr, at) VALUES (?, ?)", (addr, now))
                    n = db.execute("SELECT COUNT(*) FROM failure WHERE addr = ?", (addr,)).fetchone()[0]
                    if n >= limit:
                        db.execute("INSERT OR REPLACE INTO blocked (addr, until) VALUES (?, ?)",
                                   (addr, now + cooldown))
                        db.execute("DELETE FROM failure WHERE addr = ?", (addr,))
                    db.execute("COMMIT")
                except BaseException:
                    db.execute("ROLLBACK")
                    raise
                self._wrote()  # after COMMIT: whoever sees the new count reads the new rows
                return
            except Exception as exc:
                self._fallback(exc)
        with self._lock:
            q = self._mem_fails.setdefault(addr, deque())
            q.append(now)
            while q and q[0] < now - window:
                q.popleft()
            if len(q) >= limit:
                self._mem_blocked[addr] = now + cooldown
                q.clear()
            if len(self._mem_fails) > 10000:  # bound memory under a spray of addresses
                self._mem_fails = {a: d for a, d in self._mem_fails.items() if d and d[-1] > now - window}

    def clear(self) -> None:
        with self._lock:
            self._mem_fails.clear()
            self._mem_blocked.clear()
        if self._shared:
            try:
                db = self._db()
                db.execute("DELETE FROM failure")
                db.execute("DELETE FROM blocked")
                self._wrote()
            except Exception as exc:
                self._fallback(exc)


def make_auth() -> HTTPBasicAuth:
    auth = HTTPBasicAuth(realm=REALM)

    @auth.verify_password
    def verify(username: str, password: str) -> Optional[User]:
        if not username and not password:
            return None
        rt = runtime()
        cfg = rt.config
        # Constant-time on both fields; the API user never touches the database.
        user_ok = hmac.compare_digest(username.encode("utf-8"), cfg.api_user.encode("utf-8"))
        pass_ok = hmac.compare_digest(password.encode("utf-8"), cfg.api_password.encode("utf-8"))
        if user_ok and pass_ok:
            return User(username, "api", True)
        return check_ampuser(username, password)

    @auth.error_handler
    def unauthorized(status):
        if status == 401:
            return reply(None, 401, "Unauthorized")
        return reply(None, status)

    return auth


def check_ampuser(username: str, password: str) -> Optional[User]:
    ext = current_app.extensions
    cache: AdminCache = ext["rfapi.admin_cache"]
    key = (username, hashlib.sha256(password.encode("utf-8")).hexdigest())
    hit = cache.get(key)
    if hit is not None:
        return hit
    # Exact but for case (see dao.exact): "admin " or "admin<U+200B>" is not admin.
    row = first(exact(runtime().db.query(
        "SELECT username, password_sha1, sections FROM ampusers WHERE username = %s", (username,)),
        "username", username, fold_case=True))
    if row is None or not row["password_sha1"]:
        return None
    stored = (row["password_sha1"] or "").strip().lower()
    if not hmac.compare_digest(sha1_hex(password).encode(), stored.encode()):
        return None
    user = User(username, "ampuser", "*" in sections_of(row["sections"]))
    cache.put(key, user, runtime().config.auth_cache_seconds)
    return user


def client_address() -> str:
    return request.remote_addr or "unix"


def record_failure(username: str, why: str = "bad credentials") -> None:
    """Count an authentication failure for the client address and log it."""
    cfg = runtime().config
    addr = client_address()
    # One line per failure; deploy/fail2ban/filter.d/rfapi.conf matches it.
    log.warning("rfapi auth failure from %s user=%s reason=%s", addr, _printable(username), why)
    current_app.extensions["rfapi.failures"].fail(addr, cfg.auth_fail_limit, cfg.auth_fail_window,
                                                  cfg.auth_fail_cooldown)


def _printable(text: str) -> str:
    text = "".join(c if c.isprintable() and c not in " \"'" else "?" for c in (text or ""))
    return (text[:64] or "-")


# -- Bearer: Authorization: Bearer rfapi_<id>_<secret> (rfapi/services/tokens.py); the route
# table decides what a token may then do (each route's scope, rfapi/routing.py).
QUERY_PARAM = "access_token"


def bearer_presented(header: Optional[str], query_token: bool) -> bool:
    """Does this request offer a token (rather than Basic credentials or nothing)?"""
    if header is not None:
        return header.split(" ", 1)[0].strip().lower() == "bearer"
    return query_token and QUERY_PARAM in request.args


def _presented_token(header: Optional[str]) -> str:
    if header is not None:
        parts = header.split(" ", 1)
        return parts[1].strip(" ") if len(parts) == 2 else ""
    values = request.args.getlist(QUERY_PARAM)
    return values[0] if len(values) == 1 else ""


def bearer_authenticate(header: Optional[str]) -> User:
    """The token's user; a refused token counts toward the lock-out like a wrong Basic
    password and is logged with its id at most, never the secret."""
    tokens: Tokens = current_app.extensions["rfapi.tokens"]
    try:
        token = tokens.verify(_presented_token(header))
    except BadToken as exc:
        record_failure("token:%s" % exc.token_id if exc.token_id else "token", exc.reason)
        raise ApiError("Unauthorized", status=401, headers={
            "WWW-Authenticate": 'Bearer realm="%s", error="invalid_token"' % REALM}) from None
    return User("token:%s" % token.id, "token", True, frozenset(token.scopes), token.name)


def authenticate(query_token: bool = False) -> User:
    """Run Basic or Bearer auth for the current request; raise/return the error answers.

    ``query_token``: the route also takes a token as ``?access_token=`` (only
    GET /events, for browsers' EventSource, which cannot send headers)."""
    ext = current_app.extensions
    addr = client_address()
    if ext["rfapi.failures"].blocked(addr):
        raise TooManyRequests("Too many failed logins from this address; try again later",
                              headers={"Retry-After": str(int(runtime().config.auth_fail_cooldown))})
    header = request.headers.get("Authorization")
    if bearer_presented(header, query_token):
        user = bearer_authenticate(header)
        g.rfapi_user = user
        return user
    auth: HTTPBasicAuth = ext["rfapi.auth"]
    credentials = auth.get_auth()
    user = None
    scheme = getattr(credentials, "type", b"") or b""
    if isinstance(scheme, bytes):
        scheme = scheme.decode("latin-1")
    if credentials is not None and scheme.lower() == "basic":
        user = auth.authenticate(credentials, None)
    if not user:
        if credentials is not None:
            record_failure(getattr(credentials, "username", "") or "")
        raise ApiError("Unauthorized", status=401,
                       headers={"WWW-Authenticate": 'Basic realm="%s"' % REALM})
    g.rfapi_user = user
    g.flask_httpauth_user = user
    if not user.full_access:
        raise Forbidden("Forbidden: this admin does not have ALL SECTIONS")
    return user

