"""The live-state event feed: one long-lived events-on AMI connection per process,
kept up by a background thread (see ``EventFeed``)."""
from __future__ import annotations

import itertools
import logging
import os
import socket
import threading
import time
from typing import Callable, Iterable, List, Optional, Tuple

from .errors import AmiError, AmiTimeout, AmiUnavailable
from .pyst2patch import FeedManager, join_manager, login
from .wire import Headers, Message, check_field, header_pairs, list_complete, shutting_down

log = logging.getLogger("rfapi.ami")


class EventFeed:
    """A dedicated AMI connection logged in with ``Events: <mask>`` whose events feed
    an in-memory table (live state), kept up by one background thread.

    * Started lazily (``poke()``/``start()``) in the process that uses it, never at
      import or app creation: a gunicorn worker forked from a master that had one
      starts its own (the inherited socket is dropped without touching it).
    * After every (re)login ``on_connect(feed)`` runs on the feed thread; it seeds the
      table with list actions sent *on this connection* (``feed.list_action``), so an
      event and a list share one ordered stream: every event carries a sequence
      number (``on_event(msg, seq)``; ``list_action`` returns the number of its
      Complete event) and the table keeps, per key, whichever is newer.
    * ``on_event`` runs on the connection's reader thread: it must be quick and must
      not send actions. An exception in it is logged and makes the feed re-seed.
    * A lost connection is replaced at once, then with backoff; pyst2 cannot
      reconnect, so each attempt is a brand-new ``FeedManager``. A silent
      connection is pinged; unused for ``IDLE_AFTER`` s the feed disconnects (and a
      later ``poke()`` starts it again).
    * ``close()`` stops it and joins its threads (``AMI.close()`` calls it).
    * More consumers share the one connection (``add_listener``): each gets the
      events it names; a wider mask is asked for with the ``Events`` action on the
      feed thread (no reconnect); every ``on_connect`` runs after each login.
    The shared request connection (``Events: off``) is never involved."""

    BACKOFF = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0)  # seconds before attempt n after n failures
    MIN_RETRY = 1.0      # a poke never causes more than one attempt per second
    PING_AFTER = 30.0    # ping after this long without any message (a hung Asterisk)
    IDLE_AFTER: Optional[float] = 600.0  # disconnect when nobody used the feed for this long

    def __init__(self, params: Callable[[], Tuple[str, int, str, str]], timeout: float, events: Iterable[str],
                 on_event: Callable[[Message, int], None], on_connect: Callable[["EventFeed"], None],
                 mask: str = "call", name: str = "feed"):
        self._params = params
        self.timeout = float(timeout)
        self.events = frozenset(check_field("event name", e) for e in events)
        self.mask = check_field("Events", mask)
        self.name = name
        self._listeners: List[Tuple[frozenset, Callable[[Message, int], None]]] = [(self.events, on_event)]
        self._on_connects: List[Callable[["EventFeed"], None]] = [on_connect]
        self._remask = False
        self.applied_mask = ""          # the mask Asterisk confirmed on the current connection
        self._seq = itertools.count(1)  # one numbering for every connection of this feed
        self.generation = 0             # successful logins so far; a table seeded for another one is stale
        self.connects = 0
        self.attempts = 0               # finished attempts (ready or failed)
        self.last_error = ""
        self._reset()

    def _reset(self) -> None:
        """Fresh threading state (at creation and in a forked child)."""
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._mgr: Optional[FeedManager] = None
        self._connecting: Optional[FeedManager] = None
        self._ready_gen = -1
        self._busy = False       # an attempt (connect + on_connect) is under way or requested
        self.failing = False     # the last connection was lost or the last attempt failed
        self._reseed = False
        self._last_attempt = float("-inf")
        self._last_used = time.monotonic()

    def _forked(self) -> bool:
        if self._pid != os.getpid():
            self._reset()        # the parent's threads do not exist here; its socket is not ours
            return True
        return False

    # -- state -----------------------------------------------------------------------
    def ready(self) -> bool:
        """Connected, and ``on_connect`` succeeded on this connection."""
        if self._pid != os.getpid():
            return False
        mgr = self._mgr
        return mgr is not None and mgr.connected() and self._ready_gen == self.generation

    def running(self) -> bool:
        t = self._thread
        return self._pid == os.getpid() and t is not None and t.is_alive()

    def touch(self) -> None:
        self._last_used = time.monotonic()

    # -- control -----------------------------------------------------------------------
    def start(self) -> None:
        self.poke()

    def poke(self) -> bool:
        """Make sure the feed runs and, if it is waiting to retry, retry now (at most
        once per ``MIN_RETRY``). True if it is ready or an attempt is under way,
        i.e. if ``wait_ready`` is worth calling."""
        self._forked()
        self.touch()
        with self._cond:
            if self.ready():
                return True
            if self._thread is None or not self._thread.is_alive():
                self._stopping.clear()
                self._busy = True
                self._thread = threading.Thread(target=self._run, name="rfapi-ami-%s" % self.name, daemon=True)
                self._thread.start()
                return True
            if self._busy:
                return True
            if self._stopping.is_set() or time.monotonic() - self._last_attempt < self.MIN_RETRY:
                return False
            self._busy = True
        self._wake.set()
        return True

    def wait_ready(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until ready or until the attempt under way failed."""
        with self._cond:
            self._cond.wait_for(lambda: self.ready() or not self._busy, timeout)
        return self.ready()

    def add_listener(self, events: Iterable[str], on_event: Callable[[Message, int], None],
                     on_connect: Optional[Callable[["EventFeed"], None]] = None, mask: str = "call") -> None:
        """Another consumer of this connection: ``on_event`` gets the events named in
        ``events`` (on the reader thread, like the first one); the mask becomes the
        union of both (sent with the Events action if already connected)."""
        wanted = frozenset(check_field("event name", e) for e in events)
        classes = [c for c in self.mask.split(",") if c]
        classes += [c for c in check_field("Events", mask).split(",") if c and c not in classes]
        with self._cond:
            self._listeners = self._listeners + [(wanted, on_event)]
            if on_connect is not None:
                self._on_connects = self._on_connects + [on_connect]
            self.events = self.events | wanted
            widened = ",".join(classes) != self.mask
            self.mask = ",".join(classes)
            mgr = self._mgr
            if mgr is not None:
                mgr._wanted = self.events
            if widened:
                self._remask = True
        if widened:
            self._wake.set()

    def _on_connect(self, feed: "EventFeed") -> None:
        for fn in self._on_connects:
            fn(feed)

    def reseed(self) -> None:
        """Run ``on_connect`` again on the current connection (from any thread)."""
        self._reseed = True
        self._wake.set()

    def close(self) -> None:
        if self._forked():
            return
        with self._cond:
            self._stopping.set()
            thread, mgr, connecting = self._thread, self._mgr, self._connecting
        self._wake.set()
        if connecting is not None:  # a login under way: cut it short (its banner wait too)
            connecting.shutdown()
            connecting._response_queue.put(None)
        if mgr is not None:
            mgr.shutdown()
        if thread is not None and thread is not threading.current_thread():
            thread.join(min(self.timeout, 5.0) + 2.0)
        if mgr is not None:
            join_manager(mgr)

    # -- actions on the feed connection (from on_connect) --------------------------------
    def list_action(self, name: str, headers: Headers = (), timeout: Optional[float] = None
                    ) -> Tuple[Message, List[Message], int]:
        """Send an event-list action on the feed connection: (response, events before the
        Complete event, sequence number of the Complete event; 0 if no list came)."""
        mgr = self._mgr
        if mgr is None or not mgr.connected():
            raise AmiUnavailable("AMI event feed not connected")
        timeout = self.timeout if timeout is None else timeout
        pairs = [("Action", check_field("Action", name))] + header_pairs(headers, {})
        aid = mgr.new_action_id()
        pairs.append(("ActionID", aid))
        col = mgr.collect(aid, list_complete)
        col.seq = 0
        deadline = time.monotonic() + timeout
        try:
            resp = mgr.send_action(pairs, timeout=timeout)
            if shutting_down(resp):
                raise AmiUnavailable("Asterisk is shutting down")
            if resp.get("EventList") != "start":
                return resp, [], 0
            if not col.done.wait(max(0.0, deadline - time.monotonic())):
                raise AmiTimeout("Asterisk did not complete the %s list in %.1f s" % (name, timeout))
            if col.lost:
                raise AmiUnavailable("AMI connection lost during %s" % name)
            return resp, [m for m in col.items if not list_complete(m)], col.seq
        finally:
            mgr.uncollect(aid)

    # -- the feed thread -----------------------------------------------------------------
    def _login(self) -> FeedManager:
        host, port, user, secret = self._params()
        mgr = FeedManager(self.events, self._deliver, self._seq, self._lost)
        with self._cond:
            if self._stopping.is_set():
                raise AmiUnavailable("AMI event feed closed")
            self._connecting = mgr
        try:
            return self._login_on(mgr, user, secret, host, port)
        except BaseException:
            mgr.shutdown()  # whatever failed, no socket or reader thread stays behind
            join_manager(mgr)
            raise
        finally:
            with self._cond:
                self._connecting = None

    def _login_on(self, mgr: FeedManager, user: str, secret: str, host: str, port: int) -> FeedManager:
        mgr.connect(host, port, timeout=min(self.timeout, 5.0))
        raw = mgr._raw
        try:  # a peer that vanished without a FIN is noticed by TCP too, not only by the ping
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            for opt, val in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3)):
                if hasattr(socket, opt):
                    raw.setsockopt(socket.IPPROTO_TCP, getattr(socket, opt), val)
        except (OSError, AttributeError):
            pass
        mgr.login_mask = self.mask
        login(mgr, user, secret, mgr.login_mask, self.timeout)
        return mgr

    def _deliver(self, msg: Message, seq: int) -> None:
        name = msg.get("Event")
        for wanted, on_event in self._listeners:
            if name in wanted:
                try:
                    on_event(msg, seq)
                except Exception:
                    log.exception("AMI event feed %s: handling %r failed; re-seeding", self.name, msg)
                    self.reseed()

    def _lost(self, mgr: FeedManager) -> None:
        with self._cond:
            self._cond.notify_all()
        self._wake.set()

    def _run(self) -> None:
        failures = 0
        try:
            while not self._stopping.is_set():
                with self._cond:
                    self._busy = True
                    self._last_attempt = time.monotonic()
                mgr: Optional[FeedManager] = None
                was_ready = False
                try:
                    mgr = self._login()
                    with self._cond:
                        if self._stopping.is_set():
                            break
                        self._mgr = mgr
                        self.generation += 1
                        self.connects += 1
                        self._reseed = False
                        self._remask = self.mask != mgr.login_mask  # widened while logging in?
                        self.applied_mask = mgr.login_mask
                    self._on_connect(self)
                    with self._cond:
                        self._ready_gen = self.generation
                        self._busy = False
                        self.failing = False
                        self.attempts += 1
                        self.last_error = ""
                        self._cond.notify_all()
                    if failures:
                        log.info("AMI event feed %s: connected again", self.name)
                    failures, was_ready = 0, True
                    if self._watch(mgr) == "lost":
                        self.failing = True
                except Exception as exc:  # AmiError, or a bug in on_connect: never kill the thread
                    if not isinstance(exc, AmiError):
                        log.exception("AMI event feed %s: on_connect failed", self.name)
                    failures += 1
                    if failures == 1:
                        log.warning("AMI event feed %s: %s", self.name, exc)
                    with self._cond:
                        self.last_error = str(exc)
                        self.failing = True
                        if self._busy:
                            self.attempts += 1
                finally:
                    if mgr is not None:
                        mgr.shutdown()
                        join_manager(mgr)
                    self._wake.clear()  # the lost connection's wake-up is spent; a poke from now on counts
                    with self._cond:
                        if self._mgr is mgr:
                            self._mgr = None
                        self._busy = False
                        self._cond.notify_all()
                if self._stopping.is_set() or self._idle():
                    break
                delay = 0.0 if was_ready else self.BACKOFF[min(failures, len(self.BACKOFF)) - 1]
                if delay and self._wake.wait(delay):
                    self._wake.clear()  # poked (or closed): go now
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()

    def _idle(self) -> bool:
        return self.IDLE_AFTER is not None and time.monotonic() - self._last_used > self.IDLE_AFTER

    def _watch(self, mgr: FeedManager) -> str:
        """Until the connection is lost ("lost"), the feed is closed ("stopped") or idle
        ("idle"): re-seed on request, ping a silent connection."""
        while not self._stopping.is_set() and mgr.connected():
            if self._idle():
                log.info("AMI event feed %s: unused for %.0f s, disconnecting", self.name, self.IDLE_AFTER)
                return "idle"
            if self._remask:  # a consumer that needs more classes joined: widen this connection's mask
                self._remask = False
                mask = self.mask
                resp = mgr.send_action([("Action", "Events"), ("EventMask", mask)], timeout=self.timeout)
                if not resp.ok:
                    raise AmiError("Asterisk refused EventMask %s" % mask)
                self.applied_mask = mask
                continue
            if self._reseed:
                self._reseed = False
                self._on_connect(self)
                continue
            silent = time.monotonic() - mgr.last_rx
            if silent >= self.PING_AFTER:
                mgr.send_action([("Action", "Ping")], timeout=self.timeout)  # AmiError: reconnect
                continue
            wait = self.PING_AFTER - silent
            if self.IDLE_AFTER is not None:
                wait = min(wait, self.IDLE_AFTER - (time.monotonic() - self._last_used) + 0.01)
            self._wake.wait(max(0.01, wait))
            self._wake.clear()
        return "stopped" if self._stopping.is_set() else "lost"
