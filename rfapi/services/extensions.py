"""Create and delete extensions exactly as FreePBX's Quick Create / delete do
(tests/data/freepbx/WRITES.md §1, §2), atomically.

What is atomic and what is best-effort (docs/design.md, kept here next to the code):

  An extension is created or deleted under a MariaDB named lock
  (``GET_LOCK('rfapi.ext.<db>.<number>')``) held from the existence check to
  the end, so two requests for the same number never interleave. All SQL
  (users, devices, sip, findmefollow, the need-reload flag) runs in one
  transaction. AstDB (AMI DBPut/DBDel/DBDelTree) and voicemail.conf are
  changed only after every SQL statement succeeded and before COMMIT;
  voicemail.conf is locked for the whole change. If an AstDB or file step
  fails, or COMMIT fails, rfapi undoes what it already did — every AstDB key
  it touched is put back to the value read just before (or deleted if it did
  not exist), voicemail.conf gets its previous bytes back, a voicemail folder
  renamed for deletion is renamed back — and the transaction is rolled back,
  so nothing is half-created. Best-effort only: (1) the undo itself needs AMI;
  if Asterisk becomes unreachable in the middle of an undo, the keys it could
  not restore are logged and named in the error answer (data.not_restored,
  with data.undone=false) and the SQL is still rolled back; (2) when the database connection is lost
  during COMMIT the outcome is unknown: rfapi looks the row up again and keeps
  the AstDB/file changes if the row is there, else undoes them; (3) removing a
  voicemail folder (deletevoicemail=yes) happens after COMMIT (it was renamed
  aside before), so a failure there leaves a hidden ``.<box>.rfapi-deleted-*``
  folder, reported in the answer (data.voicemail_left), while the extension
  is gone.
"""
from __future__ import annotations

import logging
import os
import re
import secrets as _secrets
import shutil
import uuid
from typing import Any, Callable, Dict, List, Optional, Tuple

from .. import audit, destinations
from ..adapters import files
from ..adapters.ami import AmiError, AmiTimeout, AmiUnavailable
from ..adapters.db import DatabaseUnavailable
from ..dao import extensions as dao
from ..dao import framework as fw_dao
from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..runtime import runtime
from . import catalog, events, extcache, vmconf

log = logging.getLogger("rfapi.extensions")

VM_CONTEXT = "default"
LOCK_TIMEOUT = 10  # seconds to wait for another change to the same number
NUMBER_RE = re.compile(r"[0-9]{2,10}")      # what we create
EXISTING_RE = re.compile(r"[0-9]{1,20}")    # what we accept to look up/delete (users.extension is VARCHAR(20))
NANP_RE = re.compile(r"1?[2-9][0-9]{2}[2-9][0-9]{6}")
CID_RE = re.compile(r'\s*(?:"([^"<>]*)"|([^"<>]*?))\s*<\s*([0-9]+)\s*>\s*')
SECRET_RE = re.compile(r"[A-Za-z0-9!#$%&()*+,\-./:<=>?@\[\]^_{|}~]+")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
SECRET_MIN = 12
GENERATED_SECRET_BYTES = 16  # 32 hex characters, SIPSECRETSIZE's maximum

# API parameter -> AstDB key under AMPUSER/<ext>/ (WRITES §1.5)
RECORDING_KEYS = (
    ("recExternalIn", "recording/in/external"),
    ("recExternalOut", "recording/out/external"),
    ("recInternalIn", "recording/in/internal"),
    ("recInternalOut", "recording/out/internal"),
)
# "always" is rfapi's word for FreePBX's "Force"; FreePBX's own values are accepted as-is.
RECORDING_VALUES = {"always": "force", "force": "force", "yes": "yes", "dontcare": "dontcare", "no": "no",
                     "never": "never"}
ONDEMAND_VALUES = ("enabled", "disabled", "override")
EXTTYPES = ("sip", "pjsip", "chansip", "virtual")


# ---------------------------------------------------------------------------
# Parameter checks (used by the resource's Param(check=...))
# ---------------------------------------------------------------------------

def check_number(value: str) -> str:
    if not NUMBER_RE.fullmatch(value):
        raise ValueError("must be 2 to 10 digits")
    return value


def check_displayname(value: str) -> str:
    value = value.strip()
    if ";" in value:
        raise ValueError("must not contain ';' (it starts a comment in voicemail.conf)")
    if len(value) > 50:
        raise ValueError("must be at most 50 characters")
    return value


def check_secret(value: str) -> str:
    if len(value) < SECRET_MIN:
        raise ValueError("is too short: a SIP secret needs at least %d characters (omit it to have a 32-character "
                         "one generated)" % SECRET_MIN)
    if len(value) > 128:
        raise ValueError("must be at most 128 characters")
    if not SECRET_RE.fullmatch(value):
        raise ValueError("may contain only letters, digits and the punctuation !#$%&()*+,-./:<=>?@[]^_{|}~ "
                         "(no spaces, quotes, backslash or ';')")
    return value


def check_nanp(value: str) -> str:
    value = value.strip()
    if not NANP_RE.fullmatch(value):
        raise ValueError("must be a NANP number: 10 digits NXXNXXXXXX or 11 digits 1NXXNXXXXXX (N = 2-9)")
    return value


def check_outboundcid(value: str) -> str:
    """A NANP number, or ``"Name" <number>`` / ``Name <number>`` (stored as ``"Name" <number>``)."""
    value = value.strip()
    if "<" not in value:
        return check_nanp(value)
    m = CID_RE.fullmatch(value)
    if not m:
        raise ValueError('must be a NANP number or "Name" <NANP number>')
    name = (m.group(1) if m.group(1) is not None else m.group(2) or "").strip()
    check_nanp(m.group(3))
    if ";" in name:
        raise ValueError("the name must not contain ';'")
    out = '"%s" <%s>' % (name, m.group(3)) if name else m.group(3)
    if len(out) > 50:
        raise ValueError("must be at most 50 characters in total")
    return out


def check_email(value: str) -> str:
    items = [v.strip() for v in value.split(",")]
    if not items or any(not EMAIL_RE.fullmatch(v) for v in items):
        raise ValueError("must be an e-mail address, or several separated by commas")
    return ",".join(items)


def check_recording(value: str) -> str:
    v = value.strip().lower()
    if v not in RECORDING_VALUES:
        raise ValueError("must be one of: always, dontcare, never (FreePBX's force, yes, no are accepted too)")
    return RECORDING_VALUES[v]


