"""AMI adapter: the only module that speaks the Asterisk Manager Interface.

pyst2 (``asterisk.manager``) is the client library; on Python 3.11 it has
defects (see ../shared/reference/ami/AMI.md and the README). Each is worked
around here, in a subclass, without touching pyst2 itself:

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
no reconnect (threads start once)  a brand-new ``_Manager`` after any loss
Command output unusable            Command is never parsed: AstDB via
                                   DBGet/DBGetTree/DBPut/DBDel/DBDelTree
=================================  ===============================================

Every field sent is refused if it holds CR, LF or NUL (header injection).
"""
from __future__ import annotations

import itertools
import logging
import os
import queue
import re
import socket
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from asterisk import manager as pyst

Headers = Union[Dict[str, object], Sequence[Tuple[str, object]]]


class AmiError(Exception):
    """Base of AMI failures."""


class AmiUnavailable(AmiError):
    """Asterisk cannot be reached, refused the login, or dropped the connection."""


def shutting_down(resp: "Message") -> bool:
    """During `core stop` a real Asterisk 20 answers every action, Ping included,
    with ``Response: Error`` / ``Message: Asterisk is shutting down`` until it
    closes the socket (tests/data/ami/shutting-down.txt): unreachable, not a refusal."""
    return resp.get("Response") == "Error" and (resp.get("Message") or "").strip() == "Asterisk is shutting down"


class AmiTimeout(AmiError):
    """Asterisk accepted the action but did not answer within the timeout."""


class AmiInputError(AmiError, ValueError):
    """A header name or value would break AMI framing (CR, LF or NUL)."""

    def __init__(self, field: str):
        super().__init__("%s contains a forbidden character" % field)
        self.field = field


FORBIDDEN = ("\r", "\n", "\x00")


def check_field(field: str, value: object) -> str:
    text = "" if value is None else str(value)
    if any(c in text for c in FORBIDDEN):
        raise AmiInputError(field)
    return text


class Message:
    """One AMI message with every header kept, in order (``pairs``); ``first`` maps
    each header to its first value (read it, never change it: hot loops over list
    events use it directly instead of ``get``)."""

    __slots__ = ("pairs", "first")

    def __init__(self, pairs: List[Tuple[str, str]]):
        self.pairs = pairs
        first = dict(pairs)  # C speed; right unless a header repeats
        if len(first) != len(pairs):
            first = {}
            for k, v in pairs:
                first.setdefault(k, v)
        self.first = first

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self.first.get(key, default)

    def getall(self, key: str) -> List[str]:
        return [v for k, v in self.pairs if k == key]

    def __getitem__(self, key: str) -> str:
        return self.first[key]

    def __contains__(self, key: str) -> bool:
        return key in self.first

    def as_dict(self) -> Dict[str, str]:
        return dict(self.first)

    @property
    def ok(self) -> bool:
        return self.get("Response") == "Success"

    def __repr__(self) -> str:  # never print values: AuthDetail carries passwords
        return "<Message %s>" % (self.get("Event") or self.get("Response"))


def parse_message(lines: List[str]) -> Message:
    """Every ``Key: Value`` header of one message, in order, repeated ones kept.

    Replaces pyst2's ``ManagerMsg.parse``: that one keeps a plain dict (repeated
    Output/Message/Variable headers are lost) and calls ``dict.has_key`` on
    ChanVariable, which kills its reader thread under Python 3."""
    pairs = []
    for line in lines:
        k, sep, v = line.partition(":")
        if not sep:
            continue  # not a header (old ``Response: Follows`` bodies); never parsed here
        # Asterisk sometimes ends a value with a stray LF ("...\n\r\n"): strip it.
        pairs.append((k.strip(), v.strip()))
    return Message(pairs)


_RECV = 1 << 18
_MESSAGE_END = re.compile(rb"\n[ \t\r\f\v]*\n")


def parse_block(block: bytes) -> Optional[Message]:
    """One message as cut from the stream (its lines without the blank end line);
    None when it holds no header at all (stray blank lines between messages)."""
    msg = parse_message(block.decode("utf-8", "replace").split("\n"))
    return msg if msg.pairs else None


