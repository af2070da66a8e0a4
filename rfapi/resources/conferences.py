"""Conferences (FreePBX conferences/meetme)."""
from __future__ import annotations

from ..routing import Resource
from ..services import conferences as svc

resource = Resource("conferences", "Conferences (FreePBX conferences/meetme)")

CONFERENCE = {
    "type": "object",
    "required": ["exten", "options", "userpin", "adminpin", "description", "joinmsg_id", "music", "users",
                 "language", "timeout"],
    "properties": {
        "exten": {"type": "string", "description": "Room number; destination ext-meetme,<exten>,1"},
        "options": {"type": "string", "nullable": True,
                    "description": "MeetMe-style option letters, each once (r = record, x = end when the "
                                   "leader leaves, I = announce join/leave, ...)"},
        "userpin": {"type": "string", "nullable": True},
        "adminpin": {"type": "string", "nullable": True},
        "description": {"type": "string", "nullable": True},
        "joinmsg_id": {"type": "integer", "nullable": True, "description": "recordings.id played on join"},
        "music": {"type": "string", "nullable": True, "description": "Music-on-hold class"},
        "users": {"type": "integer", "nullable": True, "description": "Maximum participants; 0 = unlimited"},
        "language": {"type": "string"},
        "timeout": {"type": "integer", "nullable": True, "description": "Seconds"},
    },
}


@resource.route("/conferences", "GET", summary="Every conference with its options",
                description="All rows of FreePBX's meetme table, by room number.",
                response={"type": "array", "items": CONFERENCE}, errors=(503,))
def list_conferences(params):
    return svc.list_conferences()
