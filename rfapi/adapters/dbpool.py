"""A small, bounded pool of MariaDB connections for one process.

Why not one connection per thread: gunicorn's gthread pool has a thread per
request *and* per ``/events`` stream (4 + 128 per worker by default), and a
thread-local connection lives as long as the thread. MariaDB on a PBX also
serves Asterisk's CDRs, the FreePBX GUI and fwconsole; rfapi must never be the
reason it answers "Too many connections".

Why not DBUtils' PooledDB: its ``blocking=True`` waits without limit (an
unbounded queue of request threads) and ``blocking=False`` refuses at once;
and its SteadyDB layer re-runs a failed statement on a new connection by
itself, which for a write lost mid-query could run it twice. The adapter
already decides when a retry is safe; what it needs from a pool is only this.

The model: ``size`` *slots* per process. A thread takes a slot for one
statement, one transaction, or a *pinned* section (``enter()`` .. ``leave()``,
nested: a MariaDB named lock lives in its connection, so the code between
GET_LOCK and RELEASE_LOCK keeps one), with at most one connection per logical
database, and gives it back at the end. A thread that waits for anything else
(an application lock, AMI, fwconsole, an ``/events`` client) holds no
connection, so the pool cannot deadlock with the application's own locks.
Each database has at most ``size`` connections open (busy + idle): a slot
holder never waits for a connection, only for a slot, so two databases cannot
deadlock each other. Waiting for a slot lasts at most ``wait`` seconds, then
``PoolExhausted`` (the HTTP layer answers 503 with Retry-After).

``release()`` ends whatever a thread still holds (the app calls it at the end
of every request): a connection left pinned is closed, not pooled, since it may
still carry session state (a named lock).
"""
from __future__ import annotations

import contextlib
import threading
import time
from typing import Any, Callable, Dict, List, Tuple


class PoolExhausted(Exception):
    """Every connection slot of this process stayed busy for the whole wait."""


class Pool:
    def __init__(self, size: int, wait: float, connect: Callable[[str], Any], idle_seconds: float = 60.0):
        self.size = max(1, int(size))
        self.wait = max(0.0, float(wait))
        self.idle_seconds = idle_seconds
        self._connect = connect
        self._slots = threading.BoundedSemaphore(self.size)
        self._lock = threading.Lock()
        self._idle: Dict[str, List[Tuple[Any, float]]] = {}
        self._open: Dict[str, int] = {}
        self._local = threading.local()
        self.waits = 0        # slot requests that had to wait (benchmarks)
        self.exhausted = 0    # slot requests that gave up (benchmarks)

    # -- per-thread state -------------------------------------------------------------
    def _state(self):
        loc = self._local
        if not hasattr(loc, "conns"):
            loc.conns = {}
            loc.slot = False
            loc.depth = 0
        return loc

    def enter(self) -> None:
        """Start of a statement, transaction or pinned section (nested)."""
        self._state().depth += 1

    def leave(self) -> None:
        """End of one: at the outermost, the connections go back and the slot is freed."""
        loc = self._state()
        loc.depth -= 1
        if loc.depth <= 0:
            loc.depth = 0
            self._give_back(loc)

    def release(self) -> None:
        """End of a request: nothing stays with the thread."""
        loc = self._state()
        if loc.depth > 0:
            loc.depth = 0
            for which in list(loc.conns):
                self.drop(which)
        self._give_back(loc)

    # -- connections ---------------------------------------------------------------------
    def get(self, which: str) -> Tuple[Any, bool]:
        """(connection, fresh) for this thread; fresh = opened just now."""
        loc = self._state()
        conn = loc.conns.get(which)
        if conn is not None:
            return conn, False
        if not loc.slot:
            if not self._slots.acquire(blocking=False):
                self.waits += 1
                if not self._slots.acquire(timeout=self.wait):
                    self.exhausted += 1
                    raise PoolExhausted("every one of the %d database connection slots stayed busy for %.1f s"
                                        % (self.size, self.wait))
            loc.slot = True
        stale = []
        with self._lock:
            idle = self._idle.setdefault(which, [])
            limit = time.monotonic() - self.idle_seconds
            while idle and idle[-1][1] < limit:  # oldest first in line to be closed
                stale.append(idle.pop()[0])
            # idle is a stack: the most recently used connection (warm, least likely timed out) first
            found = idle.pop(0)[0] if idle else None
            self._open[which] = self._open.get(which, 0) - len(stale)
            if found is None:
                self._open[which] += 1  # reserved before connecting; undone if that fails
        for c in stale:
            _close(c)
        if found is not None:
            loc.conns[which] = found
            return found, False
        try:
            conn = self._connect(which)
        except BaseException:
            with self._lock:
                self._open[which] -= 1
            raise
        loc.conns[which] = conn
        return conn, True

    def drop(self, which: str) -> None:
        """Close this thread's connection to ``which`` (it failed); the slot stays."""
        conn = self._state().conns.pop(which, None)
        if conn is not None:
            with self._lock:
                self._open[which] -= 1
            _close(conn)

    def _give_back(self, loc) -> None:
        if loc.conns:
            now = time.monotonic()
            with self._lock:
                for which, conn in loc.conns.items():
                    self._idle.setdefault(which, []).insert(0, (conn, now))
            loc.conns = {}
        if loc.slot:
            loc.slot = False
            self._slots.release()

    def close(self) -> None:
        """Close the idle connections and this thread's own (others close as they come back)."""
        loc = self._state()
        for which in list(loc.conns):
            self.drop(which)
        if loc.slot:
            loc.slot = False
            self._slots.release()
        loc.depth = 0
        with self._lock:
            idle, self._idle = self._idle, {}
            for which, items in idle.items():
                self._open[which] -= len(items)
        for items in idle.values():
            for c, _ in items:
                _close(c)

    def stats(self) -> Dict[str, Any]:
        """Open connections per database and the limits (``rfapi check``, benchmarks)."""
        with self._lock:
            return {"size": self.size, "wait": self.wait, "open": dict(self._open),
                    "idle": {k: len(v) for k, v in self._idle.items()}, "waits": self.waits,
                    "exhausted": self.exhausted}


def _close(conn) -> None:
    with contextlib.suppress(Exception):
        conn.close()
