"""Scoped API tokens: create, list, revoke, and check a presented token.

A token reads ``rfapi_<id>_<secret>``: the id (16 hex digits) finds the row
without a scan, and the secret (32 random bytes, base64url) is compared as a
SHA-256 digest in constant time. The secret is shown once, at creation, and
never stored, listed or logged."""
from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

from ..adapters.tokenstore import StoreUnavailable, TokenRow, TokenStore
from ..errors import NotFound, ServiceUnavailable

# Scope -> what it allows (the route table names one per route: rfapi/routing.py).
SCOPES: Dict[str, str] = {
    "read": "every GET, without secrets",
    "write": "POST, PUT and DELETE (but POST /call), and the GETs that reload the PBX",
    "calls": "POST /call (click-to-call)",
    "events": "GET /events (Server-Sent Events; also with ?access_token=)",
    "secrets": "GET with secrets=yes (SIP secrets, voicemail PINs)",
}
NAME_MAX = 64
PREFIX = "rfapi_"
_TOKEN = re.compile(r"rfapi_([0-9a-f]{16})_([A-Za-z0-9_-]{43})")
# How often (per worker, per token) a use is written back as last_used: a write
# per request would serialise the workers on the SQLite file.
TOUCH_EVERY = 60.0
log = logging.getLogger("rfapi.tokens")
_DUMMY = hashlib.sha256(b"no such token").hexdigest()


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scopes: Tuple[str, ...]


class BadToken(Exception):
    """A presented token was refused; ``reason`` is safe to log (never the secret)."""

    def __init__(self, reason: str, token_id: str = ""):
        super().__init__(reason)
        self.reason = reason
        self.token_id = token_id


def check_name(value: str) -> str:
    if not value.isprintable() or value != value.strip():
        raise ValueError("must be printable characters without leading or trailing spaces")
    return value


def check_scopes(values: Sequence[str]) -> List[str]:
    unknown = [v for v in values if v not in SCOPES]
    if unknown:
        raise ValueError("unknown scope %r (known: %s)" % (unknown[0][:40], ", ".join(SCOPES)))
    return [s for s in SCOPES if s in values]  # the set, in the documented order


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _public(row: TokenRow) -> dict:
    return {"id": row.id, "name": row.name, "scopes": list(row.scopes), "created": _iso(row.created),
            "last_used": _iso(row.last_used) if row.last_used else None}


def _iso(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Tokens:
    """The token service of one app (one store, one per-worker last-used throttle)."""

    def __init__(self, store: TokenStore):
        self.store = store
        self._touched: Dict[str, float] = {}
        self._lock = threading.Lock()

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except StoreUnavailable as exc:
            # The path and the cause go to the log; a client (perhaps not yet authenticated) learns neither.
            log.error("%s", exc)
            raise ServiceUnavailable("Service Unavailable: the token store cannot be used") from None

    def create(self, name: str, scopes: Sequence[str]) -> dict:
        token_id = secrets.token_hex(8)
        secret = secrets.token_urlsafe(32)
        row = TokenRow(token_id, name, tuple(scopes), _digest(secret), time.time(), None)
        self._call(self.store.add, row)
        out = _public(row)
        out["token"] = "%s%s_%s" % (PREFIX, token_id, secret)
        return out

    def list(self) -> List[dict]:
        return [_public(r) for r in self._call(self.store.rows)]

    def revoke(self, token_id: str) -> dict:
        row = self._call(self.store.lookup, token_id)
        if row is None or not self._call(self.store.remove, token_id):
            raise NotFound("Not Found: no token %s" % token_id[:40])
        return _public(row)

    def verify(self, presented: str) -> Token:
        """The token this string proves, else BadToken (the caller counts the failure)."""
        m = _TOKEN.fullmatch(presented)
        if m is None:
            raise BadToken("malformed token")
        token_id, secret = m.group(1), m.group(2)
        row = self._call(self.store.lookup, token_id)
        # Compare even for an unknown id: the answer takes the same time either way.
        ok = hmac.compare_digest(_digest(secret), row.digest if row else _DUMMY)
        if row is None:
            raise BadToken("unknown token", token_id)
        if not ok:
            raise BadToken("wrong token secret", token_id)
        self._touch(token_id)
        return Token(row.id, row.name, row.scopes)

    def _touch(self, token_id: str) -> None:
        now = time.time()
        with self._lock:
            if now - self._touched.get(token_id, 0.0) < TOUCH_EVERY:
                return
            self._touched[token_id] = now
        try:
            self.store.touch(token_id, now)
        except StoreUnavailable:
            pass  # a missed last-used time must not refuse a valid token
