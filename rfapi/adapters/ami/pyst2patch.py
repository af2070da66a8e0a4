"""pyst2 patched: its ``Manager`` with reader, parser and send path replaced.

pyst2 (``asterisk.manager``) is the client library; on Python 3.11 it has
defects (see tests/data/ami/AMI.md and docs/design.md). Each is worked
around here, in a subclass, or in ``client``/``feed`` (the waits and the
reconnects), without touching pyst2 itself:

=================================  ===============================================
pyst2 defect                       what this adapter does
=================================  ===============================================
dict parser loses repeated         ``parse_message`` keeps every header in order
headers; ``has_key`` on            (``Message.getall``) and parses ChanVariable
ChanVariable kills the reader      like any header, so the reader never dies
one ``recv`` per byte; isSet()     the reader loop is replaced: chunked reads,
warning per line; 3 thread hops    one thread cuts, parses and routes messages
no timeouts anywhere               every wait has a deadline (connect, banner,
                                   login, each action, each event list)
replies matched by arrival order   one action in flight per process (a lock), a
across threads; shared mutable     fresh dict per action, unique ActionIDs, and
default dict                       replies whose ActionID is not ours are dropped
event lists not collected          a ``*`` event callback routes list events to
                                   the waiting action by ActionID until
                                   ``EventList: Complete``
no reconnect (threads start once)  a brand-new ``Manager`` after any loss
Command output unusable            Command is never parsed: AstDB via
                                   DBGet/DBGetTree/DBPut/DBDel/DBDelTree
=================================  ===============================================

The request connection uses ``Manager``; the live-state event feed uses
``FeedManager``, which numbers events in wire order and hands them over on the
reader thread.
"""
from __future__ import annotations

import itertools
import os
import queue
import socket
import threading
import time
from typing import Callable, Dict, List

from asterisk import manager as pyst

from .errors import AmiError, AmiTimeout, AmiUnavailable
from .wire import MESSAGE_END, RECV_CHUNK, Message, action_name, header_pairs, parse_block, shutting_down


