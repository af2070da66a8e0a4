"""The event stream behind ``GET /events``: one hub per process, fed by

* the process's one AMI event connection (the live state table's ``EventFeed``,
  shared: ``add_listener``; the mask grows to ``call,system`` for ContactStatus
  and PeerStatus), translated on the reader thread into small JSON events;
* rfapi's own writes, from every worker: each write appends one JSON line to the
  journal ``<cache>/events.journal`` and bumps the shared counter
  ``<cache>/events.generation`` (``SharedCounter``: a memory-mapped number); one
  thread per process compares that number every ``JOURNAL_POLL`` s (a memory
  read, no system call) and reads the new lines when it moved. A file rather than
  an AMI UserEvent: writes are announced while Asterisk is down too, no other AMI
  client sees rfapi's traffic, and a write does not wait for an AMI round trip.

Every event is appended once, as finished SSE text (``id:``, ``event:``, ``data:``),
to a bounded buffer (``BUFFER`` events, ``MAX_AGE`` s) and numbered; subscribers do
not get copies: each keeps a cursor into the buffer and waits on one condition.
Publishing is an append and a ``notify_all``, so neither the AMI reader nor any
subscriber ever waits for another subscriber. A subscriber that falls ``MAX_BEHIND``
events behind (a client that does not read) gets a final ``dropped`` event and its
stream ends; a blocked socket write is cut after ``SEND_TIMEOUT`` s.

Ids are ``<origin>-<number>``: the origin is random per process, because each
gunicorn worker numbers its own stream. ``Last-Event-ID`` from this process and
still in the buffer replays what was missed; anything else (another worker, a
restarted one, older than the buffer) gets one ``resync`` event: re-read ``/state``
and ``/registrations``. After a lost AMI connection the hub publishes ``resync``
to everyone as well (events of the gap are gone)."""
from __future__ import annotations

import collections
import json
import logging
import os
import re
import random
import threading
import time
import weakref
from typing import Any, Callable, Deque, Dict, FrozenSet, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from ..adapters import files
from ..adapters.ami import EventFeed, Message
from ..errors import ServiceUnavailable
from ..runtime import runtime
from . import eventslots, livestate

log = logging.getLogger("rfapi.events")

# Filter names (?types=) and the SSE event name of each; control events (resync,
# dropped) are sent whatever the filter.
TYPES = ("state", "presence", "registrations", "calls", "voicemail", "config")
CONTROL = ("resync", "dropped")
AMI_EVENTS = ("ExtensionStatus", "PresenceStateChange", "ContactStatus", "PeerStatus", "Newchannel",
              "DialBegin", "DialEnd", "BridgeEnter", "Hangup", "MessageWaiting")
AMI_MASK = "call,system"  # ContactStatus / PeerStatus are "system" events, the rest "call"
JOURNAL = "events.journal"
JOURNAL_COUNTER = "events.generation"
JOURNAL_MAX = 1024 * 1024  # bytes: then the journal is rotated (readers follow the rename)
# Trunk contexts of FreePBX: a call whose first channel starts there is inbound.
_INBOUND_CONTEXTS = ("from-trunk", "from-pstn", "from-did-direct", "from-sip-external")
_DEVICE = re.compile(r"^(?:PJSIP|SIP|IAX2)/([0-9]{2,10})(?:-[0-9a-f]+)?$")


def max_streams() -> int:
    """Streams the whole box serves at most, over every worker: RFAPI_EVENT_CAPACITY
    (deploy/gunicorn.conf.py sets it to workers x RFAPI_EVENT_STREAMS and gives every
    worker's thread pool room for that many), else RFAPI_EVENT_STREAMS (one process)."""
    for name in ("RFAPI_EVENT_CAPACITY", "RFAPI_EVENT_STREAMS"):
        try:
            raw = os.environ.get(name, "")
            if raw:
                return max(1, int(raw))
        except ValueError:
            continue
    return 128


