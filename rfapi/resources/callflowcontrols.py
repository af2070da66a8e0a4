"""Call flow control toggles (FreePBX daynight module)."""
from __future__ import annotations

from ..params import Param
from ..routing import Resource
from ..services import callflowcontrols as svc

resource = Resource("callflowcontrols", "Call flow control toggles (FreePBX daynight module)")

TOGGLE = {
    "type": "object",
    "required": ["ext", "fc_description", "day", "night", "password", "day_recording_id", "night_recording_id",
                 "timeday", "timenight", "state", "featurecode", "destination"],
    "properties": {
        "ext": {"type": "integer", "description": "Toggle index (0-99), daynight.ext"},
        "fc_description": {"type": "string", "description": "The toggle's name"},
        "day": {"type": "string", "nullable": True, "description": "Destination in normal (DAY) mode"},
        "night": {"type": "string", "nullable": True, "description": "Destination in override (NIGHT) mode"},
        "password": {"type": "string", "description": "Feature-code PIN; '' = none"},
        "day_recording_id": {"type": "integer", "nullable": True,
                             "description": "recordings.id played when switching to DAY (0 = default prompt)"},
        "night_recording_id": {"type": "integer", "nullable": True},
        "timeday": {"type": "array", "items": {"type": "integer"},
                    "description": "timeconditions_id forced true while this toggle is DAY"},
        "timenight": {"type": "array", "items": {"type": "integer"},
                      "description": "timeconditions_id forced false while this toggle is NIGHT"},
        "state": {"type": "string", "enum": ["DAY", "NIGHT", None], "nullable": True,
                  "description": "Current mode from AstDB DAYNIGHT/C<ext>; null if unset or AMI is unreachable"},
        "featurecode": {"type": "string", "nullable": True,
                        "description": "Active toggle code (custom or default, e.g. *280); null if disabled"},
        "destination": {"type": "string", "description": "app-daynight,<ext>,1"},
    },
}


@resource.route("/callflowcontrols", "GET", summary="Every call flow control toggle with its current mode",
                description="The daynight rows grouped per toggle, plus the live mode read with one AMI "
                            "DBGetTree of the DAYNIGHT family. If Asterisk (AMI) is unreachable or times out "
                            "the answer is still 200 from SQL, with state null and the message "
                            "\"" + svc.AMI_DOWN + "\".",
                response={"type": "array", "items": TOGGLE}, errors=(503,))
def list_toggles(params):
    return svc.list_toggles()


def _mode(value: str) -> str:
    v = value.strip().lower()
    if v not in svc.MODES:
        raise ValueError("must be one of: %s" % ", ".join(svc.MODES))
    return v


@resource.route("/callflowcontrols/<index>", "PUT", summary="Switch a call flow control to day or night",
                description="state = day, night or toggle (toggle works like dialling *28<index>: NIGHT "
                            "becomes DAY, anything else NIGHT). Writes what FreePBX's daynight module and its "
                            "feature code write: AstDB DAYNIGHT/C<index> = DAY|NIGHT and the device state "
                            "Custom:DAYNIGHT<index> (NOT_INUSE in day, INUSE in night) that the feature code's "
                            "BLF hint watches. Calls follow the new mode at once, no reload. Answers the toggle "
                            "as GET /callflowcontrols lists it. /events carries the BLF hint change as a state "
                            "event (from Asterisk) and rfapi's write as a config event; the audit log records it.",
                response=TOGGLE, errors=(404, 502, 503, 504),
                path_params={"index": Param("index", required=True, example="0",
                                            description="The toggle's index (0-99), as `ext` in GET "
                                                        "/callflowcontrols")},
                params=[Param("state", required=True, max_length=10, check=_mode,
                              description="day, night or toggle (case-insensitive)", example="night")])
def put_toggle(params, index):
    return svc.set_state(index, params["state"])
