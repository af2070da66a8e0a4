"""The AMI client rfapi's services use: one shared logged-in request connection per
process (``Events: off``), one action in flight at a time, every wait bounded.

pyst2 matches replies by arrival order and cannot reconnect; this class sends one
action at a time under a lock, reconnects with a brand-new ``Manager`` after any
loss (at most once per ``RETRY_AFTER``), and never shares a socket across a fork
(gunicorn preload). AstDB goes through DBGet/DBGetTree/DBPut/DBDel/DBDelTree,
never through Command output."""
from __future__ import annotations

import os
import threading
import time
from typing import Callable, Dict, Iterable, List, Optional, Tuple

from .errors import AmiError, AmiTimeout, AmiUnavailable
from .feed import EventFeed
from .pyst2patch import Manager, login
from .wire import Headers, Message, check_field, header_pairs, list_complete, shutting_down


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
        self._mgr: Optional[Manager] = None
        self._failed_at = 0.0
        self._failure = ""
        self._connecting = False     # a (re)connect holds the turn
        self._pid = os.getpid()
        self.connects = 0
        self._feeds: Dict[str, "EventFeed"] = {}
        self._feeds_lock = threading.Lock()

    # -- connection ------------------------------------------------------------
    def _login(self, events: str) -> Manager:
        host, port, user, secret = self._params()
        mgr = Manager()
        mgr.connect(host, port, timeout=min(self.timeout, 5.0))
        login(mgr, user, secret, events, self.timeout)
        self.connects += 1
        return mgr

    def _manager(self) -> Manager:
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

    def _drop(self, mgr: Manager) -> None:
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
        pairs = [("Action", check_field("Action", name))] + header_pairs(headers, {})
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
            col = mgr.collect(aid, list_complete) if collect else None
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
                items = [m for m in col.items if not list_complete(m)]
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
        pairs = [("Action", "Originate")] + header_pairs(headers, {})
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