class _Manager(pyst.Manager):
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
        self._collectors: Dict[str, "_Collector"] = {}
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
                data = raw.recv(_RECV)
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
                for m in _MESSAGE_END.finditer(buf):
                    msg = parse_block(buf[pos:m.start()])
                    pos = m.end()
                    if msg is not None:
                        self._route(msg)
                buf = buf[pos:] if pos else buf
                data = raw.recv(_RECV)
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
                self._event_queue.put(_Event(msg))
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
        pairs = _pairs(cdict, kwargs)
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
                    raise AmiTimeout("Asterisk did not answer %s in %.1f s" % (_action_name(pairs), timeout))
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

    def collect(self, action_id: str, until: Callable[[Message], bool]) -> "_Collector":
        col = _Collector(until)
        with self._collectors_lock:
            self._collectors[action_id] = col
        return col

    def uncollect(self, action_id: str) -> None:
        with self._collectors_lock:
            self._collectors.pop(action_id, None)


class _Collector:
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


class _Event:
    """What pyst2's event callbacks receive: ``.name``, ``.headers``, ``.message``."""

    __slots__ = ("name", "headers", "message")

    def __init__(self, msg: Message):
        self.message = msg
        self.headers = msg.as_dict()
        self.name = msg.get("Event")

    def get_header(self, key, default=None):
        return self.headers.get(key, default)


def _pairs(cdict, kwargs) -> List[Tuple[str, str]]:
    items: List[Tuple[str, object]] = []
    for src in (cdict or {}, kwargs):
        if isinstance(src, dict):
            items.extend(src.items())
        else:
            items.extend(src)
    out = []
    for k, v in items:
        check_field("header name", k)
        values = v if isinstance(v, (list, tuple)) else [v]
        for item in values:
            out.append((k, check_field(k, item)))
    return out


def _action_name(pairs) -> str:
    for k, v in pairs:
        if k == "Action":
            return v
    return "action"


def _list_complete(msg: Message) -> bool:
    return msg.get("EventList") == "Complete"


def login(mgr: _Manager, user: str, secret: str, events: str, timeout: float) -> None:
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