def check_ondemand(value: str) -> str:
    v = value.strip().lower()
    if v not in ONDEMAND_VALUES:
        raise ValueError("must be one of: enabled, disabled (or FreePBX's override)")
    return v


# ---------------------------------------------------------------------------
# The plan: everything FreePBX would write, computed before anything is written
# ---------------------------------------------------------------------------

def _truthy_setting(value: str) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _major(version: str) -> int:
    try:
        return int(version.split(".", 1)[0])
    except ValueError:
        return 0


def resolve_tech(exttype: str, settings: Dict[str, str]) -> str:
    """FreePBX device tech: ``pjsip``, ``sip`` (chan_sip) or ``virtual``."""
    if exttype == "virtual":
        return "virtual"
    if exttype == "pjsip":
        return "pjsip"
    if exttype == "chansip":
        return "sip"
    # "sip": the box's SIP driver - PJSIP unless it is set to chan_sip only.
    return "sip" if settings.get("ASTSIPDRIVER", "").strip() == "chan_sip" else "pjsip"


# Codec names FreePBX's Codecs class knows; Core::filterValidCodecs keeps only these for a PJSIP device.
KNOWN_CODECS = frozenset((
    "g722 ulaw alaw gsm g729 g723 g726 adpcm slin lpc10 speex speex16 ilbc g726aal2 slin16 siren7 siren14 "
    "testlaw g719 speex32 slin12 slin24 slin32 slin44 slin48 slin96 slin192 opus h261 h263 h263p h264 mpeg4 "
    "vp8 red t140 jpeg png all").split())
_CODEC_NAME_RE = re.compile(r"([a-z0-9]+):?", re.IGNORECASE)


def valid_codecs(value: str) -> str:
    """Core::filterValidCodecs: '&' joins become ',', names FreePBX does not know are dropped."""
    kept = []
    for codec in value.replace("&", ",").split(","):
        m = _CODEC_NAME_RE.search(codec)
        if m and m.group(1) in KNOWN_CODECS:
            kept.append(codec)
    return ",".join(kept)


def pjsip_rows(n: str, secret: str, callerid: str, s: Dict[str, str], core_major: int,
               max_contacts: int = 1) -> List[Tuple[str, str, str, int]]:
    """The 54 sip rows of a chan_pjsip device (WRITES §1.4), (id, keyword, data, flags)."""
    dtmf = s.get("DEVICE_SIP_DTMF", "rfc2833")
    remove_existing = "yes" if max_contacts == 1 else "no"  # addDevice forces yes for one contact
    rows = [
        (2, "sipdriver", "chan_pjsip"), (52, "secret", secret), (4, "md5_cred", ""),
        (5, "dtmfmode", "rfc4733" if dtmf == "rfc2833" else dtmf),
        (6, "trustrpid", s.get("DEVICE_SIP_TRUSTRPID", "yes")), (7, "sendrpid", s.get("DEVICE_SIP_SENDRPID", "pai")),
        (8, "qualifyfreq", s.get("DEVICE_SIP_QUALIFYFREQ", "60")), (9, "transport", ""), (10, "avpf", "no"),
        (11, "timers", "yes"), (12, "icesupport", "no"),
        (13, "send_connected_line", "yes" if 0 < core_major < 17 else "no"), (14, "user_eq_phone", "no"),
        (15, "namedcallgroup", s.get("DEVICE_CALLGROUP", "")),
        (16, "namedpickupgroup", s.get("DEVICE_PICKUPGROUP", "")),
        (17, "disallow", valid_codecs(s.get("DEVICE_DISALLOW", ""))),
        (18, "allow", valid_codecs(s.get("DEVICE_ALLOW", ""))),
        (19, "accountcode", ""), (54, "mailbox", "%s@device" % n), (21, "max_contacts", str(max_contacts)),
        (22, "remove_existing", remove_existing), (23, "media_use_received_transport", "no"),
        (24, "media_address", ""), (25, "rtp_symmetric", "yes"), (26, "force_rport", "yes"),
        (27, "rewrite_contact", "yes"), (28, "mwi_subscription", "auto"), (29, "aggregate_mwi", "no"),
        (30, "media_encryption", "no"), (31, "media_encryption_optimistic", "no"),
        (32, "device_state_busy_at", "0"), (33, "rtcp_mux", "no"), (34, "bundle", "no"),
        (35, "minimum_expiration", "60"), (36, "maximum_expiration", "7200"), (37, "match", ""),
        (38, "rtp_timeout", "0"), (39, "rtp_timeout_hold", "0"), (40, "timers_min_se", "90"),
        (41, "direct_media", "yes"), (42, "force_callerid", "no"), (43, "max_audio_streams", "1"),
        (44, "max_video_streams", "1"), (45, "webrtc", "no"), (46, "defaultuser", ""),
        (47, "message_context", ""), (48, "refer_blind_progress", "yes"), (49, "vmexten", ""),
        (50, "outbound_auth", "no"), (51, "dial", "PJSIP/" + n), (53, "context", "from-internal"),
        (55, "account", n), (56, "callerid", callerid), (58, "outbound_proxy", ""),
    ]
    return [(n, kw, data, flag) for flag, kw, data in rows]


def chansip_rows(n: str, secret: str, callerid: str, s: Dict[str, str]) -> List[Tuple[str, str, str, int]]:
    """The 36 sip rows of a chan_sip device (WRITES §1.4): flags 2-30, then 31-36 and 38."""
    first = [
        ("sipdriver", "chan_sip"), ("dtmfmode", s.get("DEVICE_SIP_DTMF", "rfc2833")),
        ("canreinvite", s.get("DEVICE_SIP_CANREINVITE", "no")), ("host", "dynamic"),
        ("trustrpid", s.get("DEVICE_SIP_TRUSTRPID", "yes")), ("sendrpid", s.get("DEVICE_SIP_SENDRPID", "pai")),
        ("type", "friend"), ("nat", s.get("DEVICE_SIP_NAT", "yes")), ("port", "5060"),
        ("qualify", s.get("DEVICE_QUALIFY", "yes")), ("qualifyfreq", s.get("DEVICE_SIP_QUALIFYFREQ", "60")),
        ("transport", "udp,tcp,tls"), ("avpf", "no"), ("force_avp", "no"), ("sessiontimers", "accept"),
        ("videosupport", "inherit"), ("icesupport", "no"), ("encryption", s.get("DEVICE_SIP_ENCRYPTION", "no")),
        ("namedcallgroup", s.get("DEVICE_CALLGROUP", "")), ("namedpickupgroup", s.get("DEVICE_PICKUPGROUP", "")),
        ("disallow", s.get("DEVICE_DISALLOW", "")), ("allow", s.get("DEVICE_ALLOW", "")), ("accountcode", ""),
        ("vmexten", ""), ("deny", "0.0.0.0/0.0.0.0"), ("permit", "0.0.0.0/0.0.0.0"), ("defaultuser", ""),
        ("rtcp_mux", "no"), ("webrtc", ""),
    ]
    rows = [(n, kw, data, flag) for flag, (kw, data) in enumerate(first, start=2)]
    rows += [(n, "dial", "SIP/" + n, 31), (n, "secret", secret, 32), (n, "context", "from-internal", 33),
             (n, "mailbox", "%s@device" % n, 34), (n, "account", n, 35), (n, "callerid", callerid, 36),
             (n, "outbound_proxy", "", 38)]
    return rows


