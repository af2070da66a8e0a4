"""What an event is: the filter names, the SSE frame's parts, and the small parsers the
translators share."""
from __future__ import annotations

import os
import re
import time
from typing import FrozenSet, NamedTuple, Optional



# Filter names (?types=) and the SSE event name of each; control events (resync,
# dropped) are sent whatever the filter.
TYPES = ("state", "presence", "registrations", "calls", "voicemail", "config")
CONTROL = ("resync", "dropped")
AMI_EVENTS = ("ExtensionStatus", "PresenceStateChange", "ContactStatus", "PeerStatus", "Newchannel",
              "DialBegin", "DialEnd", "BridgeEnter", "Hangup", "MessageWaiting")
AMI_MASK = "call,system"  # ContactStatus / PeerStatus are "system" events, the rest "call"
# Trunk contexts of FreePBX: a call whose first channel starts there is inbound.
INBOUND_CONTEXTS = ("from-trunk", "from-pstn", "from-did-direct", "from-sip-external")
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


def as_int(v: Optional[str], default: int = 0) -> int:
    try:
        return int((v or "").strip())
    except ValueError:
        return default


def known(v: Optional[str]) -> Optional[str]:
    v = (v or "").strip()
    return None if v in ("", "<unknown>", "s") else v


def device_extension(channel: Optional[str]) -> Optional[str]:
    """``PJSIP/101-0000002a`` / ``SIP/201`` -> the extension, else None."""
    m = _DEVICE.match((channel or "").strip())
    return m.group(1) if m else None