class AMI:
    """One logged-in AMI connection per process, one action in flight at a time.

    ``params`` returns (host, port, user, secret) when a connection is needed,
    so FreePBX's settings are read lazily (and re-read after a login failure).
    """

    RETRY_AFTER = 1.0  # seconds between connection attempts after a failure

    def __init__(self, params: Callable[[], Tuple[str, int, str, str]], timeout: float = 10.0):
        self._params = params
        self.timeout = float(timeout)
        self._lock = threading.Lock()
        self._mgr: Optional[_Manager] = None
        self._failed_at = 0.0
        self._failure = ""
        self._connecting = False     # a (re)connect holds the turn
        self._pid = os.getpid()
        self.connects = 0
        self._feeds: Dict[str, "EventFeed"] = {}
        self._feeds_lock = threading.Lock()

    # -- connection ------------------------------------------------------------
    def _login(self, events: str) -> _Manager:
        host, port, user, secret = self._params()
        mgr = _Manager()
        mgr.connect(host, port, timeout=min(self.timeout, 5.0))
        login(mgr, user, secret, events, self.timeout)
        self.connects += 1
        return mgr

    def _manager(self) -> _Manager:
        if self._pid != os.getpid():  # forked (gunicorn preload): never share a socket
            self._mgr, self._pid = None, os.getpid()
        mgr = self._mgr
        if mgr is not None and mgr.connected():
            return mgr
        self._mgr = None
        if time.monotonic() - self._failed_at < self.RETRY_AFTER:
            raise AmiUnavailable(self._failure or "AMI unavailable")
        self._connecting = True
        try:
            self._mgr = self._login("off")
        except AmiError as exc:
            self._failed_at = time.monotonic()
            self._failure = str(exc)
            raise AmiUnavailable(str(exc)) from None
        finally:
            self._connecting = False
        return self._mgr

    def close(self) -> None:
        with self._feeds_lock:
            feeds = list(self._feeds.values())
        for feed in feeds:  # Runtime.close() -> here: no feed thread outlives its app
            feed.close()
        with self._lock:
            if self._mgr is not None:
                self._mgr.shutdown()
                self._mgr = None

    def _drop(self, mgr: _Manager) -> None:
        mgr.shutdown()
        if self._mgr is mgr:
            self._mgr = None

    # -- event feeds ---------------------------------------------------------------
    def subscribe(self, key: str, events: Iterable[str], on_event: Callable[[Message, int], None],
                  on_connect: Callable[["EventFeed"], None], mask: str = "call") -> "EventFeed":
        """The process's event feed called ``key`` (created once, not started: the
        caller starts it on first use with ``poke()``). See ``EventFeed``."""
        with self._feeds_lock:
            feed = self._feeds.get(key)
            if feed is None:
                feed = EventFeed(self._params, self.timeout, events, on_event, on_connect, mask=mask, name=key)
                self._feeds[key] = feed
            else:  # a second consumer shares the connection (one event connection per process)
                feed.add_listener(events, on_event, on_connect, mask)
            return feed

    # -- actions -----------------------------------------------------------------
    def action(self, name: str, headers: Headers = (), timeout: Optional[float] = None) -> Message:
        """Send one action and return its Response."""
        resp, _ = self._run(name, headers, timeout, collect=False)
        return resp

    def list_action(self, name: str, headers: Headers = (), timeout: Optional[float] = None
                    ) -> Tuple[Message, List[Message]]:
        """Send an event-list action; return (response, events before the Complete event)."""
        return self._run(name, headers, timeout, collect=True)

    def _run(self, name, headers, timeout, collect):
        timeout = self.timeout if timeout is None else timeout
        pairs = [("Action", check_field("Action", name))] + _pairs(headers, {})
        # One action in flight per process; a queue longer than the timeout is a timeout too.
        if not self._lock.acquire(timeout=timeout):
            if self._connecting or time.monotonic() - self._failed_at < timeout + self.RETRY_AFTER:
                # the turn went to (re)connecting to an Asterisk that does not answer
                raise AmiUnavailable(self._failure or "AMI unavailable: still connecting")
            raise AmiTimeout("AMI busy: no turn within %.1f s" % timeout)
        try:
            mgr = self._manager()
            aid = mgr.new_action_id()
            pairs.append(("ActionID", aid))
            col = mgr.collect(aid, _list_complete) if collect else None
            deadline = time.monotonic() + timeout
            try:
                try:
                    resp = mgr.send_action(pairs, timeout=timeout)
                except AmiTimeout:
                    self._drop(mgr)  # a wedged connection: start clean next time
                    raise
                except AmiUnavailable:
                    self._drop(mgr)
                    raise
                result = resp
                if shutting_down(result):
                    self._drop(mgr)
                    raise AmiUnavailable("Asterisk is shutting down")
                if col is None or result.get("EventList") != "start":
                    return result, []
                if not col.done.wait(max(0.0, deadline - time.monotonic())):
                    self._drop(mgr)
                    raise AmiTimeout("Asterisk did not complete the %s list in %.1f s" % (name, timeout))
                if col.lost:
                    self._drop(mgr)
                    raise AmiUnavailable("AMI connection lost during %s" % name)
                items = [m for m in col.items if not _list_complete(m)]
                return result, items
            finally:
                if col is not None:
                    mgr.uncollect(aid)
        finally:
            self._lock.release()

    # -- AstDB -------------------------------------------------------------------
    def db_get(self, family: str, key: str) -> Optional[str]:
        resp, events = self.list_action("DBGet", [("Family", family), ("Key", key)])
        if not resp.ok:
            return None
        for ev in events:
            if ev.get("Event") == "DBGetResponse":
                return ev.get("Val", "")
        return None

    def db_put(self, family: str, key: str, value: object) -> None:
        resp = self.action("DBPut", [("Family", family), ("Key", key), ("Val", value)])
        if not resp.ok:
            raise AmiError("DBPut %s/%s failed: %s" % (family, key, resp.get("Message", "")))

    def db_del(self, family: str, key: str) -> bool:
        """True if the key existed and is gone."""
        return self.action("DBDel", [("Family", family), ("Key", key)]).ok

    def db_deltree(self, family: str, key: str = "") -> bool:
        headers = [("Family", family)] + ([("Key", key)] if key else [])
        return self.action("DBDelTree", headers).ok

    def db_gettree(self, family: str, key: str = "") -> Dict[str, str]:
        """Every key under family[/key], as {"/FAMILY/key/sub": value}."""
        headers = [("Family", family)] + ([("Key", key)] if key else [])
        resp, events = self.list_action("DBGetTree", headers)
        if not resp.ok:
            return {}
        return {ev.get("Key", ""): ev.get("Val", "") for ev in events if ev.get("Event") == "DBGetTreeResponse"}

    # -- originate and wait on a dedicated connection -----------------------------
    def originate_and_wait(self, headers: Headers, wait: float
                           ) -> Tuple[Message, Optional[Message], Optional[int]]:
        """Async Originate on a short-lived connection logged in with ``Events: call``
        and wait up to ``wait`` s for its OriginateResponse.

        Also returns the hangup cause of the originated channel when it failed:
        a real Asterisk 20 answers a busy phone (486) with ``Reason: 0``, the
        same as "not registered"; only the channel's HangupRequest/Hangup
        (``Cause: 17``) tells busy apart. The channel is recognised by name
        (``<Channel>-``), since a failed OriginateResponse has no Uniqueid.

        A separate connection keeps the shared one free of the call-event flood
        (a FreePBX-class user gets every VarSet/Newexten of every call)."""
        pairs = [("Action", "Originate")] + _pairs(headers, {})
        prefix = dict(headers).get("Channel", "") + "-"
        causes: List[int] = []
        hung_up = threading.Event()

        def on_hangup(event, _mgr) -> None:
            if (event.get_header("Channel") or "").startswith(prefix):
                try:
                    causes.append(int(event.get_header("Cause", "")))
                except ValueError:
                    pass
                if event.name == "Hangup":
                    hung_up.set()

        try:
            mgr = self._login("call")
        except AmiError as exc:
            raise AmiUnavailable(str(exc)) from None
        try:
            mgr.register_event("HangupRequest", on_hangup)
            mgr.register_event("Hangup", on_hangup)
            aid = mgr.new_action_id()
            pairs.append(("ActionID", aid))
            col = mgr.collect(aid, lambda m: m.get("Event") == "OriginateResponse")
            resp = mgr.send_action(pairs, timeout=self.timeout)
            if shutting_down(resp):
                raise AmiUnavailable("Asterisk is shutting down")
            if not resp.ok:
                return resp, None, None
            col.done.wait(wait)
            for m in col.items:
                if m.get("Event") == "OriginateResponse":
                    if m.get("Response") != "Success" and not causes:
                        hung_up.wait(1.0)  # the Hangup follows the OriginateResponse closely
                    return resp, m, (causes[0] if causes else None)
            return resp, None, None
        finally:
            try:
                mgr.send_action([("Action", "Logoff")], timeout=1.0)
            except AmiError:
                pass
            mgr.shutdown()