Op = Tuple[str, str, str, Optional[str]]  # (put|del|deltree, family, key, value)


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


def followme_row(n: str, settings: Dict[str, str], grptime: Optional[int] = None) -> Dict[str, Any]:
    """The findmefollow row Findmefollow::add writes for a new group of extension n."""
    if grptime is None:
        grptime = int(settings.get("FOLLOWME_TIME") or 20)
    return {
        "grpnum": n, "strategy": settings.get("FOLLOWME_RG_STRATEGY") or "ringallv2-prim", "grptime": grptime,
        "grppre": "", "grplist": n, "annmsg_id": None, "postdest": "ext-local,%s,dest" % n, "dring": "",
        "needsconf": "", "remotealert_id": None, "toolate_id": None, "ringing": "Ring",
        "pre_ring": int(settings.get("FOLLOWME_PRERING") or 7), "calendar_enable": 0, "calendar_id": "",
        "calendar_group_id": "", "calendar_match": "yes", "rvolume": "",
    }


def followme_ops(n: str, f: Dict[str, Any], settings: Dict[str, str], devices: List[str],
                 enabled: bool = True) -> List[Op]:
    """AstDB keys of a new follow-me group (Findmefollow::add, plus the ones every reload pushes);
    a disabled one (FOLLOWME_AUTO_CREATE without follow-me asked for) rings the extension first."""
    fm = n + "/followme/"
    ops: List[Op] = [("put", "AMPUSER", fm + k, "" if v is None else str(v)) for k, v in (
        ("prering", f["pre_ring"]), ("grptime", f["grptime"]), ("grplist", f["grplist"]), ("grppre", f["grppre"]),
        ("rvolume", f["rvolume"]), ("grpconf", "DISABLED"), ("ddial", "DIRECT" if enabled else "EXTENSION"), ("changecid", "default"),
        ("fixedcid", ""), ("strategy", f["strategy"]), ("dring", f["dring"]), ("annmsg", ""),
        ("remotealertmsg", ""), ("toolatemsg", ""), ("postdest", f["postdest"]), ("ringing", f["ringing"]))]
    if _truthy_setting(settings.get("USEDEVSTATE", "1")):
        # DEVICE_STATE(Custom:FOLLOWME<dev>)=BUSY for each device of the user; Asterisk keeps it here.
        state = "BUSY" if enabled else "NOT_INUSE"
        ops += [("put", "CustomDevstate", "FOLLOWME" + dev, state) for dev in devices]
    return ops


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


# ---------------------------------------------------------------------------
# AstDB with undo
# ---------------------------------------------------------------------------

class Undo:
    """Steps to take back, run newest first; every step is tried even if one fails."""

    def __init__(self) -> None:
        self.steps: List[Tuple[str, Callable[[], None]]] = []
        self.astdb_before: Dict[str, Optional[str]] = {}  # full key -> value before we touched it
        self.failed: List[str] = []

    def add(self, label: str, fn: Callable[[], None]) -> None:
        self.steps.append((label, fn))

    def run(self, ami) -> None:
        for label, fn in reversed(self.steps):
            try:
                fn()
            except Exception as exc:  # keep going: undo as much as possible
                log.error("undo step %s failed: %s", label, exc)
                self.failed.append(label)
        for full, value in reversed(list(self.astdb_before.items())):
            family, key = full[1:].split("/", 1)
            try:
                if value is None:
                    ami.db_del(family, key)
                else:
                    ami.db_put(family, key, value)
            except Exception as exc:
                log.error("undo of AstDB %s failed: %s", full, exc)
                self.failed.append(full)


