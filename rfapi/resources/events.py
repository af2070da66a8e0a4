"""Server-Sent Events: live changes of the PBX (see rfapi/services/events.py)."""
from __future__ import annotations

import re
import socket
import threading
from typing import FrozenSet, Optional

from flask import Response, request

from ..errors import BadRequest
from ..params import Param
from ..routing import Resource
from ..runtime import runtime
from ..services import events as svc
from ..services.events import slots as eventslots

resource = Resource("events", "Server-Sent Events: state, presence, registrations, calls, voicemail, "
                              "rfapi's own writes")

# A blocked write to a client that stopped reading ends its stream after this long
# (its thread is then free again); heartbeats keep a healthy idle stream writing.
SEND_TIMEOUT = 30.0
_EXT = re.compile(r"[0-9*#+]{1,20}")
_LAST_ID = re.compile(r"[\x20-\x7e]{0,100}")


def _types(value: str) -> FrozenSet[str]:
    items = [v.strip() for v in value.split(",")]
    bad = [v for v in items if v not in svc.TYPES]
    if bad or not items:
        raise ValueError("unknown type %r (allowed: %s)" % ((bad or [""])[0][:40], ", ".join(svc.TYPES)))
    return frozenset(items)


def _extensions(value: str) -> FrozenSet[str]:
    items = [v.strip() for v in value.split(",")]
    for v in items:
        if not _EXT.fullmatch(v):
            raise ValueError("%r is not an extension number" % v[:40])
    if len(items) > 1000:
        raise ValueError("at most 1000 extensions")
    return frozenset(items)


EVENT_DOC = (
    "Each event: `id: <worker origin>-<n>`, `event: <type>`, `data: <JSON object>` with `type`, `time` "
    "(UTC ISO 8601) and: **state** (ExtensionStatus) extension, context, hint, state, status, status_text; "
    "**presence** (PresenceStateChange) extension, presentity, state, subtype, message; **registrations** "
    "(PJSIP ContactStatus / chan_sip PeerStatus) extension, tech, status, registered, aor, uri, "
    "roundtrip_usec / address; **calls** (Newchannel, DialBegin, DialEnd, BridgeEnter, Hangup) call "
    "(start, ring, answer, end), linkedid, caller, caller_name, callee, did, direction (inbound, outbound, "
    "internal), ringing/answered_by, cause on end; **voicemail** (MessageWaiting) extension, mailbox, waiting, "
    "new, old; **config** (rfapi's own writes, from every worker) what (extension, did, admin, followme, "
    "needreload, reload), action (created, updated, deleted, imported, changed, done, failed) and the key; a "
    "write that sets need-reload is followed by a needreload event (docs/events.md). Control events, whatever "
    "the filter: **resync** (Last-Event-ID unknown or too old, or AMI reconnected: re-read /state) and "
    "**dropped** (the client fell 5,000 events behind; the stream ends). A comment line is sent every "
    "heartbeat (15 s). Reconnect with `Last-Event-ID`: missed events are replayed from a buffer of 10,000 "
    "events / 10 minutes of this worker, else one resync. The PBX serves workers x RFAPI_EVENT_STREAMS "
    "streams (256 by default) whichever worker each lands on; beyond that 503 with Retry-After.")


def _list_of(item: str) -> str:
    """A comma-separated list of items (spaces around them allowed), as a pattern."""
    return r" *(?:{0}) *(?:, *(?:{0}) *)*".format(item)


@resource.route("/events", "GET", summary="Server-Sent Events stream of PBX changes",
                description=EVENT_DOC,
                params=[Param("types", max_length=200, check=_types, pattern=_list_of("|".join(map(re.escape, svc.TYPES))),
                              description="comma-separated: %s (default: all)" % ", ".join(svc.TYPES)),
                        Param("extension", max_length=4000, check=_extensions, pattern=_list_of(_EXT.pattern),
                              description="comma-separated extension numbers: only events about them "
                                          "(events about no extension, e.g. a DID write, are left out)")],
                response={"type": "string", "description": "text/event-stream"}, produces="text/event-stream",
                errors=(503,), scope="events")
def get_events(params):
    cfg = runtime().config
    types: FrozenSet[str] = params.get("types") or frozenset(svc.TYPES)
    exts: Optional[FrozenSet[str]] = params.get("extension")
    last_id = request.headers.get("Last-Event-ID")
    if last_id is not None and not _LAST_ID.fullmatch(last_id):
        # Ids this server sends are short printable ASCII; anything else was not one of them.
        # (A well-formed id this worker does not know gets a resync, not an error.)
        raise BadRequest({"Last-Event-ID": "must be an event id from this stream (at most 100 printable "
                                           "ASCII characters)"})
    if request.method == "HEAD":  # headers only: a stream nobody reads would hold its thread forever
        return _headers(Response(b"", mimetype="text/event-stream"))
    h = svc.hub()
    h.open(eventslots.OPEN_WAIT)  # 503 (Retry-After) when the box serves its maximum of streams
    sock = request.environ.get("gunicorn.socket") or request.environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        sock = None
    if sock is not None:
        try:
            sock.settimeout(SEND_TIMEOUT)
        except OSError:
            sock = None
    done = []
    gone = threading.Event()

    def client_left() -> None:  # the watch thread saw the client close the connection
        gone.set()
        h.wake()

    def close() -> None:  # from the generator's end or the server's close(), whichever comes first
        if done:
            return
        done.append(1)
        if sock is not None:
            eventslots.watch().unwatch(sock)
        h.leave()
        if sock is not None:
            try:
                sock.settimeout(None)
            except OSError:
                pass

    if sock is not None:
        eventslots.watch().watch(sock, client_left)
    body = svc.stream(h, types, exts, last_id, cfg.events_heartbeat, cfg.events_max_seconds, close, gone)
    resp = Response(body, mimetype="text/event-stream", direct_passthrough=True)
    resp.call_on_close(close)
    return _headers(resp)


def _headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # proxies that honour it must not buffer the stream
    return resp