# -- the event feed: one long-lived events-on connection per process ------------------

log = logging.getLogger("rfapi.ami")


class _FeedManager(_Manager):
    """The feed connection's Manager: every event is numbered in wire order on the
    reader thread; list events go to their collector (which remembers the number of
    the last one, i.e. of the ``...Complete``), unsolicited events whose name is
    wanted go straight to ``deliver(msg, seq)`` on the reader thread (no queue: the
    order is the wire order and memory stays bounded), all others are dropped."""

    def __init__(self, wanted: frozenset, deliver: Callable[[Message, int], None],
                 seq: "itertools.count", lost: Callable[["_FeedManager"], None]):
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


def _join_manager(mgr: _Manager, timeout: float = 2.0) -> None:
    me = threading.current_thread()
    for t in (mgr.message_thread, mgr.event_dispatch_thread):
        if t.ident is not None and t is not me:
            t.join(timeout)


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
      reconnect, so each attempt is a brand-new ``_FeedManager``. A silent
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
        self._mgr: Optional[_FeedManager] = None
        self._connecting: Optional[_FeedManager] = None
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
            _join_manager(mgr)

    # -- actions on the feed connection (from on_connect) --------------------------------
    def list_action(self, name: str, headers: Headers = (), timeout: Optional[float] = None
                    ) -> Tuple[Message, List[Message], int]:
        """Send an event-list action on the feed connection: (response, events before the
        Complete event, sequence number of the Complete event; 0 if no list came)."""
        mgr = self._mgr
        if mgr is None or not mgr.connected():
            raise AmiUnavailable("AMI event feed not connected")
        timeout = self.timeout if timeout is None else timeout
        pairs = [("Action", check_field("Action", name))] + _pairs(headers, {})
        aid = mgr.new_action_id()
        pairs.append(("ActionID", aid))
        col = mgr.collect(aid, _list_complete)
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
            return resp, [m for m in col.items if not _list_complete(m)], col.seq
        finally:
            mgr.uncollect(aid)

    # -- the feed thread -----------------------------------------------------------------
    def _login(self) -> _FeedManager:
        host, port, user, secret = self._params()
        mgr = _FeedManager(self.events, self._deliver, self._seq, self._lost)
        with self._cond:
            if self._stopping.is_set():
                raise AmiUnavailable("AMI event feed closed")
            self._connecting = mgr
        try:
            return self._login_on(mgr, user, secret, host, port)
        except BaseException:
            mgr.shutdown()  # whatever failed, no socket or reader thread stays behind
            _join_manager(mgr)
            raise
        finally:
            with self._cond:
                self._connecting = None

    def _login_on(self, mgr: _FeedManager, user: str, secret: str, host: str, port: int) -> _FeedManager:
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

    def _lost(self, mgr: _FeedManager) -> None:
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
                mgr: Optional[_FeedManager] = None
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
                        _join_manager(mgr)
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

    def _watch(self, mgr: _FeedManager) -> str:
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
