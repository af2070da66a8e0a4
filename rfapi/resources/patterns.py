"""Outbound routes and dial patterns."""
from __future__ import annotations

from ..routing import Resource
from ..services import patterns as svc

resource = Resource("patterns", "Outbound routes and dial patterns")

NS = {"type": "string", "nullable": True}

PATTERN = {
    "type": "object",
    "required": ["match_pattern_prefix", "match_pattern_pass", "match_cid", "prepend_digits"],
    "properties": {
        "match_pattern_prefix": {"type": "string", "description": "Matched, then stripped before dialling"},
        "match_pattern_pass": {"type": "string", "description": "Rest of the pattern, Asterisk syntax, no '_'"},
        "match_cid": {"type": "string", "description": "Caller-ID pattern; '' = any"},
        "prepend_digits": {"type": "string"},
    },
}

TRUNK = {
    "type": "object",
    "required": ["trunk_id", "seq", "name", "tech", "disabled"],
    "properties": {
        "trunk_id": {"type": "integer"},
        "seq": {"type": "integer", "description": "Failover order, lowest first"},
        "name": {"type": "string", "nullable": True, "description": "trunks.name (null: trunk missing)"},
        "tech": {"type": "string", "nullable": True},
        "disabled": {"type": "string", "nullable": True, "description": "'on' / 'off'"},
    },
}

ROUTE = {
    "type": "object",
    "required": ["route_id", "name", "outcid", "outcid_mode", "password", "emergency_route", "intracompany_route",
                 "mohclass", "time_group_id", "dest", "time_mode", "calendar_id", "calendar_group_id", "timezone",
                 "notification_on", "seq", "patterns", "trunks"],
    "properties": {
        "route_id": {"type": "integer"},
        "name": NS,
        "outcid": NS,
        "outcid_mode": {"type": "string", "nullable": True, "description": "'' or override_extension"},
        "password": {"type": "string", "nullable": True, "description": "Route PIN"},
        "emergency_route": {"type": "string", "nullable": True, "description": "'YES' or ''"},
        "intracompany_route": {"type": "string", "nullable": True, "description": "'YES' or ''"},
        "mohclass": NS,
        "time_group_id": {"type": "integer", "nullable": True, "description": "timegroups_groups.id"},
        "dest": {"type": "string", "nullable": True, "description": "Destination on congestion; '' = normal"},
        "time_mode": NS,
        "calendar_id": NS,
        "calendar_group_id": NS,
        "timezone": NS,
        "notification_on": NS,
        "seq": {"type": "integer", "nullable": True,
                "description": "outbound_route_sequence.seq; null = not in the sequence (never dialled)"},
        "patterns": {"type": "array", "items": PATTERN},
        "trunks": {"type": "array", "items": TRUNK, "description": "In failover order"},
    },
}


@resource.route("/patterns/outbound", "GET", summary="Outbound routes in sequence order",
                description="outbound_routes in dial order (outbound_route_sequence.seq), each with its dial "
                            "patterns (ordered by prefix, then pattern) and its trunks in failover order.",
                response={"type": "array", "items": ROUTE}, errors=(503,))
def outbound_routes(params):
    return svc.outbound_routes()
