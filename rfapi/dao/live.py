"""What the live-Asterisk routes need from FreePBX's tables: which extensions
exist, which of them are SIP devices (chan_pjsip or chan_sip), their dial
string and SIP secret, and the voicemail context of a user."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from . import exact, first
from ..text import text

SIP_TECHS = ("pjsip", "sip")
SAFE_EXT = re.compile(r"^[A-Za-z0-9_-]{1,20}$")   # what a device id can be (devices.id is VARCHAR(20))

_DEVICE_COLUMNS = ("SELECT d.id, d.tech, d.dial, d.user, u.name, u.ringtimer "
                   "FROM devices d LEFT JOIN users u ON u.extension = d.user ")


def _device(row: Dict[str, Any]) -> Dict[str, Any]:
    return {"extension": text(row["id"]), "tech": text(row["tech"]).lower(), "dial": text(row["dial"]),
            "user": text(row["user"]), "name": text(row["name"]),
            "ringtimer": int(row["ringtimer"] or 0)}


def _num_key(d: Dict[str, Any]):
    e = d["extension"]
    return (0, int(e), e) if e.isdigit() else (1, 0, e)


def sip_devices(db) -> List[Dict[str, Any]]:
    """Every chan_pjsip / chan_sip device, in extension order."""
    rows = db.query(_DEVICE_COLUMNS + "WHERE d.tech IN (%s, %s)", SIP_TECHS)
    return sorted((_device(r) for r in rows), key=_num_key)


def device(db, ext: str) -> Optional[Dict[str, Any]]:
    """The device ``ext`` of any technology (None if there is none)."""
    row = first(exact(db.query(_DEVICE_COLUMNS + "WHERE d.id = %s", (ext,)), "id", ext))
    return _device(row) if row else None


def user(db, ext: str) -> Optional[Dict[str, Any]]:
    row = first(exact(db.query("SELECT extension, name, voicemail FROM users WHERE extension = %s", (ext,)),
                      "extension", ext))
    if row is None:
        return None
    return {"extension": text(row["extension"]), "name": text(row["name"]), "voicemail": text(row["voicemail"])}


def sip_secret(db, ext: str) -> Optional[str]:
    """The device's SIP password as FreePBX stores it (sip.keyword = 'secret')."""
    row = first(exact(db.query("SELECT id, data FROM sip WHERE id = %s AND keyword = %s", (ext, "secret")), "id", ext))
    return text(row["data"]) if row else None


def sip_device_or_none(db, ext: str) -> Optional[Dict[str, Any]]:
    """The chan_pjsip/chan_sip device ``ext`` (None for unknown, virtual, other techs)."""
    dev = device(db, ext) if SAFE_EXT.match(ext or "") else None
    return dev if dev is not None and dev["tech"] in SIP_TECHS else None

