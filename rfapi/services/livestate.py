"""The live state table: extension and presence state kept current by AMI events,
so ``GET /state`` answers from memory without sending an action.

One table per app and process (gunicorn workers each have their own), fed by the
AMI adapter's ``EventFeed`` ("livestate"): a dedicated connection logged in with
``Events: call`` (ExtensionStatus and PresenceStateChange are ``call`` events).
Started on first use, never at import or app creation. After each (re)login the
feed seeds the table on that same connection with ``ExtensionStateList`` and, when
a hint names a presence provider (FreePBX's ``,CustomPresence:<ext>``),
``PresenceStateList``; then ExtensionStatus / PresenceStateChange events update it.
Every event and every list carries the feed's wire-order number, and a row is only
replaced by something newer, so an event that crosses a seed is never lost or
overwritten by the older list.

DeviceStateChange is not used for the table: Asterisk follows every device change
that matters to a hint with an ExtensionStatus carrying the aggregated state, and a
dialplan reload re-announces every hint the same way (reload-action.txt), so new or
changed hints arrive as events too. It is only read for the login probe
(PROBE_DEVICE below): the table is live only if call events reach this user.

The table is *live* while the feed is connected and seeded on its current
connection; otherwise ``view()`` returns None and the caller uses the on-demand
path. Memory is bounded by ``MAX_ROWS`` per table (beyond it the table stops being
live rather than grow)."""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Dict, NamedTuple, Optional

from ..adapters.ami import AmiError, EventFeed, Message
from ..runtime import runtime

log = logging.getLogger("rfapi.livestate")

FEED = "livestate"
EVENTS = ("ExtensionStatus", "PresenceStateChange", "DeviceStateChange")
# The table is live only if call-class events reach this AMI user. Found on a real
# Asterisk: a user without the "call" read class logs in with Events: call, seeds
# the table from ExtensionStateList (reporting class) and then never receives an
# ExtensionStatus: a table claiming "live" would be stale forever. Each (re)login
# probes by setting this custom device state and waiting for its DeviceStateChange.
PROBE_DEVICE = "Custom:rfapi-feed"
PROBE_WAIT = 2.0


class Hint(NamedTuple):
    seq: int                  # feed wire-order number of the event or list it came from
    at: float                 # wall-clock time it was recorded
    fields: Dict[str, str]    # Exten, Context, Hint, Status, StatusText (as Asterisk sent them)


class Presence(NamedTuple):
    seq: int
    at: float
    fields: Dict[str, str]    # Presentity, Status, Subtype, Message


class View(NamedTuple):
    """A snapshot: exten -> {context: Hint}, presentity -> Presence (rows are immutable,
    a change replaces them), and ``memo``: the reader's per-extension cache, shared by
    every View of the table (the reader keys it by the rows it was computed from)."""
    hints: Dict[str, Dict[str, Hint]]
    presence: Dict[str, Presence]
    seeded_at: float
    memo: Dict[str, Any]
    changes: int = 0          # bumped by every applied event and seed: equal counts, equal tables


def names_provider(hint: Optional[str]) -> bool:
    return "," in (hint or "") and bool(hint.split(",", 1)[1].strip())


def _fields(msg: Message, keys) -> Dict[str, str]:
    return {k: msg.get(k) or "" for k in keys}


_HINT_KEYS = ("Exten", "Context", "Hint", "Status", "StatusText")
_PRESENCE_KEYS = ("Presentity", "Status", "Subtype", "Message")


