"""The hub of one process: a bounded, numbered buffer of finished SSE frames that every
subscriber reads with its own cursor, fed by the AMI event feed and the journal."""
from __future__ import annotations

import collections
import json
import logging
import os
import random
import threading
import time
import weakref
from typing import Any, Deque, Dict, Iterable, List, Optional, Tuple

from ...adapters import files
from ...adapters.ami import EventFeed, Message
from ...errors import ServiceUnavailable
from ...runtime import runtime
from .. import livestate
from . import slots as eventslots

from .calls import CallTracker
from .journal import Journal, JournalReader
from .model import AMI_EVENTS, AMI_MASK, Event, max_streams, utc
from .translate import dedupe_key, translate
log = logging.getLogger("rfapi.events")

# -- the hub -------------------------------------------------------------------------
class Hub:
    BUFFER = 10000          # events kept for Last-Event-ID
    MAX_AGE = 600.0         # seconds an event stays replayable
    MAX_BEHIND = 5000       # a subscriber further behind is dropped (a burst of changes fits)
    MAX_LAST = 100000       # remembered last values for "one event per change" (then forgotten)
    JOURNAL_POLL = 0.05     # seconds between looks at the journal counter (a memory read)
    JOURNAL_LINGER = 60.0   # the journal thread stops this long after the last stream ended

    def __init__(self, ami, cache_dir: str, table: Optional["livestate.LiveState"] = None):
        self.origin = "%08x" % random.SystemRandom().getrandbits(32)
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._buf: Deque[Event] = collections.deque()
        self._seq = 0
        self._subscribers = 0
        self._closed = False
        self._table = table
        self.calls = CallTracker(self._is_extension)
        # Last published value per key: Asterisk re-announces every hint and mailbox on a
        # reload (reload-action.txt) and repeats unchanged states; only changes are events.
        self._last: Dict[Tuple[str, str], Any] = {}
        self._feed_gen = 0
        self.journal = Journal(cache_dir)
        self.slots = eventslots.BoxSlots(cache_dir, self.origin)
        # Bumped by any worker that finds the box full: every stream then writes a probe.
        self.probe_counter = files.SharedCounter(os.path.join(cache_dir, eventslots.PROBE_COUNTER))
        self.probes = 0
        self._journal_thread: Optional[threading.Thread] = None
        self.feed: EventFeed = ami.subscribe(livestate.FEED, AMI_EVENTS, self._on_ami, self._on_connect,
                                             mask=AMI_MASK)
        self._feed_gen = self.feed.generation  # the feed may be connected already (/state came first)
        _HUBS.add(self)

    # -- publishing (AMI reader thread, journal thread) ---------------------------------
    def publish(self, type_: str, data: Dict[str, Any], exts: Iterable[str] = ()) -> int:
        now = time.time()
        with self._cond:
            self._seq += 1
            seq = self._seq
            body = dict(type=type_, time=utc(now))
            body.update(data)
            text = ("id: %s-%d\nevent: %s\ndata: %s\n\n"
                    % (self.origin, seq, type_, json.dumps(body, separators=(",", ":"), default=str))).encode()
            buf = self._buf
            buf.append(Event(seq, time.monotonic(), type_, frozenset(exts), text))
            if len(buf) > self.BUFFER:
                buf.popleft()
            limit = time.monotonic() - self.MAX_AGE
            while buf and buf[0].at < limit:
                buf.popleft()
            self._cond.notify_all()
        return seq

    def _is_extension(self, number: str) -> bool:
        t = self._table
        return t is not None and t.has_hint(number)

    def _on_ami(self, msg: Message, seq: int) -> None:
        name = msg.get("Event")
        if name in ("Newchannel", "DialBegin", "DialEnd", "BridgeEnter", "Hangup"):
            for data, exts in self.calls.feed(msg):
                self.publish("calls", data, exts)
            return
        ev = translate(msg)
        if ev is None:
            return
        type_, data, exts = ev
        key = dedupe_key(type_, data)
        if key is not None:
            value = tuple(sorted((k, v) for k, v in data.items()))
            if self._last.get(key) == value:
                return
            if len(self._last) >= self.MAX_LAST:
                self._last.clear()
            self._last[key] = value
        self.publish(type_, data, exts)

    def _on_connect(self, feed: EventFeed) -> None:
        if feed.generation == self._feed_gen:
            return  # a re-seed on the same connection: nothing was missed
        self.calls.clear()   # a new connection: calls and values of the gap are unknown
        self._last.clear()
        if self._feed_gen:
            self.publish("resync", {"reason": "the AMI connection was re-established; events of the gap are "
                                              "lost: re-read /state and /registrations"})
        self._feed_gen = feed.generation

    def _journal_loop(self) -> None:
        reader = JournalReader(self.journal)
        last = self.journal.counter.value
        last_probe = self.probe_counter.value
        idle_since = None
        try:
            while not self._closed:
                time.sleep(self.JOURNAL_POLL)
                if self._subscribers:
                    idle_since = None
                elif idle_since is None:
                    idle_since = time.monotonic()
                elif time.monotonic() - idle_since > self.JOURNAL_LINGER:
                    with self._cond:
                        if not self._subscribers:
                            self._journal_thread = None
                            return
                probe = self.probe_counter.value
                if probe != last_probe:
                    last_probe = probe
                    with self._cond:
                        self.probes += 1
                        self._cond.notify_all()
                cur = self.journal.counter.value
                if cur is not None and cur == last:
                    continue
                last = cur
                for rec in reader.read():
                    exts = [rec["extension"]] if isinstance(rec.get("extension"), str) else []
                    if isinstance(rec.get("extensions"), list):  # an import names every extension
                        exts += [e for e in rec["extensions"] if isinstance(e, str)]
                    self.publish("config", rec, exts)
        except Exception:
            log.exception("events journal reader stopped")
        finally:
            reader.close()

    # -- subscribing (request threads) --------------------------------------------------
    def open(self, wait: float = 0.0) -> None:
        """Take a slot of the box, or 503. When the box is full, every stream of every worker
        is asked to probe its client (``wait`` s at most): behind Apache a client that left is
        noticed only when Apache next writes to it, and then rfapi's socket closes at once."""
        limit = max_streams()
        if not self.slots.claim(limit):
            ok = False
            if wait > 0:
                try:
                    self.probe_counter.bump()
                except OSError:
                    pass
                deadline = time.monotonic() + wait
                while not ok and time.monotonic() < deadline:
                    time.sleep(eventslots.CLAIM_RETRY)
                    ok = self.slots.claim(limit)
            if not ok:
                raise ServiceUnavailable("Too many event streams on this PBX (%d); try again later" % limit,
                                         headers={"Retry-After": "2"})
        with self._cond:
            self._subscribers += 1
            if self._journal_thread is None or not self._journal_thread.is_alive():
                self._journal_thread = threading.Thread(target=self._journal_loop, name="rfapi-events-journal",
                                                        daemon=True)
                self._journal_thread.start()
        self.feed.poke()

    def leave(self) -> None:
        with self._cond:
            self._subscribers -= 1
        self.slots.release()

    def wake(self) -> None:
        """Wake every waiting subscriber (one of them has to notice its client left)."""
        with self._cond:
            self._cond.notify_all()

    @property
    def subscribers(self) -> int:
        return self._subscribers

    def head(self) -> int:
        return self._seq

    def start(self, last_id: Optional[str]) -> Tuple[int, bool]:
        """(cursor, resync needed) for a new subscriber given its Last-Event-ID."""
        with self._cond:
            if not last_id:
                return self._seq, False
            tag, _, num = last_id.strip().rpartition("-")
            if tag != self.origin or not num.isdigit():
                return self._seq, True
            n = int(num)
            first = self._buf[0].seq if self._buf else self._seq + 1
            if n > self._seq or n < first - 1:
                return self._seq, True
            return n, False

    def wait(self, cursor: int, timeout: float) -> Tuple[List[Event], int, Optional[str]]:
        """Events after ``cursor`` (waits up to ``timeout`` s for one): (events, new
        cursor, why the stream must end or None)."""
        with self._cond:
            if self._seq == cursor and not self._closed:
                self._cond.wait(timeout)
            if self._closed:
                return [], cursor, "the server is stopping: reconnect"
            head = self._seq
            if head == cursor:
                return [], cursor, None
            first = self._buf[0].seq if self._buf else head + 1
            if head - cursor > self.MAX_BEHIND or cursor < first - 1:
                return [], head, ("this stream fell %d events behind: reconnect with Last-Event-ID"
                                  % self.MAX_BEHIND)
            start = cursor - first + 1
            events = [self._buf[i] for i in range(start, len(self._buf))]
            return events, head, None

    def control(self, type_: str, reason: str) -> bytes:
        """A control frame (resync / dropped) carrying the current head's id."""
        body = json.dumps({"type": type_, "time": utc(time.time()), "reason": reason}, separators=(",", ":"))
        return ("id: %s-%d\nevent: %s\ndata: %s\n\n" % (self.origin, self._seq, type_, body)).encode()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


_HUBS: "weakref.WeakSet[Hub]" = weakref.WeakSet()


def close_all() -> None:
    """End every stream of this process (a worker that is stopping: gunicorn.conf.py)."""
    for h in list(_HUBS):
        h.close()


def hub_of(app) -> Optional[Hub]:
    """The hub an app already has in this process, else None (never creates one)."""
    return app.extensions["rfapi"].events.peek()


def hub() -> Hub:
    """This app's hub in this process (built by the app factory's recipe on first use)."""
    return runtime().events.get()


def build(rt) -> Hub:
    """A new hub over this runtime's AMI, cache folder and live table (the app factory's recipe)."""
    d = rt.config.paths.cache
    os.makedirs(d, mode=0o750, exist_ok=True)
    return Hub(rt.ami, d, rt.live.get())