def utc(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


class Event(NamedTuple):
    seq: int
    at: float                  # monotonic time it was published (for MAX_AGE)
    type: str
    exts: FrozenSet[str]       # extensions the event concerns (for ?extension=)
    text: bytes                # the finished SSE frame


def _int(v: Optional[str], default: int = 0) -> int:
    try:
        return int((v or "").strip())
    except ValueError:
        return default


def _known(v: Optional[str]) -> Optional[str]:
    v = (v or "").strip()
    return None if v in ("", "<unknown>", "s") else v


def device_extension(channel: Optional[str]) -> Optional[str]:
    """``PJSIP/101-0000002a`` / ``SIP/201`` -> the extension, else None."""
    m = _DEVICE.match((channel or "").strip())
    return m.group(1) if m else None


# -- calls ---------------------------------------------------------------------------
class _Call:
    __slots__ = ("linkedid", "started", "caller", "caller_name", "callee", "did", "direction", "answered",
                 "channels", "exts")

    def __init__(self, linkedid: str):
        self.linkedid = linkedid
        self.started = time.time()
        self.caller: Optional[str] = None
        self.caller_name: Optional[str] = None
        self.callee: Optional[str] = None
        self.did: Optional[str] = None
        self.direction: Optional[str] = None
        self.answered = False
        self.channels: set = set()
        self.exts: set = set()


class CallTracker:
    """Calls by Linkedid, from Newchannel / DialBegin / DialEnd / BridgeEnter / Hangup.

    start: the first channel of a linkedid (caller = its caller ID, or the extension of
    its device; callee = the number it asked for; inbound when it starts in a trunk
    context, with did = that number; internal when the callee is an extension with a
    hint, else outbound; an originate's first channel asks for nothing (Exten ``s``):
    callee and direction then come from the first Dial made by a channel); ring: each
    DialBegin to a device or trunk (``ringing`` = the device's extension, else the dial
    string; Local channels are plumbing and skipped); answer: the first DialEnd ANSWER
    of a Dial made by a channel, or a BridgeEnter that makes two (an originate's first
    leg answering is the calling phone picking up); end: the Hangup of the call's last
    channel (cause, duration, answered)."""

    MAX_CALLS = 20000

    def __init__(self, is_extension: Callable[[str], bool]):
        self._is_ext = is_extension
        self._calls: "collections.OrderedDict[str, _Call]" = collections.OrderedDict()
        self._chan: Dict[str, str] = {}  # uniqueid -> linkedid

    def clear(self) -> None:
        self._calls.clear()
        self._chan.clear()

    def _data(self, call: _Call, what: str, **extra: Any) -> Dict[str, Any]:
        d = {"call": what, "linkedid": call.linkedid, "caller": call.caller, "caller_name": call.caller_name,
             "callee": call.callee, "did": call.did, "direction": call.direction}
        d.update(extra)
        return d

    def feed(self, msg: Message) -> List[Tuple[Dict[str, Any], FrozenSet[str]]]:
        name = msg.get("Event")
        uid, link = msg.get("Uniqueid") or "", msg.get("Linkedid") or ""
        out: List[Tuple[Dict[str, Any], FrozenSet[str]]] = []
        if name == "Newchannel":
            if not uid or not link:
                return out
            dev = device_extension(msg.get("Channel"))
            call = self._calls.get(link)
            if call is None:
                if len(self._calls) >= self.MAX_CALLS:  # bounded: forget the oldest
                    old = self._calls.popitem(last=False)[1]
                    for u in old.channels:
                        self._chan.pop(u, None)
                call = self._calls[link] = _Call(link)
                ctx = msg.get("Context") or ""
                exten = _known(msg.get("Exten"))
                call.caller = _known(msg.get("CallerIDNum")) or dev
                call.caller_name = _known(msg.get("CallerIDName"))
                if ctx.startswith(_INBOUND_CONTEXTS):
                    call.direction, call.did = "inbound", exten
                elif exten:  # a phone's own call: it asked for this number
                    call.callee = exten
                    call.direction = "internal" if self._is_ext(exten) else "outbound"
                # else (an originate: Exten "s"): callee and direction come with the first real Dial
                if dev:
                    call.exts.add(dev)
                if call.caller and self._is_ext(call.caller) and call.direction != "inbound":
                    call.exts.add(call.caller)
                if call.callee and call.direction == "internal":
                    call.exts.add(call.callee)
                call.channels.add(uid)
                self._chan[uid] = link
                out.append((self._data(call, "start", uniqueid=uid, channel=msg.get("Channel")),
                            frozenset(call.exts)))
            else:
                call.channels.add(uid)
                self._chan[uid] = link
                if dev:
                    call.exts.add(dev)
            return out
        call = self._calls.get(link) if link else None
        if name == "DialBegin":
            dest_link = msg.get("DestLinkedid") or ""
            if call is None:
                call = self._calls.get(dest_link)
            if call is None:
                return out
            dest = msg.get("DestChannel") or ""
            if dest.startswith("Local/"):
                return out  # dialplan plumbing (an originate into a Local channel), not a phone or trunk
            dev = device_extension(dest)
            callee = dev or (_known(msg.get("DialString")) or "").split("@")[0] or None
            if dev:
                call.exts.add(dev)
            # A Dial from a channel (not an originate's first leg, which has only Dest* headers)
            # names the party being called.
            if "Channel" in msg and call.callee is None and callee:
                call.callee = callee
                if call.direction is None:
                    call.direction = "internal" if dev or self._is_ext(callee) else "outbound"
            out.append((self._data(call, "ring", ringing=callee, dest_channel=dest,
                                   dest_uniqueid=msg.get("DestUniqueid")), frozenset(call.exts)))
        elif name in ("DialEnd", "BridgeEnter"):
            if call is None:
                call = self._calls.get(msg.get("DestLinkedid") or "")
            if call is None or call.answered:
                return out
            if name == "DialEnd":
                # The answer of a Dial from a channel; an originate's first leg answering is the
                # calling phone picking up, not the call being answered.
                if (msg.get("DialStatus") or "").strip() != "ANSWER" or "Channel" not in msg:
                    return out
                by = device_extension(msg.get("DestChannel")) or _known(msg.get("DestCallerIDNum"))
            else:
                if _int(msg.get("BridgeNumChannels")) < 2:  # talking needs two in the bridge
                    return out
                by = device_extension(msg.get("Channel")) or _known(msg.get("CallerIDNum"))
            call.answered = True
            out.append((self._data(call, "answer", answered_by=by), frozenset(call.exts)))
        elif name == "Hangup":
            link = self._chan.pop(uid, None) or link
            call = self._calls.get(link)
            if call is None:
                return out
            call.channels.discard(uid)
            if not call.channels:
                del self._calls[link]
                out.append((self._data(call, "end", answered=call.answered, cause=_int(msg.get("Cause")),
                                       cause_txt=msg.get("Cause-txt") or "",
                                       duration=round(time.time() - call.started, 3)),
                            frozenset(call.exts)))
        return out


# -- translation of the other AMI events ----------------------------------------------
def _dedupe_key(type_: str, data: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """The thing an event reports the current value of (state, presence, voicemail
    counts), or None for events that are changes in themselves (registrations, calls)."""
    if type_ == "state":
        return type_, "%s@%s" % (data["extension"], data["context"])
    if type_ == "presence":
        return type_, data["presentity"]
    if type_ == "voicemail":
        return type_, data["mailbox"]
    return None


def translate(msg: Message) -> Optional[Tuple[str, Dict[str, Any], FrozenSet[str]]]:
    """(type, data, extensions) of a non-call AMI event, or None when it is not one we publish."""
    from .state import state_name

    name = msg.get("Event")
    if name == "ExtensionStatus":
        status = _int(msg.get("Status"), -1)
        exten = msg.get("Exten") or ""
        return "state", {"extension": exten, "context": msg.get("Context") or "", "hint": msg.get("Hint") or "",
                         "state": state_name(status), "status": status,
                         "status_text": msg.get("StatusText") or ""}, frozenset([exten])
    if name == "PresenceStateChange":
        presentity = msg.get("Presentity") or ""
        ext = presentity.split(":", 1)[1] if ":" in presentity else presentity
        return "presence", {"extension": ext, "presentity": presentity,
                            "state": (msg.get("Status") or "").strip().lower(),
                            "subtype": msg.get("Subtype") or "", "message": msg.get("Message") or ""}, \
            frozenset([ext])
    if name == "ContactStatus":
        ep = msg.get("EndpointName") or ""
        status = msg.get("ContactStatus") or ""
        return "registrations", {"extension": ep, "tech": "pjsip", "aor": msg.get("AOR") or "",
                                 "uri": msg.get("URI") or "", "status": status,
                                 "registered": status != "Removed",  # Unreachable: registered, qualify failing
                                 "roundtrip_usec": _int(msg.get("RoundtripUsec"))}, frozenset([ep])
    if name == "PeerStatus":
        if (msg.get("ChannelType") or "").upper() != "SIP":
            return None  # PJSIP's PeerStatus repeats what its ContactStatus events say
        peer = (msg.get("Peer") or "").split("/", 1)[-1]
        status = msg.get("PeerStatus") or ""
        return "registrations", {"extension": peer, "tech": "sip", "status": status,
                                 "registered": status not in ("Unregistered", "Rejected"),
                                 "address": msg.get("Address") or ""}, frozenset([peer])
    if name == "MessageWaiting":
        mailbox = msg.get("Mailbox") or ""
        box, _, ctx = mailbox.partition("@")
        return "voicemail", {"extension": box, "mailbox": mailbox, "context": ctx or "default",
                             "waiting": _int(msg.get("Waiting")) > 0 or (msg.get("Waiting") or "").lower() == "yes",
                             "new": _int(msg.get("New")), "old": _int(msg.get("Old"))}, frozenset([box])
    return None


# -- the journal of rfapi's own writes (shared by every worker) ------------------------
class Journal:
    """Append-only JSON lines in the cache directory, announced by a SharedCounter."""

    def __init__(self, directory: str):
        self.path = os.path.join(directory, JOURNAL)
        self.counter = files.SharedCounter(os.path.join(directory, JOURNAL_COUNTER))

    def append(self, record: Dict[str, Any]) -> None:
        import fcntl

        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size + len(line) > JOURNAL_MAX:
                # Rotate: readers still hold the old file open and drain it first.
                os.replace(self.path, self.path + ".1")
                os.close(fd)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o660)
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)  # one write(): lines never interleave
        finally:
            os.close(fd)
        self.counter.bump()


