"""SIP registrations."""
from __future__ import annotations

from ..http import reply_json
from ..routing import Resource
from ..services import registrations

resource = Resource("registrations", "SIP registrations")

CONTACT = {
    "type": "object",
    "properties": {
        "uri": {"type": "string", "nullable": True},
        "ip": {"type": "string", "nullable": True},
        "port": {"type": "integer", "nullable": True},
        "via_addr": {"type": "string", "nullable": True},
        "via_port": {"type": "integer", "nullable": True},
        "user_agent": {"type": "string", "nullable": True},
        "status": {"type": "string", "description": "PJSIP: Reachable, Unreachable, NonQualified, ...; "
                                                    "chan_sip: OK (n ms), LAGGED (n ms), UNREACHABLE, ..."},
        "rtt_ms": {"type": "number", "nullable": True},
        "expires_at": {"type": "integer", "nullable": True, "description": "Unix time the registration ends"},
        "expires_in": {"type": "integer", "nullable": True, "description": "seconds left"},
        "qualify_frequency": {"type": "integer", "nullable": True},
    },
}

REGISTRATION = {
    "type": "object",
    "required": ["extension", "tech", "registered", "status", "contacts"],
    "properties": {
        "extension": {"type": "string"},
        "name": {"type": "string"},
        "tech": {"type": "string", "enum": ["pjsip", "sip"]},
        "registered": {"type": "boolean"},
        "status": {"type": "string", "description": "best contact status; unregistered; unknown (chan_sip "
                                                    "missing from this Asterisk)"},
        "contacts": {"type": "array", "items": CONTACT},
        "note": {"type": "string"},
    },
}


@resource.route("/registrations", "GET", summary="Registration of every SIP extension",
                description="PJSIPShowContacts (one list) for chan_pjsip devices; SIPpeers (one list) plus "
                            "SIPshowpeer per registered peer for chan_sip devices.",
                response={"type": "array", "items": REGISTRATION}, errors=(502, 503, 504))
def get_registrations(params):
    return reply_json(registrations.all_registrations_json())


@resource.route("/registrations/<ext>", "GET", summary="Registration of one SIP extension",
                response=REGISTRATION, errors=(404, 502, 503, 504), path_params={"ext": "the extension"})
def get_registration(params, ext):
    return registrations.one_registration(ext)
