"""Helpers shared by the extension tests (no tests here): state of one extension, office reference."""
from __future__ import annotations

import re
from typing import Any, Dict, List

from tests.support import office

FAMILIES_BY_NUMBER = ("AMPUSER", "DEVICE", "CW", "CF", "CFB", "CFU", "DND", "CustomPresence", "ZULU")


def belongs(key: str, n: str) -> bool:
    parts = key.split("/")
    if len(parts) >= 3 and parts[1] in FAMILIES_BY_NUMBER and parts[2] == n:
        return True
    return key in ("/CustomDevstate/FOLLOWME" + n, "/CustomDevstate/DND" + n, "/CustomDevstate/DEVDND" + n)


def astdb_of(pbx, n: str) -> Dict[str, str]:
    with pbx.peer.lock:
        return {k: v for k, v in pbx.peer.astdb.items() if belongs(k, n)}


def vm_lines(pbx, n: str) -> List[str]:
    return [l for l in pbx.voicemail_conf.read_text().splitlines()
            if l.startswith(n + "=") or l.startswith(n + "@device=")]


def state(pbx, n: str) -> Dict[str, Any]:
    """Everything FreePBX keeps for extension n (rows without their key column order issues)."""
    return {
        "users": pbx.sql("SELECT * FROM users WHERE extension = %s", (n,)),
        "devices": pbx.sql("SELECT * FROM devices WHERE id = %s", (n,)),
        "sip": sorted((r["keyword"], r["data"], r["flags"]) for r in pbx.sql("SELECT * FROM sip WHERE id = %s", (n,))),
        "findmefollow": pbx.sql("SELECT * FROM findmefollow WHERE grpnum = %s", (n,)),
        "astdb": astdb_of(pbx, n),
        "vm": vm_lines(pbx, n),
    }


def swap(value: Any, old: str, new: str) -> Any:
    """Replace extension number ``old`` by ``new`` where it stands alone (not inside 5551230101)."""
    if isinstance(value, str):
        return re.sub(r"(?<![0-9])%s(?![0-9])" % re.escape(old), new, value)
    if isinstance(value, dict):
        return {swap(k, old, new): swap(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [swap(v, old, new) for v in value]
    if isinstance(value, tuple):
        return tuple(swap(v, old, new) for v in value)
    return value


def office_state(pbx, o: str, n: str) -> Dict[str, Any]:
    """The office's own extension o, renumbered to n, as Quick Create would have made it: the office's
    were made with the full form, which fills the device callerid; Quick Create leaves it empty."""
    st = swap(state(pbx, o), o, n)
    st["sip"] = [(kw, "" if kw == "callerid" else d, fl) for kw, d, fl in st["sip"]]
    return st


def office_params(o: str, n: str, **extra) -> Dict[str, str]:
    """API parameters that ask for the same extension as office extension o."""
    e = office.EXTENSIONS_BY_NUMBER[o]
    p = {"extension": n, "exttype": {"pjsip": "pjsip", "sip": "chansip", "virtual": "virtual"}[e["tech"]],
         "displayname": e["name"], "recOndemand": "disabled"}
    if e["secret"]:
        p["secret"] = e["secret"]
    if e["outboundcid"]:
        p["outboundcid"] = e["outboundcid"]
    if e["emergency_cid"]:
        p["emergencycid"] = e["emergency_cid"]
    if e["voicemail"]:
        p.update(voicemail="yes", voicemailpassword=e["vm_password"], email=e["email"])
    if e["followme"]:
        p["followme"] = "yes"
    p.update(extra)
    return p


def without(snapshot: Dict[str, Any], table: str, predicate) -> Dict[str, Any]:
    out = dict(snapshot)
    out["db"] = {k: dict(v) for k, v in snapshot["db"].items()}
    out["db"]["config"][table] = [r for r in snapshot["db"]["config"][table] if not predicate(r)]
    return out


REC_NAMES = ("recExternalIn", "recExternalOut", "recInternalIn", "recInternalOut", "recOndemand", "recPriority")


def readback(entry: Dict[str, Any], **fields) -> Dict[str, Any]:
    """``entry`` (the fields of every listing) plus the read-back fields
    of GET /extensions: the recording settings flat, and every other PUT field at the value
    a fresh extension of that kind has, unless given in ``fields``."""
    out = dict(entry)
    rec = entry.get("recording")
    for k in REC_NAMES:
        out[k] = rec[k] if rec else None
    vm = entry["voicemail"]
    tech = entry["tech"]
    out.update({
        "displayname": entry["name"], "secret": None, "voicemailpassword": None,
        "attach": False if vm else None, "saycid": False if vm else None, "envelope": False if vm else None,
        "vmdelete": False if vm else None, "ringtimer": 0, "callwaiting": "enabled" if rec else None,
        "max_contacts": 1 if tech == "pjsip" else None,
        "dtmfmode": {"pjsip": "rfc4733", "sip": "rfc2833"}.get(tech),
        "noanswer_dest": "", "busy_dest": "", "chanunavail_dest": "",
        "followmegrptime": 20 if entry["followme"] else None,
    })
    out.update(fields)
    return out


def office_readback(e: Dict[str, Any], entry: Dict[str, Any]) -> Dict[str, Any]:
    """readback() of office extension e (tests/support/office.py) whose base entry is ``entry``."""
    opts = dict(e["vm_options"])
    vmb = (lambda k: opts.get(k) == "yes") if e["voicemail"] else (lambda k: None)
    return readback(
        entry, attach=vmb("attach"), saycid=vmb("saycid"), envelope=vmb("envelope"), vmdelete=vmb("delete"),
        ringtimer=e["ringtimer"] or 0, max_contacts=int(e["max_contacts"]) if e["tech"] == "pjsip" else None,
        callwaiting=("enabled" if e["callwaiting"] else "disabled") if entry.get("recording") else None,
        noanswer_dest=e["noanswer_dest"], busy_dest=e["busy_dest"], chanunavail_dest=e["chanunavail_dest"],
        followmegrptime=e["followme_grptime"] if e["followme"] else None)