class LiveState:
    MAX_ROWS = 50000  # hints and presentities each; a FreePBX has one hint per extension

    def __init__(self, feed_factory):
        self._lock = threading.Lock()
        self._hints: Dict[str, Dict[str, Hint]] = {}
        self._nhints = 0
        self._presence: Dict[str, Presence] = {}
        self._seeded_gen = -1       # feed generation the table was seeded on
        self._presence_gen = -1     # feed generation whose seed listed presence
        self._wants_presence = False
        self._overflow = False
        self._seeded_at = 0.0
        self._memo: Dict[str, Any] = {}
        self._changes = 0
        self._probe_seen = threading.Event()
        self._call_events = True    # the last probe saw its event
        self._probed_gen = -1       # feed generation (login) that probe ran on
        self._warned = False
        self.feed: EventFeed = feed_factory(self._on_event, self._seed)

    # -- reading -----------------------------------------------------------------
    def live(self) -> bool:
        gen = self.feed.generation
        return (self.feed.ready() and self._call_events and not self._overflow and self._seeded_gen == gen
                and (not self._wants_presence or self._presence_gen == gen))

    def has_hint(self, exten: str) -> bool:
        """Whether Asterisk has a hint for ``exten`` (i.e. it is an extension), seeded or not."""
        return exten in self._hints  # a dict read: rows are replaced, never changed in place

    def view(self) -> Optional[View]:
        """The table if it is live, else None."""
        self.feed.touch()
        with self._lock:
            if not self.live():
                return None
            if len(self._memo) > 2 * self.MAX_ROWS:
                self._memo = {}
            return View(dict(self._hints), dict(self._presence), self._seeded_at, self._memo, self._changes)

    # -- feeding (feed threads) ------------------------------------------------------
    def _on_event(self, msg: Message, seq: int) -> None:
        name = msg.get("Event")
        now = time.time()
        if name == "ExtensionStatus":
            f = _fields(msg, _HINT_KEYS)
            exten, ctx = f["Exten"], f["Context"]
            reseed = False
            with self._lock:
                by_ctx = self._hints.get(exten, {})
                cur = by_ctx.get(ctx)
                if cur is not None and cur.seq > seq:
                    return
                new = dict(by_ctx)  # copy on write: a View shares the inner dicts
                if f["Status"].strip() == "-2":  # AST_EXTENSION_REMOVED: the hint is gone
                    if cur is None:
                        return
                    del new[ctx]
                    self._nhints -= 1
                else:
                    if cur is None:
                        if self._nhints >= self.MAX_ROWS:
                            self._overflow = True
                            return
                        self._nhints += 1
                    new[ctx] = Hint(seq, now, f)
                if new:
                    self._hints[exten] = new
                else:
                    self._hints.pop(exten, None)
                self._changes += 1
                if names_provider(f["Hint"]) and not self._wants_presence:
                    self._wants_presence = True
                    reseed = self._presence_gen != self.feed.generation
            if reseed:  # a provider appeared after a seed that did not list presence
                self.feed.reseed()
        elif name == "DeviceStateChange":
            if msg.get("Device") == PROBE_DEVICE:
                self._probe_seen.set()
        elif name == "PresenceStateChange":
            f = _fields(msg, _PRESENCE_KEYS)
            with self._lock:
                cur = self._presence.get(f["Presentity"])
                if cur is not None and cur.seq > seq:
                    return
                if cur is None and len(self._presence) >= self.MAX_ROWS:
                    self._overflow = True
                    return
                self._presence[f["Presentity"]] = Presence(seq, now, f)
                self._changes += 1

    def _call_events_arrive(self, feed: EventFeed) -> bool:
        """Set PROBE_DEVICE to INUSE then NOT_INUSE (at least one is a change) and wait
        for a DeviceStateChange of it on this connection."""
        self._probe_seen.clear()
        for value in ("INUSE", "NOT_INUSE"):
            resp, _, _ = feed.list_action("Setvar", [("Variable", "DEVICE_STATE(%s)" % PROBE_DEVICE),
                                                     ("Value", value)])
            if not resp.ok:
                return False   # no "call" write class: assume no call events either
        return self._probe_seen.wait(min(PROBE_WAIT, feed.timeout))

    def _seed(self, feed: EventFeed) -> None:
        """on_connect: check that call events arrive, list everything on the feed
        connection, then merge."""
        if self._probed_gen != feed.generation:   # once per login; a reseed lists again only
            self._call_events = self._call_events_arrive(feed)
            self._probed_gen = feed.generation
        ok = self._call_events
        if not ok:
            if not self._warned:
                log.warning("AMI user gets no call events (no 'call' read class?): /state asks Asterisk "
                            "on every request instead of answering from the live table")
                self._warned = True
            return
        resp, items, seq = feed.list_action("ExtensionStateList")
        if not resp.ok or not seq:
            raise AmiError("Asterisk refused ExtensionStateList: %s" % (resp.get("Message") or "").strip())
        listed: Dict[str, Dict[str, Dict[str, str]]] = {}
        for ev in items:
            if ev.get("Event") == "ExtensionStatus":
                f = _fields(ev, _HINT_KEYS)
                listed.setdefault(f["Exten"], {})[f["Context"]] = f
        providers = any(names_provider(f["Hint"]) for ctxs in listed.values() for f in ctxs.values())
        plisted: Optional[Dict[str, Dict[str, str]]] = None
        pseq = 0
        if providers:
            presp, pitems, pseq = feed.list_action("PresenceStateList")
            if not presp.ok or not pseq:
                raise AmiError("Asterisk refused PresenceStateList: %s" % (presp.get("Message") or "").strip())
            plisted = {}
            for ev in pitems:
                if ev.get("Event") == "PresenceStateChange":
                    f = _fields(ev, _PRESENCE_KEYS)
                    plisted[f["Presentity"]] = f
        now = time.time()
        with self._lock:
            hints: Dict[str, Dict[str, Hint]] = {}
            for exten, ctxs in listed.items():
                old = self._hints.get(exten, {})
                row = {}
                for ctx, f in ctxs.items():
                    cur = old.get(ctx)
                    row[ctx] = cur if cur is not None and cur.seq > seq else Hint(seq, now, f)
                hints[exten] = row
            for exten, ctxs in self._hints.items():  # announced by an event after the list was taken
                for ctx, cur in ctxs.items():
                    if cur.seq > seq and ctx not in hints.get(exten, {}):
                        hints.setdefault(exten, {})[ctx] = cur
            self._nhints = sum(len(c) for c in hints.values())
            self._hints = hints
            if plisted is not None:
                presence = {p: (self._presence[p] if p in self._presence and self._presence[p].seq > pseq
                                else Presence(pseq, now, f)) for p, f in plisted.items()}
                presence.update({p: cur for p, cur in self._presence.items() if cur.seq > pseq and p not in presence})
                self._presence = presence
                self._presence_gen = feed.generation
            else:
                self._presence = {p: cur for p, cur in self._presence.items() if cur.seq > seq}
            self._wants_presence = providers or any(names_provider(h.fields["Hint"])
                                                    for ctxs in hints.values() for h in ctxs.values())
            self._overflow = self._nhints > self.MAX_ROWS or len(self._presence) > self.MAX_ROWS
            self._seeded_gen = feed.generation
            self._seeded_at = now
            self._changes += 1
        if self._wants_presence and plisted is None:
            feed.reseed()  # a provider arrived by event while listing: list presence too


def table() -> LiveState:
    """This app's table in this process (built by the app factory's recipe on first use;
    its feed is not started here)."""
    return runtime().live.get()


def build(ami) -> LiveState:
    """A new table over this AMI connection's event feed (the app factory's recipe)."""
    return LiveState(lambda on_event, on_connect: ami.subscribe(FEED, EVENTS, on_event, on_connect))


def current(wait: float) -> Optional[View]:
    """The live table, or None (then answer on demand). Starts the feed on first use
    and waits up to ``wait`` s for its seed, so a process's first request sends only
    the seed's lists. While the feed is recovering from a loss or a failure the
    request does not wait for it (a reconnect to an unreachable host could take the
    whole timeout; the on-demand path fails or succeeds on its own) but pokes it."""
    ls = table()
    v = ls.view()
    if v is not None:
        return v
    feed = ls.feed
    failing = feed.failing
    if feed.poke() and not failing and feed.wait_ready(wait):
        return ls.view()
    return None
