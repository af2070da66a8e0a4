"""Device state and presence."""
from __future__ import annotations

from ..http import reply_json
from ..routing import Resource
from ..services import state

resource = Resource("state", "Device state and presence")

PRESENCE = {"type": "object", "nullable": True, "properties": {
    "state": {"type": "string", "description": "available, away, xa, chat, dnd, unavailable"},
    "subtype": {"type": "string"}, "message": {"type": "string"}}}

STATE = {
    "type": "object",
    "required": ["extension", "state", "status", "hint", "presence", "refreshed_at", "live"],
    "properties": {
        "extension": {"type": "string"},
        "name": {"type": "string"},
        "tech": {"type": "string", "enum": ["pjsip", "sip"]},
        "state": {"type": "string", "description": "idle, inuse, busy, unavailable, ringing, onhold, "
                                                   "inuse&ringing, inuse&onhold, unknown (no hint)"},
        "status": {"type": "integer", "description": "Asterisk's numeric extension state (-1: no hint)"},
        "status_text": {"type": "string", "description": "Asterisk's StatusText"},
        "hint": {"type": "string", "nullable": True},
        "context": {"type": "string", "nullable": True},
        "presence": PRESENCE,
        "refreshed_at": {"type": "string", "description":
                         "UTC time (ISO 8601, ms) of this state: with live, when Asterisk last reported it "
                         "(the feed's seed after it connected, or a later ExtensionStatus/PresenceStateChange "
                         "event); it stays current while live, so this is not an age. Without live: the time "
                         "of this answer"},
        "live": {"type": "boolean", "description":
                 "true: answered from the event-fed state table (no AMI action sent); false: asked Asterisk "
                 "for this answer (the table is not live yet or AMI is reconnecting; GET /state/<ext> "
                 "always asks)"},
    },
}


@resource.route("/state", "GET", summary="State and presence of every SIP extension",
                description="From the live state table kept current by AMI events (ExtensionStatus, "
                            "PresenceStateChange) on a dedicated connection: no AMI action per request. The "
                            "first request of a worker starts that feed and waits for its seed (one "
                            "ExtensionStateList, plus one PresenceStateList when a hint names a presence "
                            "provider, on the feed connection). While the table is not live (AMI down or "
                            "reconnecting) the answer is asked on demand with those same two actions "
                            "(live: false); AMI unreachable: 503.",
                response={"type": "array", "items": STATE}, errors=(502, 503, 504))
def get_states(params):
    return reply_json(state.all_states_json())


@resource.route("/state/<ext>", "GET", summary="State and presence of one SIP extension",
                response=STATE, errors=(404, 502, 503, 504), path_params={"ext": "the extension"})
def get_state(params, ext):
    return state.one_state(ext)
