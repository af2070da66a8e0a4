"""The plan of a new extension: every row, AstDB key and voicemail.conf line
FreePBX's Quick Create would write, computed (and cross-checked) before anything
is written."""
from __future__ import annotations

import secrets as _secrets
from typing import Any, Dict, List, Optional, Tuple

from ...errors import BadRequest
from .. import vmconf
from .rows import (RECORDING_KEYS, VM_CONTEXT, Op, _major, _truthy_setting, chansip_rows, followme_ops,
                   followme_row, pjsip_rows, resolve_tech)

GENERATED_SECRET_BYTES = 16  # 32 hex characters, SIPSECRETSIZE's maximum


class Plan:
    """Every row, AstDB key and voicemail.conf line of one new extension."""

    def __init__(self) -> None:
        self.number = ""
        self.tech = ""
        self.name = ""
        self.user: Dict[str, Any] = {}
        self.device: Optional[Dict[str, Any]] = None
        self.sip: List[Tuple[str, str, str, int]] = []
        self.followme: Optional[Dict[str, Any]] = None
        self.followme_enabled = True
        self.vm_line: Optional[str] = None
        self.email = ""
        self.secret: Optional[str] = None
        self.generated_secret = False
        self.recording: Dict[str, Any] = {}
        self.settings: Dict[str, str] = {}
        self.outboundcid = ""
        self.emergencycid = ""

    def astdb_ops(self, before: Dict[str, str]) -> List[Op]:
        """The AstDB writes of addDevice, addUser and the voicemail/findmefollow
        Quick Create hooks, in FreePBX's order; ``before`` = current keys (a
        'del' of a key that does not exist is skipped)."""
        n, s = self.number, self.settings
        ops: List[Op] = []
        put = lambda fam, key, val: ops.append(("put", fam, key, "" if val is None else str(val)))  # noqa: E731
        dele = lambda fam, key: ops.append(("del", fam, key, None))  # noqa: E731
        # Core::addDevice (the virtual tech gets the DEVICE keys too, as the GUI form writes them)
        dial = self.device["dial"] if self.device else "VIRTUAL/" + n
        put("DEVICE", n + "/user", n)
        put("DEVICE", n + "/dial", dial)
        put("DEVICE", n + "/type", "fixed")
        put("DEVICE", n + "/default_user", n)
        if self.emergencycid:
            put("DEVICE", n + "/emergency_cid", self.emergencycid)
        else:
            dele("DEVICE", n + "/emergency_cid")
        existing = [d for d in (before.get("/AMPUSER/%s/device" % n) or "").split("&") if d]
        if n not in existing:
            existing.append(n)
        put("AMPUSER", n + "/device", "&".join(existing))
        put("DEVICE", n + "/tech", self.tech)
        put("CustomPresence", n, "available,,")  # addDevice sets it for every tech, virtual included
        # Core::addUser with generateDefaultUserSettings
        u = n + "/"
        put("AMPUSER", u + "cwtone", "disabled")
        put("AMPUSER", u + "accountcode", "")
        put("AMPUSER", u + "rvolume", "")
        put("AMPUSER", u + "password", "")
        put("AMPUSER", u + "ringtimer", "0")
        put("AMPUSER", u + "cfringtimer", s.get("CFRINGTIMERDEFAULT", "0"))
        put("AMPUSER", u + "concurrency_limit", s.get("CONCURRENCYLIMITDEFAULT", "3"))
        put("AMPUSER", u + "noanswer", "")
        put("AMPUSER", u + "recording", "")
        put("AMPUSER", u + "outboundcid", self.outboundcid)
        put("AMPUSER", u + "cidname", self.name)
        put("AMPUSER", u + "cidnum", n)
        put("AMPUSER", u + "voicemail", self.user["voicemail"])
        put("AMPUSER", u + "answermode", "disabled")
        put("AMPUSER", u + "intercom", "enabled")
        for _param, key in RECORDING_KEYS:
            put("AMPUSER", u + key, self.recording[_param])
        put("AMPUSER", u + "recording/ondemand", self.recording["recOndemand"])
        put("AMPUSER", u + "recording/priority", str(self.recording["recPriority"]))
        dele("AMPUSER", u + "dialopts")
        dele("AMPUSER", u + "screen")
        if _truthy_setting(s.get("ENABLECW", "1")):
            put("CW", n, "ENABLED")
        else:
            dele("CW", n)
        dele("AMPUSER", u + "pinless")
        # Voicemail::processQuickCreate -> addMailbox(passlogin=no) -> novmpw=yes, novmstar deleted
        if self.vm_line is not None:
            put("AMPUSER", u + "novmpw", "yes")
            dele("AMPUSER", u + "novmstar")
        # Findmefollow::add (+ the keys every reload pushes, so the result equals a reloaded box)
        if self.followme is not None:
            ops += followme_ops(n, self.followme, s, existing, self.followme_enabled)
        return ops

    def roots(self) -> List[Tuple[str, str]]:
        """AstDB trees read before writing (for the exact undo)."""
        n = self.number
        return [("AMPUSER", n), ("DEVICE", n), ("CW", n), ("CustomPresence", n), ("CustomDevstate", "FOLLOWME" + n)]