class _JournalReader:
    def __init__(self, journal: Journal):
        self.journal = journal
        self._fh = None
        self._ino = None
        self._buf = b""
        self._open(at_end=True)

    def _open(self, at_end: bool) -> None:
        try:
            fh = open(self.journal.path, "rb")
        except FileNotFoundError:
            self._fh, self._ino = None, None
            return
        if at_end:
            fh.seek(0, os.SEEK_END)
        self._fh, self._ino = fh, os.fstat(fh.fileno()).st_ino

    def read(self) -> List[Dict[str, Any]]:
        chunks = []
        if self._fh is not None:
            chunks.append(self._fh.read())
        try:
            ino = os.stat(self.journal.path).st_ino
        except FileNotFoundError:
            ino = None
        if ino is not None and ino != self._ino:  # rotated (or created): the rest of the old, then the new
            if self._fh is not None:
                chunks.append(self._fh.read())
                self._fh.close()
            self._open(at_end=False)
            if self._fh is not None:
                chunks.append(self._fh.read())
        data = self._buf + b"".join(chunks)
        lines = data.split(b"\n")
        self._buf = lines.pop()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


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
        key = _dedupe_key(type_, data)
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
        reader = _JournalReader(self.journal)
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


def stream(h: Hub, types: FrozenSet[str], exts: Optional[FrozenSet[str]], last_id: Optional[str],
           heartbeat: float, max_seconds: float, on_close: Callable[[], None],
           gone: Optional[threading.Event] = None) -> Iterator[bytes]:
    """The SSE body of one subscriber (``h.open()`` was called; ``on_close`` runs at the end;
    ``gone`` is set when the client closed the connection: the stream ends at once)."""
    try:
        cursor, resync = h.start(last_id)
        # The first bytes go out at once: headers flushed, the client knows it is connected.
        first = b"retry: 3000\n: rfapi events %s\n\n" % h.origin.encode()
        if resync:
            first += h.control("resync", "Last-Event-ID is unknown here or older than the buffer: re-read /state "
                                         "and /registrations")
        yield first
        started = last_write = time.monotonic()
        probes, probe_again = h.probes, None
        while True:
            now = time.monotonic()
            if max_seconds and now - started >= max_seconds:
                return
            wait = heartbeat - (now - last_write)
            if max_seconds:
                wait = min(wait, max_seconds - (now - started))
            if probe_again is not None:
                wait = min(wait, probe_again - now)
            events, cursor, dropped = h.wait(cursor, max(0.0, wait))
            if gone is not None and gone.is_set():
                return
            if h.probes != probes or (probe_again is not None and time.monotonic() >= probe_again):
                # The box is full: show whether our client is still there. The first write after a
                # client left may still be accepted (its RST comes back), the second fails.
                again = h.probes != probes
                probes = h.probes
                probe_again = time.monotonic() + eventslots.PROBE_AGAIN if again else None
                yield eventslots.PROBE
            h.feed.touch()
            if dropped:
                yield h.control("dropped", dropped)
                return
            out = [e.text for e in events
                   if (e.type in types and (exts is None or (e.exts & exts))) or e.type in CONTROL]
            if out:
                yield b"".join(out)
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= heartbeat:
                yield b": heartbeat\n\n"
                last_write = time.monotonic()
    finally:
        on_close()


# -- rfapi's own writes ---------------------------------------------------------------
def changed(what: str, action: str, needreload: Optional[bool] = None, **ids: Any) -> None:
    """Announce a successful write to every worker's subscribers (never fails the write):
    ``changed("extension", "created", extension="101", needreload=True)``."""
    try:
        d = runtime().config.paths.cache
        os.makedirs(d, mode=0o750, exist_ok=True)
        j = Journal(d)
        rec: Dict[str, Any] = {"what": what, "action": action}
        rec.update(ids)
        if what == "needreload":
            rec["needreload"] = needreload
        j.append(rec)
        if needreload is not None and what != "needreload":
            j.append({"what": "needreload", "action": "changed", "needreload": needreload})
    except Exception as exc:  # an announcement must never turn a done write into an error
        log.error("could not announce %s %s on the event stream: %s", what, action, exc)
