"""Ring groups."""
from __future__ import annotations

from ..routing import Resource
from ..services import ringgroups as svc

resource = Resource("ringgroups", "Ring groups")

NS = {"type": "string", "nullable": True}
REC = {"type": "integer", "nullable": True, "description": "recordings.id"}
CHECKED = {"type": "string", "nullable": True, "description": "'CHECKED' or ''"}

RINGGROUP = {
    "type": "object",
    "required": ["grpnum", "strategy", "grptime", "grppre", "grplist", "annmsg_id", "postdest", "description",
                 "alertinfo", "remotealert_id", "needsconf", "toolate_id", "ringing", "cwignore", "cfignore",
                 "cpickup", "recording", "progress", "elsewhere", "rvolume"],
    "properties": {
        "grpnum": {"type": "string", "description": "Ring group number; destination ext-group,<grpnum>,1"},
        "strategy": {"type": "string", "description": "ringall, ringall-prim, hunt, hunt-prim, memoryhunt, "
                                                      "memoryhunt-prim, firstavailable, firstnotonphone, random"},
        "grptime": {"type": "integer", "description": "Ring time, seconds"},
        "grppre": NS,
        "grplist": {"type": "array", "items": {"type": "string"},
                    "description": "Members in order; a trailing # marks an external number"},
        "annmsg_id": REC,
        "postdest": {"type": "string", "nullable": True, "description": "Destination if nobody answers"},
        "description": {"type": "string"},
        "alertinfo": NS,
        "remotealert_id": REC,
        "needsconf": CHECKED,
        "toolate_id": REC,
        "ringing": {"type": "string", "nullable": True, "description": "Ring, inherit or a MoH class"},
        "cwignore": CHECKED, "cfignore": CHECKED, "cpickup": CHECKED,
        "recording": {"type": "string", "nullable": True, "description": "force, yes, dontcare, no, never"},
        "progress": {"type": "string", "nullable": True, "description": "yes / no"},
        "elsewhere": {"type": "string", "nullable": True, "description": "yes / no"},
        "rvolume": {"type": "string"},
    },
}


@resource.route("/ringgroups", "GET", summary="Every ring group with its strategy, ring time and members",
                description="All rows of FreePBX's ringgroups table by number; grplist split on '-'.",
                response={"type": "array", "items": RINGGROUP}, errors=(503,))
def list_ringgroups(params):
    return svc.list_ringgroups()
