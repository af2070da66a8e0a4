"""Server-Sent Events: live changes of the PBX (see rfapi/services/events.py)."""
from __future__ import annotations

import re
import socket
from typing import FrozenSet, Optional

from flask import Response, request

from ..params import Param
from ..routing import Resource
from ..runtime import runtime
from ..services import events as svc

resource = Resource("events", "Server-Sent Events: state, presence, registrations, calls, voicemail, "
                              "rfapi's own writes")

# A blocked write to a client that stopped reading ends its stream after this long
# (its thread is then free again); heartbeats keep a healthy idle stream writing.
SEND_TIMEOUT = 30.0
_EXT = re.compile(r"[0-9*#+]{1,20}")


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
    "new, old; **config** (rfapi's own writes, from every worker) what (extension, did, admin, needreload, "
    "reload), action (created, updated, deleted, changed, done, failed) and the key. Control events, whatever "
    "the filter: **resync** (Last-Event-ID unknown or too old, or AMI reconnected: re-read /state) and "
    "**dropped** (the client fell 5,000 events behind; the stream ends). A comment line is sent every "
    "heartbeat (15 s). Reconnect with `Last-Event-ID`: missed events are replayed from a buffer of 10,000 "
    "events / 10 minutes of this worker, else one resync.")


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
                errors=(503,))
def get_events(params):
    cfg = runtime().config
    types: FrozenSet[str] = params.get("types") or frozenset(svc.TYPES)
    exts: Optional[FrozenSet[str]] = params.get("extension")
    last_id = request.headers.get("Last-Event-ID")
    if last_id is not None and (len(last_id) > 100 or not last_id.isprintable()):
        last_id = "?"  # unknown: the stream starts with a resync
    if request.method == "HEAD":  # headers only: a stream nobody reads would hold its thread forever
        return _headers(Response(b"", mimetype="text/event-stream"))
    h = svc.hub()
    h.open()  # 503 when this worker already serves its maximum of streams
    sock = request.environ.get("gunicorn.socket")
    if not isinstance(sock, socket.socket):
        sock = None
    if sock is not None:
        try:
            sock.settimeout(SEND_TIMEOUT)
        except OSError:
            sock = None
    done = []

    def close() -> None:  # from the generator's end or the server's close(), whichever comes first
        if done:
            return
        done.append(1)
        h.leave()
        if sock is not None:
            try:
                sock.settimeout(None)
            except OSError:
                pass

    body = svc.stream(h, types, exts, last_id, cfg.events_heartbeat, cfg.events_max_seconds, close)
    resp = Response(body, mimetype="text/event-stream", direct_passthrough=True)
    resp.call_on_close(close)
    return _headers(resp)


def _headers(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"  # proxies that honour it must not buffer the stream
    return resp
