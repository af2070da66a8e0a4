"""IVRs and their entries."""
from __future__ import annotations

from ..routing import Resource
from ..services import ivrs as svc

resource = Resource("ivrs", "IVRs and their entries")


def _s(description: str = "", nullable: bool = True):
    s = {"type": "string", "nullable": nullable}
    if description:
        s["description"] = description
    return s


def _i(description: str = "", nullable: bool = False):
    s = {"type": "integer"}
    if nullable:
        s["nullable"] = True
    if description:
        s["description"] = description
    return s


ENTRY = {
    "type": "object",
    "required": ["selection", "dest", "ivr_ret"],
    "properties": {
        "selection": _s("Key sequence the caller dials"),
        "dest": _s("Destination"),
        "ivr_ret": _i("1 = return to the calling IVR instead of dest"),
    },
}

IVR = {
    "type": "object",
    "required": ["id", "name", "description", "announcement", "directdial", "invalid_loops",
                 "invalid_retry_recording", "invalid_destination", "timeout_enabled", "invalid_recording", "retvm",
                 "timeout_time", "timeout_recording", "timeout_retry_recording", "timeout_destination",
                 "timeout_loops", "timeout_append_announce", "invalid_append_announce", "timeout_ivr_ret",
                 "invalid_ivr_ret", "alertinfo", "rvolume", "strict_dial_timeout", "accept_pound_key", "entries"],
    "properties": {
        "id": _i("Destination ivr-<id>,s,1"),
        "name": _s(),
        "description": _s(),
        "announcement": _i("recordings.id of the menu prompt", nullable=True),
        "directdial": _s("''/Disabled = off, ext-local = any extension, or a directory id"),
        "invalid_loops": _s("Retries, or 'disabled'"),
        "invalid_retry_recording": _s("'default', '' (none) or a recordings.id"),
        "invalid_destination": _s(),
        "timeout_enabled": _s(),
        "invalid_recording": _s("'default', '' (none) or a recordings.id"),
        "retvm": _s("Return to the IVR after voicemail"),
        "timeout_time": _i("Seconds", nullable=True),
        "timeout_recording": _s("'default', '' (none) or a recordings.id"),
        "timeout_retry_recording": _s("'default', '' (none) or a recordings.id"),
        "timeout_destination": _s(),
        "timeout_loops": _s("Retries, or 'disabled'"),
        "timeout_append_announce": _i("1 = replay the menu after the retry prompt"),
        "invalid_append_announce": _i("1 = replay the menu after the retry prompt"),
        "timeout_ivr_ret": _i("1 = return to the calling IVR on timeout"),
        "invalid_ivr_ret": _i("1 = return to the calling IVR on invalid input"),
        "alertinfo": _s(),
        "rvolume": _s(nullable=False),
        "strict_dial_timeout": _i("0 No, 1 Yes, 2 No - Legacy"),
        "accept_pound_key": _i(),
        "entries": {"type": "array", "items": ENTRY,
                    "description": "Menu entries in FreePBX's order (numeric value of the selection)"},
    },
}


@resource.route("/ivrs", "GET", summary="Every IVR with its entries",
                description="ivr_details rows by id, each with its ivr_entries nested in FreePBX's order "
                            "(ORDER BY selection + 0, i.e. by the numeric value of the key).",
                response={"type": "array", "items": IVR}, errors=(503,))
def list_ivrs(params):
    return svc.list_ivrs()
