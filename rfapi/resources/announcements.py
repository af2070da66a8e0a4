"""Announcements (FreePBX announcement module)."""
from __future__ import annotations

from ..routing import Resource
from ..services import announcements as svc

resource = Resource("announcements", "Announcements (FreePBX announcement module)")

ANNOUNCEMENT = {
    "type": "object",
    "required": ["announcement_id", "description", "recording_id", "allow_skip", "post_dest", "return_ivr",
                 "noanswer", "repeat_msg"],
    "properties": {
        "announcement_id": {"type": "integer", "description": "Destination app-announcement-<id>,s,1"},
        "description": {"type": "string", "nullable": True},
        "recording_id": {"type": "integer", "nullable": True,
                         "description": "recordings.id of the message played (see GET /recordings)"},
        "allow_skip": {"type": "integer", "nullable": True, "description": "1 = any key skips the message"},
        "post_dest": {"type": "string", "nullable": True, "description": "Destination after playback"},
        "return_ivr": {"type": "integer", "description": "1 = return to the calling IVR instead of post_dest"},
        "noanswer": {"type": "integer", "description": "1 = play without answering (early media)"},
        "repeat_msg": {"type": "string", "description": "Key that replays the message; '' = none"},
    },
}


@resource.route("/announcements", "GET", summary="Every announcement",
                description="All rows of FreePBX's announcement table, by announcement_id.",
                response={"type": "array", "items": ANNOUNCEMENT}, errors=(503,))
def list_announcements(params):
    return svc.list_announcements()