class Manager(pyst.Manager):
    """pyst2's Manager with its reader, parser and send path replaced.

    Kept from pyst2: the object, its queues, the event-callback registry and
    dispatcher thread, hostname. Replaced (each a defect on Python 3.11 that
    cannot be fixed from outside): the socket reader (pyst2 reads one byte per
    recv and calls the deprecated ``Event.isSet`` — with a DeprecationWarning —
    on every line, then hands each message across three threads: at 100k list
    events that is seconds), the parser (above) and ``send_action`` (no
    timeout, replies matched by position)."""

    def __init__(self):
        super().__init__()
        self._raw = None
        self._write_lock = threading.Lock()
        self._collectors: Dict[str, "Collector"] = {}
        self._collectors_lock = threading.Lock()
        self._ids = itertools.count(1)
        self._prefix = "rfapi-%d-%x" % (os.getpid(), id(self) & 0xFFFFFF)

    # -- connection ------------------------------------------------------------
    def connect(self, host, port=5038, timeout=5.0):
        try:
            raw = socket.create_connection((host, int(port)), timeout=timeout)
        except OSError as exc:
            raise AmiUnavailable("cannot connect to AMI at %s:%s (%s)" % (host, port, exc.strerror or exc)) from None
        raw.settimeout(None)  # the reader thread blocks; deadlines are enforced on the queues
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._raw = raw
        self._sock = raw.makefile(mode="rwb")  # buffered: pyst2's buffering=0 reads byte by byte
        self._connected.set()
        self._running.set()
        self.message_thread.start()
        self.event_dispatch_thread.start()
        try:
            banner = self._response_queue.get(timeout=timeout)
        except queue.Empty:
            self.shutdown()
            # Accepted but never greeted (seen on a real Asterisk shutting down: its listen
            # socket still queues connections): unreachable, not a slow answer.
            raise AmiUnavailable("no AMI banner from %s:%s" % (host, port)) from None
        if banner is None:
            raise AmiUnavailable("AMI at %s:%s closed the connection" % (host, port))
        return banner

    def message_loop(self):
        """The one reader thread: read, parse, route (runs as pyst2's message_thread).

        Reads the socket in large chunks and cuts messages at blank lines itself:
        a list of 1,000 ContactList events is ~20,000 lines, and a readline/decode
        per line made this thread cost twice the time the whole round trip takes."""
        raw = self._raw
        buf = b""
        try:
            while b"\n" not in buf:
                data = raw.recv(RECV_CHUNK)
                if not data:
                    return  # EOF before the banner
                buf += data
            first, _, rest = buf.partition(b"\n")
            text = first.decode("utf-8", "replace")
            if "/" in text and ":" not in text:  # "Asterisk Call Manager/9.0.0"
                self.title, _, self.version = text.strip().partition("/")
                self._response_queue.put(Message([("Response", "Generated Header"), ("Banner", text.strip())]))
                buf = rest
            # A message ends at a line holding nothing but whitespace ("\r\n" as a rule; after
            # a value that ends in a stray LF, "...\n\r\n"): the same cut a line reader makes.
            while True:
                pos = 0
                for m in MESSAGE_END.finditer(buf):
                    msg = parse_block(buf[pos:m.start()])
                    pos = m.end()
                    if msg is not None:
                        self._route(msg)
                buf = buf[pos:] if pos else buf
                data = raw.recv(RECV_CHUNK)
                if not data:
                    break  # EOF: Asterisk closed the connection
                buf = buf + data if buf else data
        except (OSError, ValueError, AttributeError):
            pass  # socket shut down under us
        finally:
            self._connected.clear()
            self._event_queue.put(None)
            for _ in list(self._reswaiting):
                self._response_queue.put(None)
            self._fail_collectors()

    def _route(self, msg: Message) -> None:
        if "Event" in msg:
            aid = msg.get("ActionID")
            if aid is not None:
                col = self._collectors.get(aid)
                if col is not None:  # an event of a list/originate we wait for: straight to it
                    col.add(msg)
                    return
            if self._event_callbacks:  # unsolicited: pyst2's dispatcher thread runs the callbacks
                self._event_queue.put(CallbackEvent(msg))
        elif "Response" in msg:
            self._response_queue.put(msg)

    def shutdown(self):
        """Drop the connection without waiting for anything (no Logoff round trip)."""
        self._connected.clear()
        self._running.clear()
        raw, self._raw = self._raw, None
        if raw is not None:
            try:
                raw.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            raw.close()
        self._message_queue.put(None)

    def close(self):  # pyst2's __del__ calls this; make it cheap and quiet
        try:
            self.shutdown()
        except Exception:
            pass

    # -- actions -----------------------------------------------------------------
    def new_action_id(self) -> str:
        return "%s-%d" % (self._prefix, next(self._ids))

    def send_action(self, cdict=None, timeout=10.0, **kwargs):
        """Send one action and return its Response (ActionID-matched), or raise."""
        if not self._connected.is_set():
            raise AmiUnavailable("not connected to AMI")
        pairs = header_pairs(cdict, kwargs)
        action_id = None
        for k, v in pairs:
            if k == "ActionID":
                action_id = v
        if action_id is None:
            action_id = self.new_action_id()
            pairs.append(("ActionID", action_id))
        wire = "".join("%s: %s\r\n" % (k, v) for k, v in pairs) + "\r\n"
        deadline = time.monotonic() + timeout
        self._reswaiting.insert(0, 1)
        try:
            with self._write_lock:
                try:
                    self._sock.write(wire.encode("utf-8"))
                    self._sock.flush()
                except (OSError, ValueError, AttributeError):
                    self.shutdown()
                    raise AmiUnavailable("AMI connection lost while sending") from None
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AmiTimeout("Asterisk did not answer %s in %.1f s" % (action_name(pairs), timeout))
                try:
                    resp = self._response_queue.get(timeout=remaining)
                except queue.Empty:
                    continue
                if resp is None:
                    raise AmiUnavailable("AMI connection lost")
                if resp.get("ActionID") == action_id:
                    return resp
                # A late reply to an earlier, timed-out action: not ours, drop it.
        finally:
            self._reswaiting.pop(0)

    # -- event lists ------------------------------------------------------------
    def _fail_collectors(self):
        with self._collectors_lock:
            cols = list(self._collectors.values())
        for col in cols:
            col.fail()

    def collect(self, action_id: str, until: Callable[[Message], bool]) -> "Collector":
        col = Collector(until)
        with self._collectors_lock:
            self._collectors[action_id] = col
        return col

    def uncollect(self, action_id: str) -> None:
        with self._collectors_lock:
            self._collectors.pop(action_id, None)


