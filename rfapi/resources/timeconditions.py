"""Time conditions and time groups."""
from __future__ import annotations

from ..routing import Resource
from ..services import timeconditions as svc

resource = Resource("timeconditions", "Time conditions and time groups")

NS = {"type": "string", "nullable": True}
NI = {"type": "integer", "nullable": True}

TIMEGROUP = {
    "type": "object",
    "nullable": True,
    "required": ["id", "description", "times"],
    "description": "The time group named by `time` (timegroups_groups); null if it does not exist",
    "properties": {
        "id": {"type": "integer"},
        "description": {"type": "string"},
        "times": {"type": "array", "description": "timegroups_details rows by id",
                  "items": {"type": "object", "required": ["id", "time"], "properties": {
                      "id": {"type": "integer"},
                      "time": {"type": "string",
                               "description": "<hh:mm-hh:mm>|<weekdays>|<month days>|<months>, * = any"}}}},
    },
}

TIMECONDITION = {
    "type": "object",
    "required": ["timeconditions_id", "displayname", "time", "truegoto", "falsegoto", "deptname", "generate_hint",
                 "invert_hint", "fcc_password", "priority", "timezone", "mode", "calendar_id", "calendar_group_id",
                 "timegroup"],
    "properties": {
        "timeconditions_id": {"type": "integer", "description": "Destination timeconditions,<id>,1"},
        "displayname": NS,
        "time": {"type": "integer", "nullable": True, "description": "timegroups_groups.id"},
        "truegoto": {"type": "string", "nullable": True, "description": "Destination when the time matches"},
        "falsegoto": {"type": "string", "nullable": True, "description": "Destination otherwise"},
        "deptname": NS,
        "generate_hint": NI,
        "invert_hint": NI,
        "fcc_password": NS,
        "priority": NS,
        "timezone": {"type": "string", "nullable": True, "description": "''/default = system zone"},
        "mode": {"type": "string", "nullable": True, "description": "time-group or calendar-group"},
        "calendar_id": NS,
        "calendar_group_id": NS,
        "timegroup": TIMEGROUP,
    },
}


@resource.route("/timeconditions", "GET", summary="Every time condition with its time group and rules",
                description="timeconditions rows by id; `timegroup` nests the group named by `time` and its "
                            "rules (timegroups_details).",
                response={"type": "array", "items": TIMECONDITION}, errors=(503,))
def list_timeconditions(params):
    return svc.list_timeconditions()
