"""Create and delete extensions exactly as FreePBX's Quick Create / delete do
(../shared/reference/freepbx/WRITES.md §1, §2), atomically.

What is atomic and what is best-effort (README text, kept here next to the code):

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

from .. import audit
from ..adapters import files
from ..adapters.ami import AmiError, AmiTimeout, AmiUnavailable
from ..adapters.db import DatabaseUnavailable
from ..dao import extensions as dao
from ..dao import framework as fw_dao
from ..http import ApiError, BadRequest, Conflict, NotFound
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
# "always" is the word for FreePBX's "Force"; FreePBX's own values are accepted as-is.
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
        (17, "disallow", s.get("DEVICE_DISALLOW", "")), (18, "allow", s.get("DEVICE_ALLOW", "")),
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
        if self.tech != "virtual":
            put("CustomPresence", n, "available,,")
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
            f = self.followme
            fm = u + "followme/"
            put("AMPUSER", fm + "prering", f["pre_ring"])
            put("AMPUSER", fm + "grptime", f["grptime"])
            put("AMPUSER", fm + "grplist", f["grplist"])
            put("AMPUSER", fm + "grppre", f["grppre"])
            put("AMPUSER", fm + "rvolume", f["rvolume"])
            put("AMPUSER", fm + "grpconf", "DISABLED")
            put("AMPUSER", fm + "ddial", "DIRECT")
            put("AMPUSER", fm + "changecid", "default")
            put("AMPUSER", fm + "fixedcid", "")
            put("AMPUSER", fm + "strategy", f["strategy"])
            put("AMPUSER", fm + "dring", f["dring"])
            put("AMPUSER", fm + "annmsg", "")
            put("AMPUSER", fm + "remotealertmsg", "")
            put("AMPUSER", fm + "toolatemsg", "")
            put("AMPUSER", fm + "postdest", f["postdest"])
            put("AMPUSER", fm + "ringing", f["ringing"])
            if _truthy_setting(s.get("USEDEVSTATE", "1")):
                # DEVICE_STATE(Custom:FOLLOWME<dev>)=BUSY for each device of the user; Asterisk keeps it here.
                for dev in existing:
                    put("CustomDevstate", "FOLLOWME" + dev, "BUSY")
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
        # The GUI form's device callerid "<name> <<ext>>" (regenerated from users.name on reload anyway).
        callerid = "%s <%s>" % (users_name, n)
        if tech == "pjsip":
            plan.sip = pjsip_rows(n, plan.secret, callerid, settings, _major(core_version))
        else:
            plan.sip = chansip_rows(n, plan.secret, callerid, settings)
    if voicemail:
        plan.email = p.get("email") or ""
        plan.vm_line = vmconf.mailbox_line(n, p["voicemailpassword"], raw_name, plan.email, "",
                                           [("attach", "no"), ("saycid", "no"), ("envelope", "no"),
                                            ("delete", "no")])
    if followme:
        grptime = p.get("followmegrptime")
        if grptime is None:
            grptime = int(settings.get("FOLLOWME_TIME") or 20)
        plan.followme = {
            "grpnum": n, "strategy": settings.get("FOLLOWME_RG_STRATEGY") or "ringallv2-prim", "grptime": grptime,
            "grppre": "", "grplist": n, "annmsg_id": None, "postdest": "ext-local,%s,dest" % n, "dring": "",
            "needsconf": "", "remotealert_id": None, "toolate_id": None, "ringing": "Ring",
            "pre_ring": int(settings.get("FOLLOWME_PRERING") or 7), "calendar_enable": 0, "calendar_id": "",
            "calendar_group_id": "", "calendar_match": "yes", "rvolume": "",
        }
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
    result = extcache.build_entry(
        n, plan.user["name"], plan.user["voicemail"], plan.outboundcid, plan.tech if plan.device else None,
        plan.emergencycid, plan.followme is not None, {"email": plan.email} if plan.vm_line else None,
        _after_state(before, ops))
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
        else:
            state.pop(full, None)
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
    boxes = vmconf.mailboxes(vm_text) if vm_text is not None else vmconf.read_mailboxes(runtime().path("voicemail_conf"))
    return extcache.entry_from_rows(u, d, f is not None, boxes, astdb)


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