class Collector:
    def __init__(self, until: Callable[[Message], bool]):
        self.items: List[Message] = []
        self.done = threading.Event()
        self.lost = False
        self._until = until

    def add(self, msg: Message) -> None:
        self.items.append(msg)
        if self._until(msg):
            self.done.set()

    def fail(self) -> None:
        self.lost = True
        self.done.set()


class CallbackEvent:
    """What pyst2's event callbacks receive: ``.name``, ``.headers``, ``.message``."""

    __slots__ = ("name", "headers", "message")

    def __init__(self, msg: Message):
        self.message = msg
        self.headers = msg.as_dict()
        self.name = msg.get("Event")

    def get_header(self, key, default=None):
        return self.headers.get(key, default)


def login(mgr: Manager, user: str, secret: str, events: str, timeout: float) -> None:
    """Log a freshly connected Manager in (closing it on any failure); the secret is
    never part of an error message."""
    try:
        resp = mgr.send_action([("Action", "Login"), ("Username", user), ("Secret", secret),
                                ("Events", events)], timeout=timeout)
    except AmiTimeout:
        mgr.shutdown()
        raise AmiUnavailable("Asterisk did not complete the AMI login in time") from None
    except AmiError:
        mgr.shutdown()
        raise
    if resp.get("Response") != "Success":
        mgr.shutdown()
        if shutting_down(resp):
            raise AmiUnavailable("Asterisk is shutting down")
        raise AmiUnavailable("Asterisk Manager refused the login for user %s" % user)


class FeedManager(Manager):
    """The feed connection's Manager: every event is numbered in wire order on the
    reader thread; list events go to their collector (which remembers the number of
    the last one, i.e. of the ``...Complete``), unsolicited events whose name is
    wanted go straight to ``deliver(msg, seq)`` on the reader thread (no queue: the
    order is the wire order and memory stays bounded), all others are dropped."""

    def __init__(self, wanted: frozenset, deliver: Callable[[Message, int], None],
                 seq: "itertools.count", lost: Callable[["FeedManager"], None]):
        super().__init__()
        self._prefix = "rfapi-feed-%d-%x" % (os.getpid(), id(self) & 0xFFFFFF)
        self._wanted = wanted
        self._deliver = deliver
        self._seq = seq
        self._lost = lost
        self.last_rx = time.monotonic()

    def _route(self, msg: Message) -> None:
        self.last_rx = time.monotonic()
        if "Event" not in msg:
            if "Response" in msg:
                self._response_queue.put(msg)
            return
        seq = next(self._seq)
        aid = msg.get("ActionID")
        if aid is not None:
            col = self._collectors.get(aid)
            if col is not None:
                col.seq = seq
                col.add(msg)
                return
        if msg.get("Event") in self._wanted:
            self._deliver(msg, seq)

    def message_loop(self):
        try:
            super().message_loop()
        finally:
            self._lost(self)


def join_manager(mgr: Manager, timeout: float = 2.0) -> None:
    me = threading.current_thread()
    for t in (mgr.message_thread, mgr.event_dispatch_thread):
        if t.ident is not None and t is not me:
            t.join(timeout)