def read_trees(ami, roots: List[Tuple[str, str]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for family, key in roots:
        out.update(ami.db_gettree(family, key))
    return out


def apply_astdb(ami, ops: List[Op], before: Dict[str, str], undo: Undo) -> None:
    """Run ops; every key is recorded (with its previous value) before it is sent,
    so a failure half-way - even on the key in flight - is undone exactly."""
    state = dict(before)
    for op, family, key, value in ops:
        full = "/%s/%s" % (family, key)
        if op == "put":
            undo.astdb_before.setdefault(full, before.get(full))
            ami.db_put(family, key, value)
            state[full] = value
        elif op == "del":
            if full not in state:
                continue
            undo.astdb_before.setdefault(full, before.get(full))
            ami.db_del(family, key)
            state.pop(full, None)
        elif op == "deltree":
            prefix = full
            doomed = [k for k in state if k == prefix or k.startswith(prefix + "/")]
            if not doomed:
                continue
            for k in doomed:
                undo.astdb_before.setdefault(k, before.get(k))
            ami.db_deltree(family, key)
            for k in doomed:
                state.pop(k, None)


# ---------------------------------------------------------------------------
# Locks
# ---------------------------------------------------------------------------

class NumberLock:
    """MariaDB named lock serialising every rfapi change to one extension number
    (users/devices have no unique key, so the existence check and the insert must
    not interleave across workers)."""

    def __init__(self, db, number: str):
        self.db = db
        self.name = dao.lock_name(db.dbname("config"), number)
        self.number = number

    def __enter__(self) -> "NumberLock":
        if not dao.get_lock(self.db, self.name, LOCK_TIMEOUT):
            raise Conflict("Another change to extension %s is still in progress; try again" % self.number)
        return self

    def __exit__(self, *exc) -> None:
        try:
            dao.release_lock(self.db, self.name)
        except Exception as e:  # the lock dies with its connection anyway
            log.warning("could not release lock %s: %s", self.name, e)


# ---------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------

def _failure(exc: BaseException, undo: Undo, what: str) -> ApiError:
    """The answer for a write that failed after something was written."""
    data: Dict[str, Any] = {"undone": not undo.failed}
    if undo.failed:
        data["not_restored"] = undo.failed
    tail = "nothing was %s" % what if not undo.failed else \
        "the undo was incomplete (see data.not_restored; details in the log)"
    if isinstance(exc, AmiTimeout):
        return ApiError("Gateway Timeout: Asterisk did not answer in time; %s" % tail, data=data, status=504)
    if isinstance(exc, AmiUnavailable):
        return ApiError("Service Unavailable: Asterisk (AMI) is unreachable; %s" % tail, data=data, status=503)
    if isinstance(exc, AmiError):
        return ApiError("Asterisk refused an AstDB change; %s" % tail, data=data, status=502)
    if isinstance(exc, DatabaseUnavailable):
        return ApiError("Service Unavailable: the PBX database failed; %s" % tail, data=data, status=503)
    if isinstance(exc, OSError):
        return ApiError("Could not write voicemail.conf or the voicemail spool; %s" % tail, data=data, status=500)
    return ApiError("Internal error; %s" % tail, data=data, status=500)


def _known_failure(exc: BaseException) -> bool:
    """Failures with a specific answer; anything else is re-raised (500) after the undo."""
    return isinstance(exc, (AmiError, DatabaseUnavailable, OSError))


# ---------------------------------------------------------------------------
# Create
# ---------------------------------------------------------------------------

def create(p: Dict[str, Any]) -> Tuple[Dict[str, Any], str]:
    rt = runtime()
    db, ami = rt.db, rt.ami
    settings = dao.settings(db)
    plan = build_plan(p, settings, dao.core_version(db))
    n = plan.number
    vm_path = rt.path("voicemail_conf")
    with NumberLock(db, n):
        kind = catalog.number_in_use(n, db)
        if kind:
            raise Conflict("Number %s is already used by %s %s" % (n, "an" if kind[0] in "aeiou" else "a", kind),
                           data={"number": n, "used_by": kind})
        with vmconf.Editor(vm_path) as vm:
            stale = vmconf.find_mailbox(vm.text, n)
            if stale:
                # A leftover mailbox would silently become the new user's (messages included).
                raise Conflict("voicemail.conf already has a mailbox %s (in [%s]); remove it first"
                               % (n, ", ".join(stale)), data={"number": n, "contexts": stale})
            before = read_trees(ami, plan.roots())
            ops = plan.astdb_ops(before)
            undo = Undo()
            committing = False
            try:
                with db.transaction() as tx:
                    dao.insert_user(tx, plan.user)
                    if plan.device:
                        dao.insert_device(tx, plan.device)
                        dao.insert_sip(tx, plan.sip)
                    if plan.followme:
                        dao.insert_findmefollow(tx, plan.followme)
                    fw_dao.set_need_reload(tx)
                    # SQL succeeded: now the file and AstDB, before COMMIT.
                    if plan.vm_line is not None:
                        text = vmconf.set_entry(vm.text, VM_CONTEXT, n, plan.vm_line)
                        if vmconf.has_section(text, "pbxaliases"):
                            # Voicemail::mapMailBox with Asterisk >= 16.2 (WRITES §1.7)
                            text = vmconf.set_entry(text, "pbxaliases", "%s@device" % n,
                                                    "%s@device=%s@%s" % (n, n, VM_CONTEXT))
                        undo.add("voicemail.conf", vm.restore)
                        vm.write(text)
                    apply_astdb(ami, ops, before, undo)
                    committing = True
            except BaseException as exc:
                if committing and isinstance(exc, DatabaseUnavailable) and _row_exists(db, n):
                    log.warning("commit of extension %s reported a failure but the row is there; keeping it", n)
                else:
                    undo.run(ami)
                    if _known_failure(exc):
                        raise _failure(exc, undo, "created") from None
                    raise
    extcache.invalidate()
    boxes = {VM_CONTEXT: {n: vmconf.parse_mailbox(plan.vm_line.split("=", 1)[1])}} if plan.vm_line else {}
    result = extcache.entry_from_rows(
        plan.user, plan.device, plan.followme is not None, boxes, _after_state(before, ops),
        plan.followme["grptime"] if plan.followme else None, {kw: data for _i, kw, data, _f in plan.sip})
    audit.record("extension.add", result)
    events.changed("extension", "created", extension=n, needreload=True)
    if plan.generated_secret:
        data = dict(result, secret=plan.secret)
        return data, "Created; the generated SIP secret is shown only this once"
    return result, "Created"


def _after_state(before: Dict[str, str], ops: List[Op]) -> Dict[str, str]:
    state = dict(before)
    for op, family, key, value in ops:
        full = "/%s/%s" % (family, key)
        if op == "put":
            state[full] = value or ""
        elif op == "del":
            state.pop(full, None)
        else:
            for k in [k for k in state if k == full or k.startswith(full + "/")]:
                del state[k]
    return state


def _row_exists(db, number: str) -> bool:
    try:
        return dao.user(db, number) is not None
    except Exception:
        return False


# ---------------------------------------------------------------------------
# Delete
# ---------------------------------------------------------------------------

def delete_roots(n: str) -> List[Tuple[str, str]]:
    return [("AMPUSER", n), ("DEVICE", n), ("ZULU", n), ("CW", n), ("CF", n), ("CFB", n), ("CFU", n), ("DND", n),
            ("CustomPresence", n), ("CustomDevstate", "FOLLOWME" + n), ("CustomDevstate", "DND" + n),
            ("CustomDevstate", "DEVDND" + n)]


def delete_ops(n: str) -> List[Op]:
    """Core::delDevice + Core::delUser + findmefollow/voicemail hooks +
    core_users_cleanastdb (CW, CF, CFB, CFU); plus DND and its device states,
    so a later extension with this number does not start in DND."""
    ops: List[Op] = [("del", "DEVICE", n + "/" + k, None) for k in ("dial", "type", "user", "default_user",
                                                                     "emergency_cid")]
    ops += [("del", "CustomPresence", n, None), ("del", "AMPUSER", n + "/screen", None),
            ("deltree", "AMPUSER", n, None), ("deltree", "CustomDevstate", "FOLLOWME" + n, None),
            ("deltree", "DEVICE", n, None), ("deltree", "ZULU", n, None)]
    ops += [("del", fam, n, None) for fam in ("CW", "CF", "CFB", "CFU", "DND")]
    ops += [("del", "CustomDevstate", "DND" + n, None), ("del", "CustomDevstate", "DEVDND" + n, None)]
    return ops


def current_entry(db, n: str, astdb: Optional[Dict[str, str]], vm_text: Optional[str] = None
                  ) -> Optional[Dict[str, Any]]:
    u = dao.user(db, n)
    if u is None:
        return None
    d = dao.device(db, n)
    f = dao.findmefollow(db, n)
    sip = {_s(r["keyword"]): _s(r["data"]) for r in dao.sip_rows(db, n)} if d else {}
    boxes = vmconf.mailboxes(vm_text) if vm_text is not None else vmconf.read_mailboxes(runtime().path("voicemail_conf"))
    return extcache.entry_from_rows(u, d, f is not None, boxes, astdb, f["grptime"] if f else None, sip)


def _s(v) -> str:
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


def delete(number: str, p: Dict[str, Any]) -> Dict[str, Any]:
    rt = runtime()
    db, ami = rt.db, rt.ami
    n = number
    if not EXISTING_RE.fullmatch(n):
        raise NotFound("Extension %s not found" % n)
    vm_path = rt.path("voicemail_conf")
    remove_spool = bool(p.get("deletevoicemail"))
    tombstones: List[str] = []
    with NumberLock(db, n):
        if dao.user(db, n) is None:
            raise NotFound("Extension %s not found" % n)
        with vmconf.Editor(vm_path) as vm:
            before = read_trees(ami, delete_roots(n))
            removed = current_entry(db, n, before, vm.text)
            contexts = vmconf.find_mailbox(vm.text, n)
            with_fm = dao.has_table(db, "findmefollow")
            undo = Undo()
            committing = False
            try:
                with db.transaction() as tx:
                    dao.delete_extension(tx, n, with_fm)
                    fw_dao.set_need_reload(tx)
                    text = vm.text
                    for ctx in contexts:
                        text, _ = vmconf.remove_entry(text, ctx, n)
                    text, _ = vmconf.remove_entry(text, "pbxaliases", "%s@device" % n)
                    if text != vm.text:
                        undo.add("voicemail.conf", vm.restore)
                        vm.write(text)
                    _remove_device_link(rt, n, undo)
                    if remove_spool:
                        tombstones = _set_aside_spool(rt, n, contexts, undo)
                    apply_astdb(ami, delete_ops(n), before, undo)
                    committing = True
            except BaseException as exc:
                if committing and isinstance(exc, DatabaseUnavailable) and not _row_exists(db, n) \
                        and _db_reachable(db):
                    log.warning("commit of the deletion of %s reported a failure but the row is gone; keeping it", n)
                else:
                    undo.run(ami)
                    if _known_failure(exc):
                        raise _failure(exc, undo, "deleted") from None
                    raise
    _forget_registrations(ami, n)
    spool_left = []
    for path in tombstones:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            log.error("could not remove voicemail folder %s: %s", path, exc)
            spool_left.append(os.path.basename(path))
    extcache.invalidate()
    result = dict(removed or {"extension": n})
    result["voicemail_deleted"] = bool(remove_spool and tombstones and not spool_left)
    if spool_left:
        result["voicemail_left"] = spool_left
    audit.record("extension.delete", result)
    events.changed("extension", "deleted", extension=n, needreload=True)
    return result


def _forget_registrations(ami, n: str) -> None:
    """Drop the registrations Asterisk persisted for this number in AstDB
    (res_pjsip: registrar/contact/<aor>;@<hash>; chan_sip: SIP/Registry/<peer>).
    Found on a real Asterisk 20: they outlive the endpoint, so an extension
    created again with the same number would ring the deleted phone until that
    registration expires (up to an hour). FreePBX leaves them; we do not. Best
    effort after COMMIT: the extension is already gone, a failure is logged."""
    try:
        for key in ami.db_gettree("registrar", "contact"):
            rest = key[len("/registrar/"):] if key.startswith("/registrar/") else ""
            if rest.startswith("contact/%s;@" % n):
                ami.db_del("registrar", rest)
        ami.db_del("SIP", "Registry/%s" % n)
    except Exception as exc:  # AMI gone after the commit: the keys expire with the registration
        log.warning("could not remove the persisted registrations of %s: %s", n, exc)


def _db_reachable(db) -> bool:
    try:
        db.query("SELECT 1")
        return True
    except Exception:
        return False


def _remove_device_link(rt, n: str, undo: Undo) -> None:
    """delDevice removes the pre-16.2 mailbox symlink <spool>/device/<ext> if present."""
    spool = rt.path("voicemail_spool")
    if not os.path.isdir(os.path.join(spool, "device")):
        return
    link = os.path.join(files.confined(spool, "device"), files.safe_part(n))
    if os.path.islink(link):
        target = os.readlink(link)
        os.unlink(link)
        undo.add("device symlink", lambda: os.symlink(target, link))


def _set_aside_spool(rt, n: str, contexts: List[str], undo: Undo) -> List[str]:
    """Rename <spool>/<ctx>/<box> to a hidden tombstone (undoable); removed after COMMIT."""
    spool = rt.path("voicemail_spool")
    out = []
    for ctx in contexts or [VM_CONTEXT]:
        try:
            base = files.confined(spool, files.safe_part(ctx))
            box = files.confined(spool, files.safe_part(ctx), files.safe_part(n))
        except files.UnsafePath:
            continue
        if not os.path.isdir(box) or os.path.islink(box):
            continue
        tomb = os.path.join(base, ".%s.rfapi-deleted-%s" % (n, uuid.uuid4().hex[:8]))
        os.rename(box, tomb)
        undo.add("spool " + box, lambda b=box, t=tomb: os.rename(t, b))
        out.append(tomb)
    return out


# ---------------------------------------------------------------------------
# Update (PUT /extension/<ext>): only what is sent, FreePBX's writes per field
# ---------------------------------------------------------------------------

# dtmf_mode values FreePBX's device page offers (PJSIP: Asterisk's dtmf_mode; chan_sip: dtmfmode).
PJSIP_DTMF = ("rfc4733", "inband", "info", "auto", "auto_info")
CHANSIP_DTMF = ("rfc2833", "inband", "info", "shortinfo", "auto")
# API parameter -> voicemail.conf option (the form field vmdelete is written as delete, WRITES §1.7)
VM_OPTIONS = (("attach", "attach"), ("saycid", "saycid"), ("envelope", "envelope"), ("vmdelete", "delete"))
VM_FIELDS = ("email", "voicemailpassword") + tuple(p for p, _ in VM_OPTIONS)
DEST_FIELDS = ("noanswer_dest", "busy_dest", "chanunavail_dest")
DEVICE_FIELDS = ("secret", "emergencycid", "dtmfmode", "max_contacts")
DEST_RE = destinations.MATCH


def check_destination(value: str) -> str:
    value = value.strip()
    if not DEST_RE.fullmatch(value):
        raise ValueError("must be context,exten,priority (see /pbx/framework/destinations), or '' for none")
    return value


def check_callwaiting(value: str) -> str:
    v = value.strip().lower()
    if v in ("enabled", "disabled"):
        return v
    try:
        from ..params import truthy

        return "enabled" if truthy(v) else "disabled"
    except ValueError:
        raise ValueError("must be enabled or disabled") from None


def check_dtmfmode(value: str) -> str:
    v = value.strip().lower()
    if v not in PJSIP_DTMF + CHANSIP_DTMF:
        raise ValueError("must be one of: %s (PJSIP) or %s (chan_sip)" % (", ".join(PJSIP_DTMF),
                                                                           ", ".join(CHANSIP_DTMF)))
    return v


class Change:
    """Everything one PUT writes, computed (and compared with what is there) before
    anything is written; only real differences are kept, so an unchanged value
    writes nothing and a PUT of what GET returned is a no-op."""

    def __init__(self, n: str, user: Dict[str, Any], device: Optional[Dict[str, Any]],
                 sip: Dict[str, Tuple[str, int]], fm: Optional[Dict[str, Any]], before: Dict[str, str]):
        self.n = n
        self.cur_user, self.cur_device, self.cur_sip, self.cur_fm = user, device, sip, fm
        self.before = before
        self.user: Dict[str, Any] = {}
        self.device: Dict[str, Any] = {}
        self.sip: Dict[str, str] = {}
        self.fm_create: Optional[Dict[str, Any]] = None
        self.fm_delete = False
        self.fm: Dict[str, Any] = {}
        self.ops: List[Op] = []
        self._astdb = dict(before)  # what AstDB will hold after self.ops
        self.vm_text: Optional[str] = None
        self.vm_edits: List[Tuple[str, str, Optional[str]]] = []  # the same change as vmconf.apply_edits input
        self.changed: List[str] = []
        self._param = ""

    def param(self, name: str) -> None:
        self._param = name

    def _mark(self) -> None:
        if self._param and self._param not in self.changed:
            self.changed.append(self._param)

    def set_user(self, col: str, value: Any) -> None:
        if _s(self.cur_user.get(col)) != _s(value) or (self.cur_user.get(col) is None and value is not None):
            self.user[col] = value
            self._mark()

    def set_device(self, col: str, value: Any) -> None:
        if self.cur_device is not None and _s(self.cur_device.get(col)) != _s(value):
            self.device[col] = value
            self._mark()

    def set_sip(self, keyword: str, value: str) -> None:
        cur = self.cur_sip.get(keyword)
        if cur is None or cur[0] != value:
            self.sip[keyword] = value
            self._mark()

    def set_fm(self, col: str, value: Any) -> None:
        if self.fm_create is not None:
            self.fm_create[col] = value
        elif self.cur_fm is not None and _s(self.cur_fm.get(col)) != _s(value):
            self.fm[col] = value
            self._mark()

    def put(self, family: str, key: str, value: str) -> None:
        full = "/%s/%s" % (family, key)
        if self._astdb.get(full) != value:
            self.ops.append(("put", family, key, value))
            self._astdb[full] = value
            self._mark()

    def dele(self, family: str, key: str) -> None:
        full = "/%s/%s" % (family, key)
        if full in self._astdb:
            self.ops.append(("del", family, key, None))
            del self._astdb[full]
            self._mark()

    def deltree(self, family: str, key: str) -> None:
        full = "/%s/%s" % (family, key)
        doomed = [k for k in self._astdb if k == full or k.startswith(full + "/")]
        if doomed:
            self.ops.append(("deltree", family, key, None))
            for k in doomed:
                del self._astdb[k]
            self._mark()

    def set_vm_text(self, text: str, current: str) -> None:
        if text != (self.vm_text if self.vm_text is not None else current):
            self.vm_text = text
            self._mark()

    def empty(self) -> bool:
        return not self.changed


def _options_of(raw_options: Dict[str, str]) -> List[Tuple[str, str]]:
    return list(raw_options.items())


def plan_update(n: str, p: Dict[str, Any], user: Dict[str, Any], device: Optional[Dict[str, Any]],
                sip: Dict[str, Tuple[str, int]], fm: Optional[Dict[str, Any]], vm_text: str,
                before: Dict[str, str], settings: Dict[str, str], db) -> Change:
    """Validate a PUT against the extension as it is (400 naming every bad field),
    then compute FreePBX's writes for each sent field."""
    errors: Dict[str, str] = {}
    tech = _s(device["tech"]) if device else "virtual"
    if "tech" in p and p["tech"] != tech:
        errors["tech"] = ("cannot be changed from %s (devices of each technology have different rows); delete "
                          "and re-create the extension" % tech)
    for f in DEVICE_FIELDS:
        if f in p and device is None:
            errors[f] = "needs a device; a virtual extension has none"
    if "max_contacts" in p and device is not None and tech != "pjsip":
        errors["max_contacts"] = "is a PJSIP setting; this extension is %s" % tech
    if "dtmfmode" in p and device is not None:
        allowed = PJSIP_DTMF if tech == "pjsip" else CHANSIP_DTMF
        if p["dtmfmode"] not in allowed:
            errors["dtmfmode"] = "must be one of: %s for a %s device" % (", ".join(allowed), tech)
    # A new caller ID is checked as on create; the stored one is always accepted as it is
    # (FreePBX's GUI accepts any number), so PUT of what GET returned never fails.
    for f, check, current in (("outboundcid", check_outboundcid, user.get("outboundcid")),
                              ("emergencycid", check_nanp, device.get("emergency_cid") if device else None)):
        if p.get(f) and p[f] != _s(current):
            try:
                p[f] = check(p[f])
            except ValueError as exc:
                errors[f] = str(exc)
    for f in DEST_FIELDS:
        if p.get(f) and not catalog.destination_exists(p[f], db):
            errors[f] = "is not a destination that exists on this PBX (see /pbx/framework/destinations)"

    cur_vm = extcache._vm_enabled(_s(user.get("voicemail")))
    want_vm = p.get("voicemail", cur_vm)
    contexts = vmconf.find_mailbox(vm_text, n)
    cur_ctx = _s(user.get("voicemail")) if cur_vm else ""
    box_ctx = cur_ctx if cur_ctx in contexts else (contexts[0] if contexts else None)
    creating_vm = want_vm and (not cur_vm or box_ctx is None)
    if want_vm and not cur_vm and contexts:
        raise Conflict("voicemail.conf already has a mailbox %s (in [%s]); remove it first"
                       % (n, ", ".join(contexts)), data={"number": n, "contexts": contexts})
    if creating_vm and not p.get("voicemailpassword"):
        errors["voicemailpassword"] = ("is required to enable voicemail" if not cur_vm else
                                       "is required: mailbox %s is missing from voicemail.conf" % n)
    if not want_vm:
        for f in VM_FIELDS:
            if f in p and not (f == "email" and p[f] == ""):
                errors[f] = "is only used with voicemail (send voicemail=yes to enable it)"
    cur_fm = fm is not None
    want_fm = p.get("followme", cur_fm)
    if "followmegrptime" in p and not want_fm:
        errors["followmegrptime"] = "is only used with followme=yes"
    if errors:
        raise BadRequest(errors)

    ch = Change(n, user, device, sip, fm, before)
    u = n + "/"
    raw_name = p.get("displayname")
    if raw_name is not None:
        # Core::addUser (users.name with < > as ( ), AMPUSER cidname as given), addDevice
        # (devices.description), the device's callerid row, the mailbox's name.
        ch.param("displayname")
        users_name = raw_name.replace("<", "(").replace(">", ")")
        ch.set_user("name", users_name)
        ch.set_device("description", raw_name)
        if "callerid" in sip:
            ch.set_sip("callerid", "%s <%s>" % (users_name, n))
        ch.put("AMPUSER", u + "cidname", raw_name)
    if "secret" in p:
        ch.param("secret")
        ch.set_sip("secret", p["secret"])
    if "outboundcid" in p:
        ch.param("outboundcid")
        ch.set_user("outboundcid", p["outboundcid"])
        ch.put("AMPUSER", u + "outboundcid", p["outboundcid"])
    if "emergencycid" in p:
        ch.param("emergencycid")
        ch.set_device("emergency_cid", p["emergencycid"])
        if p["emergencycid"]:
            ch.put("DEVICE", u + "emergency_cid", p["emergencycid"])
        else:
            ch.dele("DEVICE", u + "emergency_cid")
    if "ringtimer" in p:
        ch.param("ringtimer")
        ch.set_user("ringtimer", int(p["ringtimer"]))
        ch.put("AMPUSER", u + "ringtimer", str(int(p["ringtimer"])))
    if "callwaiting" in p:
        ch.param("callwaiting")
        if p["callwaiting"] == "enabled":
            ch.put("CW", n, "ENABLED")
        else:
            ch.dele("CW", n)
    if "max_contacts" in p:
        ch.param("max_contacts")
        ch.set_sip("max_contacts", str(p["max_contacts"]))
        if int(p["max_contacts"]) == 1:
            ch.set_sip("remove_existing", "yes")  # addDevice forces it for a single contact
    if "dtmfmode" in p:
        ch.param("dtmfmode")
        ch.set_sip("dtmfmode", p["dtmfmode"])
    for f in DEST_FIELDS:
        if f in p:
            ch.param(f)
            ch.set_user(f, p[f])
    for param, key in RECORDING_KEYS:
        if param in p:
            ch.param(param)
            ch.put("AMPUSER", u + key, p[param])
    if "recOndemand" in p:
        ch.param("recOndemand")
        ch.put("AMPUSER", u + "recording/ondemand", p["recOndemand"])
    if "recPriority" in p:
        ch.param("recPriority")
        ch.put("AMPUSER", u + "recording/priority", str(int(p["recPriority"])))

    _plan_voicemail(ch, n, p, user, device, vm_text, before, cur_vm, want_vm, creating_vm, box_ctx, contexts)
    _plan_followme(ch, n, p, settings, cur_fm, want_fm, before)
    return ch


def _display_name(p: Dict[str, Any], user: Dict[str, Any], device: Optional[Dict[str, Any]],
                  before: Dict[str, str], n: str) -> str:
    if p.get("displayname") is not None:
        return p["displayname"]
    if device is not None and _s(device.get("description")):
        return _s(device.get("description"))
    return before.get("/AMPUSER/%s/cidname" % n) or _s(user.get("name"))


def _plan_voicemail(ch: Change, n: str, p: Dict[str, Any], user, device, vm_text: str, before,
                    cur_vm: bool, want_vm: bool, creating_vm: bool, box_ctx: Optional[str],
                    contexts: List[str]) -> None:
    u = n + "/"
    if "voicemail" in p:
        ch.param("voicemail")
    if creating_vm:
        # Voicemail::addMailbox (the Quick Create options, as create writes them, unless sent),
        # users.voicemail / AMPUSER voicemail = the context, mapMailBox, novmpw (passlogin=no).
        options = [(opt, ("yes" if p[param] else "no") if param in p else "no") for param, opt in VM_OPTIONS]
        line = vmconf.mailbox_line(n, p["voicemailpassword"], _display_name(p, user, device, before, n),
                                   p.get("email") or "", "", options)
        text = vmconf.set_entry(vm_text, VM_CONTEXT, n, line)
        ch.vm_edits.append((VM_CONTEXT, n, line))
        if vmconf.has_section(vm_text, "pbxaliases"):  # (the text as read: its parse is cached)
            alias = "%s@device=%s@%s" % (n, n, VM_CONTEXT)
            text = vmconf.set_entry(text, "pbxaliases", "%s@device" % n, alias)
            ch.vm_edits.append(("pbxaliases", "%s@device" % n, alias))
        ch.set_vm_text(text, vm_text)
        ch.set_user("voicemail", VM_CONTEXT)
        ch.put("AMPUSER", u + "voicemail", VM_CONTEXT)
        if not cur_vm:
            ch.put("AMPUSER", u + "novmpw", "yes")
            ch.dele("AMPUSER", u + "novmstar")
        return
    if cur_vm and not want_vm:
        # Voicemail::delMailbox (the line and the vmmapping alias) and users.voicemail=novm.
        # The spool folder (messages, greetings) is kept: DELETE /extension/<ext> with
        # deletevoicemail=yes is the way to destroy messages.
        text = vm_text
        for ctx in contexts:
            text, _ = vmconf.remove_entry(text, ctx, n)
            ch.vm_edits.append((ctx, n, None))
        text, _ = vmconf.remove_entry(text, "pbxaliases", "%s@device" % n)
        ch.vm_edits.append(("pbxaliases", "%s@device" % n, None))
        ch.set_vm_text(text, vm_text)
        ch.set_user("voicemail", "novm")
        ch.put("AMPUSER", u + "voicemail", "novm")
        return
    if not want_vm or box_ctx is None:
        return
    # Mailbox kept: rewrite its line only if one of its fields changes.
    boxes = vmconf.mailboxes(vm_text)
    cur = boxes[box_ctx][n]
    pin, name, email, pager = cur["pwd"], cur["name"], cur["email"], cur["pager"]
    options = dict(cur["options"])
    for f in ("email", "voicemailpassword") + tuple(pp for pp, _ in VM_OPTIONS) + ("displayname",):
        if f not in p:
            continue
        ch.param(f)
        if f == "email":
            email = p["email"]
        elif f == "voicemailpassword":
            pin = p["voicemailpassword"]
        elif f == "displayname":
            name = p["displayname"].replace(",", "")
        else:
            options[dict(VM_OPTIONS)[f]] = "yes" if p[f] else "no"
        new = vmconf.mailbox_line(n, pin, name, email, pager, _options_of(options))
        if vmconf.parse_mailbox(new.split("=", 1)[1]) != cur:
            ch.set_vm_text(vmconf.set_entry(vm_text, box_ctx, n, new), vm_text)
            ch.vm_edits[:] = [(box_ctx, n, new)]


def _plan_followme(ch: Change, n: str, p: Dict[str, Any], settings: Dict[str, str], cur_fm: bool, want_fm: bool,
                   before: Dict[str, str]) -> None:
    if "followme" in p:
        ch.param("followme")
    if want_fm and not cur_fm:
        ch.fm_create = followme_row(n, settings, p.get("followmegrptime"))
        ch._mark()
        devices = [d for d in (before.get("/AMPUSER/%s/device" % n) or "").split("&") if d]
        for op, family, key, value in followme_ops(n, ch.fm_create, settings, devices):
            ch.put(family, key, value or "")
        return
    if cur_fm and not want_fm:
        # Findmefollow::del: the row and the AMPUSER/<n>/followme tree.
        ch.fm_delete = True
        ch._mark()
        ch.deltree("AMPUSER", n + "/followme")
        return
    if want_fm and "followmegrptime" in p:
        ch.param("followmegrptime")
        ch.set_fm("grptime", int(p["followmegrptime"]))
        ch.put("AMPUSER", n + "/followme/grptime", str(int(p["followmegrptime"])))


def write_rows(tx, n: str, ch, cur_sip) -> None:
    """The SQL side of one extension change (PUT and each import row): users, devices,
    sip and findmefollow rows, only what the change names."""
    dao.update_user(tx, n, ch.user)
    dao.update_device(tx, n, ch.device)
    dao.set_sip(tx, n, ch.sip, cur_sip)
    if ch.fm_create is not None:
        dao.insert_findmefollow(tx, ch.fm_create)
    elif ch.fm_delete:
        dao.delete_findmefollow(tx, n)
    else:
        dao.update_findmefollow(tx, n, ch.fm)


def update(number: str, p: Dict[str, Any]) -> Tuple[Dict[str, Any], str]:
    rt = runtime()
    db, ami = rt.db, rt.ami
    n = number
    if not EXISTING_RE.fullmatch(n):
        raise NotFound("Extension %s not found" % n)
    sent = {k: v for k, v in p.items() if v is not None}
    settings = dao.settings(db)
    vm_path = rt.path("voicemail_conf")
    with NumberLock(db, n):
        user = dao.user(db, n)
        if user is None:
            raise NotFound("Extension %s not found" % n)
        device = dao.device(db, n)
        sip = {_s(r["keyword"]): (_s(r["data"]), int(r["flags"] or 0)) for r in dao.sip_rows(db, n)} \
            if device else {}
        fm = dao.findmefollow(db, n)
        with vmconf.Editor(vm_path) as vm:
            before = read_trees(ami, delete_roots(n))
            ch = plan_update(n, sent, user, device, sip, fm, vm.text, before, settings, db)
            if ch.empty():
                return current_entry(db, n, before, vm.text), "Unchanged: every value sent is already set"
            undo = Undo()
            try:
                with db.transaction() as tx:
                    write_rows(tx, n, ch, sip)
                    # FreePBX's extension page calls needreload() after every edit.
                    fw_dao.set_need_reload(tx)
                    if ch.vm_text is not None:
                        undo.add("voicemail.conf", vm.restore)
                        vm.write(ch.vm_text)
                    apply_astdb(ami, ch.ops, before, undo)
            except BaseException as exc:
                undo.run(ami)
                if _known_failure(exc):
                    raise _failure(exc, undo, "changed") from None
                raise
            result = current_entry(db, n, _after_state(before, ch.ops), vm.text)
    extcache.invalidate()
    audit.record("extension.update", {"extension": n, "changed": ch.changed})
    return result, "Updated: " + ", ".join(ch.changed)


def with_secrets(entries: List[Dict[str, Any]], number: Optional[str] = None) -> List[Dict[str, Any]]:
    """Copies of cache entries with the SIP secret and voicemail PIN read live (SQL
    and voicemail.conf, never stored in the cache file); audited like extdump."""
    rt = runtime()
    secrets = dao.sip_secrets(rt.db, number)
    boxes = vmconf.read_mailboxes(rt.path("voicemail_conf"))
    out = []
    for e in entries:
        e = dict(e)
        n = e["extension"]
        if e["tech"] != "virtual":
            e["secret"] = secrets.get(n)
        if e["voicemail"]:
            ctx = e.get("voicemail_context") or ""
            box = boxes.get(ctx, {}).get(n) if n in boxes.get(ctx, {}) else \
                next((b[n] for b in boxes.values() if n in b), None)
            e["voicemailpassword"] = box["pwd"] if box else None
        out.append(e)
    audit.record("extensions.secrets", {"extension": number} if number else {"extensions": len(out)})
    return out