def build_plan(p: Dict[str, Any], settings: Dict[str, str], core_version: str) -> Plan:
    """Cross-field validation (400 naming every bad field) and the full plan."""
    errors: Dict[str, str] = {}
    n = p["extension"]
    tech = resolve_tech(p["exttype"], settings)
    if tech == "virtual" and p.get("secret"):
        errors["secret"] = "is not used by a virtual extension (it has no device)"
    if tech == "virtual" and p.get("emergencycid"):
        errors["emergencycid"] = "needs a device; a virtual extension has none"
    voicemail = bool(p.get("voicemail"))
    if voicemail and not p.get("voicemailpassword"):
        errors["voicemailpassword"] = "is required when voicemail is enabled"
    if not voicemail:
        for k in ("voicemailpassword", "email"):
            if p.get(k):
                errors[k] = "is only used with voicemail=yes"
    followme = bool(p.get("followme"))
    if not followme and p.get("followmegrptime") is not None:
        errors["followmegrptime"] = "is only used with followme=yes"
    if errors:
        raise BadRequest(errors)

    plan = Plan()
    plan.settings = settings
    plan.number = n
    plan.tech = tech
    raw_name = (p.get("displayname") or "").strip() or n
    plan.name = raw_name
    users_name = raw_name.replace("<", "(").replace(">", ")")
    plan.outboundcid = p.get("outboundcid") or ""
    plan.emergencycid = p.get("emergencycid") or ""
    plan.recording = {param: p.get(param) or "dontcare" for param, _ in RECORDING_KEYS}
    plan.recording["recOndemand"] = p.get("recOndemand") or "enabled"
    plan.recording["recPriority"] = 10 if p.get("recPriority") is None else int(p["recPriority"])

    plan.user = {
        "extension": n, "password": "", "name": users_name, "voicemail": VM_CONTEXT if voicemail else "novm",
        "ringtimer": 0, "noanswer": "", "recording": "", "outboundcid": plan.outboundcid, "sipname": "",
        "noanswer_cid": "", "busy_cid": "", "chanunavail_cid": "", "noanswer_dest": "", "busy_dest": "",
        "chanunavail_dest": "",
    }
    if tech != "virtual":
        plan.secret = p.get("secret")
        if not plan.secret:
            plan.secret = _secrets.token_hex(GENERATED_SECRET_BYTES)
            plan.generated_secret = True
        dial = ("PJSIP/" if tech == "pjsip" else "SIP/") + n
        plan.device = {"id": n, "tech": tech, "dial": dial, "devicetype": "fixed", "user": n,
                       "description": raw_name, "emergency_cid": plan.emergencycid}
        # Quick Create stores an empty device callerid (processQuickCreate is given none); with
        # force_callerid=no the endpoint's caller ID comes from users.name at reload.
        callerid = ""
        if tech == "pjsip":
            plan.sip = pjsip_rows(n, plan.secret, callerid, settings, _major(core_version))
        else:
            plan.sip = chansip_rows(n, plan.secret, callerid, settings)
    if voicemail:
        plan.email = p.get("email") or ""
        plan.vm_line = vmconf.mailbox_line(n, p["voicemailpassword"], raw_name, plan.email, "",
                                           [("attach", "no"), ("saycid", "no"), ("envelope", "no"),
                                            ("delete", "no")])
    if followme or _truthy_setting(settings.get("FOLLOWME_AUTO_CREATE", "0")):
        # Findmefollow's Quick Create hook: FOLLOWME_AUTO_CREATE gives every new extension a
        # group, enabled only when follow-me was asked for.
        plan.followme = followme_row(n, settings, p.get("followmegrptime"))
        plan.followme_enabled = followme
    return plan
