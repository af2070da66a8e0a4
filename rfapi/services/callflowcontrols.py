"""Call flow control toggles (FreePBX daynight): SQL settings plus the live mode.

The mode lives only in AstDB (``DAYNIGHT/C<index>`` = DAY or NIGHT); all
toggles are read with a single DBGetTree of the DAYNIGHT family. If Asterisk
cannot be reached the list is still answered from SQL with ``state`` null and a
message saying so: the configuration is useful without the live mode, and a
portal listing toggles should not fail because Asterisk is restarting."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

from .. import audit
from ..adapters.ami import AmiTimeout, AmiUnavailable
from ..dao import callflowcontrols as dao
from ..errors import NotFound
from ..runtime import runtime
from . import callservices as cs
from . import events

log = logging.getLogger("rfapi.callflowcontrols")

AMI_DOWN = "OK; Asterisk (AMI) is unreachable, so state is null"


def _rec_id(value: Optional[str]) -> Optional[int]:
    value = (value or "").strip()
    return int(value) if value.isdigit() else None


def _states() -> Tuple[Optional[Dict[str, str]], bool]:
    """{index: DAY|NIGHT} from AstDB, and whether AMI answered."""
    try:
        tree = runtime().ami.db_gettree("DAYNIGHT")
    except (AmiUnavailable, AmiTimeout) as exc:
        log.warning("callflowcontrols: AstDB not readable (%s); answering without state", exc)
        return None, False
    out = {}
    for key, val in tree.items():
        name = key.rsplit("/", 1)[-1]
        if name.startswith("C") and val in ("DAY", "NIGHT"):
            out[name[1:]] = val
    return out, True


def list_toggles():
    out, ami_ok = _toggles()
    return out if ami_ok else (out, AMI_DOWN)


def _toggles() -> Tuple[List[Dict[str, Any]], bool]:
    db = runtime().db
    by_ext: Dict[str, Dict[str, List[str]]] = {}
    for r in dao.rows(db):
        by_ext.setdefault(r["ext"], {}).setdefault(r["dmode"], []).append(r["dest"])
    codes = {}
    for f in dao.featurecodes(db):
        index = f["featurename"][len("toggle-mode-"):]
        if f["enabled"]:
            codes[index] = (f["customcode"] or f["defaultcode"] or None)
    states, ami_ok = _states()
    out: List[Dict[str, Any]] = []
    # daynight_list(): a toggle exists when it has its fc_description row; the
    # index is 0-99 (a non-numeric one cannot be dialled and is skipped).
    for ext in sorted((e for e, m in by_ext.items() if "fc_description" in m and e.isdigit()), key=int):
        m = by_ext[ext]
        first = lambda k: m[k][0] if k in m else None  # noqa: E731
        out.append({
            "ext": int(ext),
            "fc_description": first("fc_description"),
            "day": first("day"),
            "night": first("night"),
            "password": first("password") or "",
            "day_recording_id": _rec_id(first("day_recording_id")),
            "night_recording_id": _rec_id(first("night_recording_id")),
            "timeday": sorted(int(v) for v in m.get("timeday", []) if v.isdigit()),
            "timenight": sorted(int(v) for v in m.get("timenight", []) if v.isdigit()),
            "state": states.get(ext) if states is not None else None,
            "featurecode": codes.get(ext),
            "destination": "app-daynight,%s,1" % ext,
        })
    return out, ami_ok


# -- switching a toggle ----------------------------------------------------------------
# Daynight::setState and the *28<index> feature code: DAYNIGHT/C<index> = DAY|NIGHT, and
# (USEDEVSTATE) Custom:DAYNIGHT<index> NOT_INUSE in DAY, INUSE in NIGHT, watched by the
# feature code's hint (*28<index>@app-daynight-toggle) so a BLF key lights in NIGHT.
MODES = ("day", "night", "toggle")
DEVSTATE = {"DAY": "NOT_INUSE", "NIGHT": "INUSE"}


def set_state(index: str, mode: str) -> Tuple[Dict[str, Any], str]:
    """Put toggle ``index`` in DAY or NIGHT, or toggle it (like *28<index>: NIGHT becomes
    DAY, anything else NIGHT, since the dialplan routes an unset toggle as DAY)."""
    db = runtime().db
    if not (index.isascii() and index.isdigit()) or not dao.exists(db, index):
        raise NotFound("Call flow control %s not found" % index)
    with cs.serialised("daynight:%s" % index, "call flow control %s" % index):
        return _set_state(index, mode)


def _set_state(index: str, mode: str) -> Tuple[Dict[str, Any], str]:
    writer = cs.AstdbWriter("call flow control %s" % index)
    old = writer.get("DAYNIGHT", "C%s" % index)
    if mode == "toggle":
        new = "DAY" if old == "NIGHT" else "NIGHT"
    else:
        new = mode.upper()

    def work() -> None:
        writer.put("DAYNIGHT", "C%s" % index, new, old)
        if cs.use_devstate():
            writer.devstate("DAYNIGHT%s" % index, DEVSTATE[new])

    cs.run(writer, work)
    result = next((t for t in _toggles()[0] if t["ext"] == int(index)), {"ext": int(index)})
    result["state"] = new  # as written (a read racing another writer could see a newer mode)
    if not writer.changed:
        return result, "Call flow control %s is already %s" % (index, new)
    audit.record("callflowcontrol.update", {"ext": int(index), "state": new,
                                            "previous": old if old in DEVSTATE else None})
    events.changed("callflowcontrol", "updated", id=int(index), state=new)
    return result, "OK"
