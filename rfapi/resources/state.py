"""Device state and presence."""
from __future__ import annotations

from ..routing import Resource
from ..services import state

resource = Resource("state", "Device state and presence")

PRESENCE = {"type": "object", "nullable": True, "properties": {
    "state": {"type": "string", "description": "available, away, xa, chat, dnd, unavailable"},
    "subtype": {"type": "string"}, "message": {"type": "string"}}}

STATE = {
    "type": "object",
    "required": ["extension", "state", "status", "hint", "presence"],
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
    },
}


@resource.route("/state", "GET", summary="State and presence of every SIP extension",
                description="One ExtensionStateList, plus one PresenceStateList when a hint names a "
                            "presence provider: at most two AMI round trips.",
                response={"type": "array", "items": STATE}, errors=(502, 503, 504))
def get_states(params):
    return state.all_states()


@resource.route("/state/<ext>", "GET", summary="State and presence of one SIP extension",
                response=STATE, errors=(404, 502, 503, 504), path_params={"ext": "the extension"})
def get_state(params, ext):
    return state.one_state(ext)
