"""The fixture office: a small dental practice on FreePBX 17, as FreePBX itself stores it.

"Bayview Dental Group" has 16 extensions (12 chan_pjsip, 2 virtual, 2 chan_sip),
8 voicemail boxes, Follow Me, inbound routes, an IVR, a queue, ring groups, time
conditions, a call-flow toggle, a conference, announcements, system recordings,
MoH classes, trunks, outbound routes, GUI admins and a week of call records.

Every row is written with the columns of the reference DDL and the value
conventions FreePBX uses (see tests/data/freepbx/WRITES.md, referred to
below as "WRITES §x"). The module-level constants describe what was inserted, so
tests can compare API output field by field:

    EXTENSIONS, DIDS, IVRS, QUEUES, RINGGROUPS, TIMECONDITIONS, TIMEGROUPS,
    ANNOUNCEMENTS, CONFERENCES, CALLFLOWS, OUTBOUND_ROUTES, TRUNKS, RECORDINGS,
    MOH_CLASSES, AMPUSERS, FREEPBX_SETTINGS

Outside SQL the office also has: voicemail.conf (`voicemail_conf()`), a voicemail
spool (`build_spool()`), sound files (`build_sounds()`), AstDB (`astdb()`) and the
live Asterisk state for a fake AMI (`ami_state()`).
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import math
import random
import struct
import time
import wave
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

COMPANY = "Bayview Dental Group"
DOMAIN = "bayviewdental.example"
MAIN_DID = "5551230100"
MAIN_CID = '"Bayview Dental" <5551230100>'
FRAMEWORK_VERSION = "17.0.33.2"  # framework version named in the reference DDL header
VM_CONTEXT = "default"

# Default `now` of cdr_rows/load/spool_messages/build_spool/ami_state: fixed once per
# process, so a spool built now and AMI state made a second later still agree.
ANCHOR = int(time.time())


def _now(now: Optional[float]) -> int:
    return ANCHOR if now is None else int(now)


def _secret(ext: str) -> str:
    # FreePBX generates md5(uniqid()) cut to SIPSECRETSIZE (32): 32 lowercase hex.
    return hashlib.md5(("bayview-sip-" + ext).encode()).hexdigest()[:32]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


# ---------------------------------------------------------------------------
# Extensions
# ---------------------------------------------------------------------------

def _ext(number: str, name: str, tech: str, **kw: Any) -> Dict[str, Any]:
    """One extension with every attribute the office stores for it.

    SQL-backed keys: name, secret / sip_callerid / max_contacts (sip rows), dial
    (devices.dial and AstDB DEVICE/<ext>/dial; VIRTUAL/<ext> as the GUI writes it
    for virtual ones), users_voicemail ('default'/'novm'), ringtimer,
    outboundcid, emergency_cid, *_dest/*_cid, followme_* (findmefollow row).
    voicemail.conf: vm_password, email, pager, vm_options. AstDB only:
    callwaiting, dnd, call_forward, followme_enabled (ddial). Live state for
    ami_state(): registered, contacts, in_use, presence.
    """
    vm = kw.pop("vm", None)  # (password, email, pager, options list) or None
    fm = kw.pop("followme", None)  # dict or None
    e: Dict[str, Any] = {
        "number": number,
        "name": name,
        "tech": tech,
        "secret": None if tech == "virtual" else _secret(number),
        "dial": {"pjsip": "PJSIP/", "sip": "SIP/", "virtual": "VIRTUAL/"}[tech] + number,
        "sipdriver": {"pjsip": "chan_pjsip", "sip": "chan_sip", "virtual": None}[tech],
        "sip_callerid": None if tech == "virtual" else "%s <%s>" % (name, number),
        "max_contacts": "1",
        "voicemail": vm is not None,
        "vm_context": VM_CONTEXT if vm else None,
        "vm_password": vm[0] if vm else None,
        "email": vm[1] if vm else None,
        "pager": vm[2] if vm else None,
        "vm_options": list(vm[3]) if vm else [],  # [(key, value)] in voicemail.conf order
        "ringtimer": 0,
        "outboundcid": "",
        "emergency_cid": "",
        "noanswer_dest": "", "busy_dest": "", "chanunavail_dest": "",
        "noanswer_cid": "", "busy_cid": "", "chanunavail_cid": "",
        "followme": fm is not None,
        "followme_enabled": bool(fm and fm["enabled"]),
        "followme_grplist": fm["grplist"] if fm else None,
        "followme_strategy": fm.get("strategy", "ringallv2-prim") if fm else None,
        "followme_grptime": fm.get("grptime", 20) if fm else None,
        "followme_prering": fm.get("prering", 7) if fm else None,
        "followme_postdest": fm.get("postdest", "ext-local,%s,dest" % number) if fm else None,
        "callwaiting": True,
        "dnd": False,
        "call_forward": None,  # AstDB CF/<ext>
        "registered": False,
        "presence": ("available", "", ""),
        "contacts": [],  # registered SIP contacts: (ip, port, user agent, roundtrip usec)
        "in_use": False,
    }
    e.update(kw)
    e["users_voicemail"] = VM_CONTEXT if e["voicemail"] else "novm"
    return e


_STD_VM = (("attach", "yes"), ("saycid", "no"), ("envelope", "no"), ("delete", "no"))

EXTENSIONS: List[Dict[str, Any]] = [
    _ext("101", "Alice Johnson", "pjsip",
         vm=("4821", "alice.johnson@" + DOMAIN, "", (("attach", "yes"), ("saycid", "yes"), ("envelope", "yes"),
                                                    ("delete", "no"))),
         followme={"enabled": True, "grplist": "101-5558675309#"},
         outboundcid='"Alice Johnson" <5551230101>', registered=True,
         contacts=[("192.168.10.21", 5060, "Yealink SIP-T46U 108.86.0.45", 2210)]),
    _ext("102", "Bob Smith", "pjsip", vm=("1357", "bob.smith@" + DOMAIN, "", _STD_VM),
         max_contacts="3", registered=True,
         contacts=[("192.168.10.22", 5060, "Yealink SIP-T54W 96.86.0.70", 1985),
                   ("203.0.113.45", 53211, "Z 5.6.1 v2.10.20.3", 48211)]),
    _ext("103", "Carol White", "pjsip", vm=("2468", "carol.white@" + DOMAIN, "", _STD_VM),
         followme={"enabled": False, "grplist": "103-104", "strategy": "ringallv2-prim"},
         registered=True, presence=("away", "lunch", "Back at two"),
         contacts=[("192.168.10.23", 5060, "PolycomVVX-VVX_450-UA/6.4.3.5018", 3120)]),
    _ext("104", "David Brown", "pjsip", registered=True, in_use=True,
         contacts=[("192.168.10.24", 5060, "Yealink SIP-T46U 108.86.0.45", 2433)]),
    _ext("105", "Emma Davis", "pjsip",
         vm=("9753", "emma.davis@" + DOMAIN, "5551239876@sms." + DOMAIN,
             (("tz", "eastern"), ("attach", "yes"), ("saycid", "yes"), ("envelope", "no"), ("delete", "no"))),
         registered=True, contacts=[("192.168.10.25", 5060, "Yealink SIP-T46U 108.86.0.45", 2050)]),
    _ext("106", "Frank Miller", "pjsip"),
    _ext("107", "Grace Wilson", "pjsip", vm=("8642", "grace.wilson@" + DOMAIN, "", _STD_VM),
         followme={"enabled": True, "grplist": "107-102-5552223333#", "strategy": "hunt", "grptime": 25,
                   "prering": 5},
         registered=True, contacts=[("192.168.10.27", 5060, "Yealink SIP-T31P 124.86.0.40", 2876)]),
    _ext("108", "Henry Moore", "pjsip", dnd=True, registered=True, presence=("dnd", "", ""),
         contacts=[("192.168.10.28", 5060, "Yealink SIP-T31P 124.86.0.40", 2551)]),
    _ext("109", "Front Desk", "pjsip", vm=("1090", "frontdesk@" + DOMAIN, "", _STD_VM),
         ringtimer=25, outboundcid=MAIN_CID, registered=True,
         contacts=[("192.168.10.29", 5060, "Yealink SIP-T58W 150.86.0.21", 1876)]),
    _ext("110", "Conference Room", "pjsip", callwaiting=False,
         noanswer_dest="from-did-direct,109,1", noanswer_cid="CR:", registered=True,
         contacts=[("192.168.10.30", 5060, "PolycomRealPresenceTrio-Trio_8800-UA/7.2.6.0019", 4012)]),
    _ext("111", "Warehouse", "pjsip", emergency_cid="5551230111"),
    _ext("112", "Isabel Garcia", "pjsip", vm=("6112", "isabel.garcia@" + DOMAIN, "", _STD_VM),
         call_forward="5559871234", registered=True,
         contacts=[("192.168.10.32", 5060, "Yealink W76P 25.117.0.20", 2298)]),
    _ext("190", "General Mailbox", "virtual",
         # A comma in the e-mail list is written as '|' in voicemail.conf (WRITES §1.7).
         vm=("1900", "office@%s,alice.johnson@%s" % (DOMAIN, DOMAIN), "", _STD_VM)),
    _ext("191", "On-Call Dentist", "virtual",
         followme={"enabled": True, "grplist": "5554443333#", "strategy": "ringallv2", "grptime": 30,
                   "postdest": "ext-local,vmu190,1"}),
    _ext("201", "Fax ATA", "sip", registered=True,
         contacts=[("192.168.10.61", 5060, "Grandstream HT802 1.0.43.11", 9000)]),
    _ext("202", "Lobby Paging", "sip"),
]

EXTENSIONS_BY_NUMBER: Dict[str, Dict[str, Any]] = {e["number"]: e for e in EXTENSIONS}


def pjsip_rows(e: Dict[str, Any]) -> List[Tuple[str, str, str, int]]:
    """The 54 sip-table rows of a chan_pjsip device (WRITES §1.4, FreePBX 17 values)."""
    n = e["number"]
    max_contacts = e["max_contacts"]
    # addDevice forces remove_existing=yes whenever max_contacts is 1.
    remove_existing = "yes" if max_contacts == "1" else "no"
    rows = [
        (2, "sipdriver", "chan_pjsip"), (52, "secret", e["secret"]), (4, "md5_cred", ""),
        (5, "dtmfmode", "rfc4733"), (6, "trustrpid", "yes"), (7, "sendrpid", "pai"), (8, "qualifyfreq", "60"),
        (9, "transport", ""), (10, "avpf", "no"), (11, "timers", "yes"), (12, "icesupport", "no"),
        (13, "send_connected_line", "no"), (14, "user_eq_phone", "no"), (15, "namedcallgroup", ""),
        (16, "namedpickupgroup", ""), (17, "disallow", ""), (18, "allow", ""), (19, "accountcode", ""),
        (54, "mailbox", "%s@device" % n), (21, "max_contacts", max_contacts),
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
        (55, "account", n), (56, "callerid", e["sip_callerid"]), (58, "outbound_proxy", ""),
    ]
    return [(n, kw, data, flag) for flag, kw, data in rows]


def chansip_rows(e: Dict[str, Any]) -> List[Tuple[str, str, str, int]]:
    """The 36 sip-table rows of a chan_sip device (WRITES §1.4): flags 2-30, then 31-36 and 38."""
    n = e["number"]
    first = [
        ("sipdriver", "chan_sip"), ("dtmfmode", "rfc2833"), ("canreinvite", "no"), ("host", "dynamic"),
        ("trustrpid", "yes"), ("sendrpid", "pai"), ("type", "friend"), ("nat", "yes"), ("port", "5060"),
        ("qualify", "yes"), ("qualifyfreq", "60"), ("transport", "udp,tcp,tls"), ("avpf", "no"),
        ("force_avp", "no"), ("sessiontimers", "accept"), ("videosupport", "inherit"), ("icesupport", "no"),
        ("encryption", "no"), ("namedcallgroup", ""), ("namedpickupgroup", ""), ("disallow", ""),
        ("allow", ""), ("accountcode", ""), ("vmexten", ""), ("deny", "0.0.0.0/0.0.0.0"),
        ("permit", "0.0.0.0/0.0.0.0"), ("defaultuser", ""), ("rtcp_mux", "no"), ("webrtc", ""),
    ]
    rows = [(n, kw, data, flag) for flag, (kw, data) in enumerate(first, start=2)]
    rows += [(n, "dial", "SIP/" + n, 31), (n, "secret", e["secret"], 32), (n, "context", "from-internal", 33),
             (n, "mailbox", "%s@device" % n, 34), (n, "account", n, 35), (n, "callerid", e["sip_callerid"], 36),
             (n, "outbound_proxy", "", 38)]
    return rows


def sip_rows(number: str) -> List[Tuple[str, str, str, int]]:
    """(id, keyword, data, flags) rows the office has in `sip` for device `number` ([] for virtual)."""
    e = EXTENSIONS_BY_NUMBER[number]
    if e["tech"] == "pjsip":
        return pjsip_rows(e)
    if e["tech"] == "sip":
        return chansip_rows(e)
    return []


# ---------------------------------------------------------------------------
# System recordings, MoH
# ---------------------------------------------------------------------------

# `files`: sound name -> {language: [formats]}; build_sounds() writes exactly these.
RECORDINGS: List[Dict[str, Any]] = [
    {"id": 1, "displayname": "Welcome Greeting", "filename": "custom/welcome",
     "description": "Thank you for calling Bayview Dental", "fcode": 0, "fcode_pass": "", "fcode_lang": "",
     "files": {"custom/welcome": {"en": ["wav", "gsm", "ulaw"], "fr": ["wav"]}}},
    {"id": 2, "displayname": "Main Menu Options", "filename": "custom/main-menu",
     "description": "For appointments press 1, billing press 2", "fcode": 1, "fcode_pass": "7311",
     "fcode_lang": "en", "files": {"custom/main-menu": {"en": ["wav", "ulaw"]}}},
    {"id": 3, "displayname": "After Hours", "filename": "custom/after-hours",
     "description": "Office closed, hours are", "fcode": 0, "fcode_pass": "", "fcode_lang": "",
     "files": {"custom/after-hours": {"en": ["wav"]}}},
    # Compound recording: two sound files played in order (SCHEMA §4 recordings).
    {"id": 4, "displayname": "Holiday Closure", "filename": "custom/holiday-closed&custom/after-hours",
     "description": "Closed for the holiday, then the hours", "fcode": 0, "fcode_pass": "", "fcode_lang": "",
     "files": {"custom/holiday-closed": {"en": ["wav", "gsm"]}, "custom/after-hours": {"en": ["wav"]}}},
    {"id": 5, "displayname": "Queue Join", "filename": "custom/queue-join",
     "description": "All of our staff are busy", "fcode": 0, "fcode_pass": "", "fcode_lang": "",
     "files": {"custom/queue-join": {"en": ["wav"]}}},
]

MOH_CLASSES: List[Dict[str, Any]] = [
    {"id": 1, "category": "default", "type": "files", "random": 0, "application": "", "format": ""},
    {"id": 2, "category": "jazz", "type": "files", "random": 1, "application": "", "format": ""},
]

# ---------------------------------------------------------------------------
# Call-flow objects
# ---------------------------------------------------------------------------

TIMEGROUPS: List[Dict[str, Any]] = [
    {"id": 1, "description": "Business Hours",
     "rules": [(1, "08:30-17:30|mon-fri|*|*"), (2, "09:00-12:00|sat|*|*")]},
    {"id": 2, "description": "Holidays",
     "rules": [(3, "*|*|25|dec"), (4, "*|*|1|jan"), (5, "*|*|4|jul")]},
]

TIMECONDITIONS: List[Dict[str, Any]] = [
    {"timeconditions_id": 1, "displayname": "Office Hours", "time": 1, "truegoto": "ivr-1,s,1",
     "falsegoto": "app-announcement-2,s,1", "deptname": "", "generate_hint": 1, "invert_hint": 0,
     "fcc_password": "", "priority": "", "timezone": "default", "mode": "time-group", "calendar_id": None,
     "calendar_group_id": None, "override": ""},
    {"timeconditions_id": 2, "displayname": "Holiday Check", "time": 2, "truegoto": "app-announcement-1,s,1",
     "falsegoto": "timeconditions,1,1", "deptname": "", "generate_hint": 0, "invert_hint": 0,
     "fcc_password": "", "priority": "", "timezone": "default", "mode": "time-group", "calendar_id": None,
     "calendar_group_id": None, "override": ""},
]

ANNOUNCEMENTS: List[Dict[str, Any]] = [
    {"announcement_id": 1, "description": "Holiday Message", "recording_id": 4, "allow_skip": 0,
     "post_dest": "app-blackhole,hangup,1", "return_ivr": 0, "noanswer": 0, "repeat_msg": ""},
    {"announcement_id": 2, "description": "After Hours Message", "recording_id": 3, "allow_skip": 1,
     "post_dest": "ext-local,vmu190,1", "return_ivr": 0, "noanswer": 0, "repeat_msg": ""},
]

IVRS: List[Dict[str, Any]] = [
    {"id": 1, "name": "Main Menu", "description": "Daytime main menu", "announcement": 2,
     "directdial": "ext-local", "invalid_loops": "3", "invalid_retry_recording": "default",
     "invalid_destination": "from-did-direct,109,1", "timeout_enabled": None, "invalid_recording": "default",
     "retvm": "", "timeout_time": 10, "timeout_recording": "default", "timeout_retry_recording": "default",
     "timeout_destination": "from-did-direct,109,1", "timeout_loops": "3", "timeout_append_announce": 1,
     "invalid_append_announce": 1, "timeout_ivr_ret": 0, "invalid_ivr_ret": 0, "alertinfo": "", "rvolume": "",
     "strict_dial_timeout": 2, "accept_pound_key": 0,
     "entries": [
         {"selection": "1", "dest": "ext-group,600,1", "ivr_ret": 0},
         {"selection": "2", "dest": "ext-queues,400,1", "ivr_ret": 0},
         {"selection": "3", "dest": "from-did-direct,105,1", "ivr_ret": 0},
         {"selection": "8", "dest": "ext-local,vmu190,1", "ivr_ret": 0},
         {"selection": "0", "dest": "from-did-direct,109,1", "ivr_ret": 0},
     ]},
]

QUEUES: List[Dict[str, Any]] = [
    {"extension": "400", "descr": "Patient Support", "grppre": "SUP:", "alertinfo": "", "ringing": 0,
     "maxwait": "300", "password": "", "ivr_id": "none", "dest": "ext-local,vmu190,1", "cwignore": 0,
     "queuewait": 0, "use_queue_context": 0, "togglehint": 0, "qnoanswer": 0, "callconfirm": 0,
     "callconfirm_id": None, "qregex": "", "agentannounce_id": None, "joinannounce_id": 5, "monitor_type": "",
     "monitor_heard": 0, "monitor_spoken": 0, "callback_id": "none",
     "strategy": "rrmemory",
     "members": ["102", "103", "104"],
     # queues.conf options as queues_details rows (member rows are added from `members`).
     "details": [
         ("announce-frequency", "0"), ("announce-holdtime", "no"), ("announce-position", "no"),
         ("autofill", "yes"), ("joinempty", "yes"), ("leavewhenempty", "no"), ("maxlen", "0"),
         ("memberdelay", "0"), ("music", "jazz"), ("penaltymemberslimit", "0"),
         ("periodic-announce-frequency", "0"), ("recording", "dontcare"), ("reportholdtime", "no"),
         ("retry", "5"), ("ringinuse", "no"), ("servicelevel", "60"), ("strategy", "rrmemory"),
         ("timeout", "15"), ("timeoutrestart", "no"), ("weight", "0"), ("wrapuptime", "0"),
     ],
     "dynamic_members": {"105": "0"}},  # AstDB QPENALTY/400/agents/105 (logged in with penalty 0)
]

RINGGROUPS: List[Dict[str, Any]] = [
    {"grpnum": "600", "strategy": "ringall", "grptime": 20, "grppre": "Appt:", "grplist": "101-102-107",
     "annmsg_id": None, "postdest": "ext-local,vmu190,1", "description": "Appointments", "alertinfo": "",
     "remotealert_id": None, "needsconf": "", "toolate_id": None, "ringing": "Ring", "cwignore": "",
     "cfignore": "", "cpickup": "", "recording": "dontcare", "progress": "yes", "elsewhere": "no", "rvolume": ""},
    # An external member: trailing '#' (WRITES §5).
    {"grpnum": "601", "strategy": "hunt", "grptime": 15, "grppre": "", "grplist": "101-105-5551234567#",
     "annmsg_id": None, "postdest": "ext-local,vmu101,1", "description": "Management", "alertinfo": "",
     "remotealert_id": None, "needsconf": "", "toolate_id": None, "ringing": "Ring", "cwignore": "CHECKED",
     "cfignore": "", "cpickup": "", "recording": "dontcare", "progress": "yes", "elsewhere": "no", "rvolume": ""},
]

CONFERENCES: List[Dict[str, Any]] = [
    {"exten": "800", "options": "oTMI", "userpin": "4455", "adminpin": "9911", "description": "Staff Meeting",
     "joinmsg_id": 0, "music": "default", "users": 0, "language": "", "timeout": 21600},
]

CALLFLOWS: List[Dict[str, Any]] = [
    {"ext": "0", "fc_description": "Snow Day Override", "day": "timeconditions,2,1",
     "night": "app-announcement-2,s,1", "password": "", "day_recording_id": "", "night_recording_id": "",
     "state": "DAY", "featurecode": "*280"},
]


def did_row(extension: str, destination: str, description: str, cidnum: str = "", **kw: Any) -> Dict[str, Any]:
    # Core::addDIDDefaults (core 17): every column filled, '' (never NULL) for "any CID".
    row = {"cidnum": cidnum, "extension": extension, "destination": destination, "privacyman": 0,
           "alertinfo": "", "ringing": "", "fanswer": "", "mohclass": "default", "description": description,
           "grppre": "", "delay_answer": 0, "pricid": "", "pmmaxretries": "3", "pmminlength": "10",
           "reversal": "", "rvolume": "0", "indication_zone": "default"}
    row.update(kw)
    return row


DIDS: List[Dict[str, Any]] = [
    did_row(MAIN_DID, "timeconditions,2,1", "Main Number"),
    # Same number as the carrier sometimes delivers it (11 digits) - a different route.
    did_row("1" + MAIN_DID, "ivr-1,s,1", "Main Number (11 digit)"),
    did_row("5551230101", "from-did-direct,101,1", "Alice Direct"),
    did_row("5551230102", "ext-local,vmu102,1", "Bob Direct (to voicemail)"),
    did_row("5551230102", "from-did-direct,102,1", "Bob Direct - VIP client", cidnum="5559876543",
         ringing="CHECKED", grppre="VIP:"),
    did_row("5551230400", "ext-queues,400,1", "Support Line", mohclass="jazz"),
    did_row("_55512302XX", "app-daynight,0,1", "Clinic Lines"),
    did_row("", "from-did-direct,109,1", "Catch-all"),
]

TRUNKS: List[Dict[str, Any]] = [
    {"trunkid": 1, "name": "carrier_primary", "tech": "pjsip", "outcid": MAIN_CID, "keepcid": "off",
     "maxchans": "", "failscript": "", "dialoutprefix": "", "channelid": "carrier_primary", "usercontext": "",
     "provider": "", "disabled": "off", "continue": "off", "routedisplay": "on",
     "dialpatterns": [("", "NXXNXXXXXX", "1", 1)],
     "username": "bayview", "secret": "Tr7nkPrimary2024", "sip_server": "sip.primarycarrier.example"},
    {"trunkid": 2, "name": "carrier_backup", "tech": "sip", "outcid": "5551230100", "keepcid": "cnum",
     "maxchans": "4", "failscript": "", "dialoutprefix": "", "channelid": "carrier_backup", "usercontext": "",
     "provider": "", "disabled": "off", "continue": "on", "routedisplay": "on",
     "dialpatterns": [("", "NXXNXXXXXX", "1", 1)],
     "username": "bayview2", "secret": "Bkp9TrunkSecret", "sip_server": "sip.backupcarrier.example"},
]

OUTBOUND_ROUTES: List[Dict[str, Any]] = [
    {"route_id": 1, "name": "Emergency", "outcid": "", "outcid_mode": "", "password": "",
     "emergency_route": "YES", "intracompany_route": "", "mohclass": "default", "time_group_id": None, "dest": "",
     "time_mode": "", "calendar_id": "", "calendar_group_id": "", "timezone": "", "notification_on": "call",
     "seq": 0, "patterns": [("", "911", "", ""), ("", "933", "", "")], "trunks": [1, 2]},
    {"route_id": 2, "name": "US-Outbound", "outcid": "", "outcid_mode": "", "password": "",
     "emergency_route": "", "intracompany_route": "", "mohclass": "default", "time_group_id": None, "dest": "",
     "time_mode": "", "calendar_id": "", "calendar_group_id": "", "timezone": "", "notification_on": "call",
     "seq": 1,
     "patterns": [("", "NXXNXXXXXX", "", ""), ("", "1NXXNXXXXXX", "", ""), ("9", "NXXNXXXXXX", "", ""),
                  ("9", "1NXXNXXXXXX", "", "")],
     "trunks": [1, 2]},
    {"route_id": 3, "name": "International", "outcid": MAIN_CID, "outcid_mode": "override_extension",
     "password": "8675", "emergency_route": "", "intracompany_route": "", "mohclass": "default",
     "time_group_id": 1, "dest": "", "time_mode": "time-group", "calendar_id": "", "calendar_group_id": "",
     "timezone": "", "notification_on": "call", "seq": 2,
     "patterns": [("", "011.", "", ""), ("9", "011.", "", "")], "trunks": [1]},
]

AMPUSERS: List[Dict[str, Any]] = [
    {"username": "admin", "password": "Bayv1ew!Admin", "email": "it@" + DOMAIN, "extension": "",
     "extension_low": "", "extension_high": "", "deptname": "", "sections": "*"},
    {"username": "helpdesk", "password": "HelpDesk#2024", "email": "helpdesk@" + DOMAIN, "extension": "109",
     "extension_low": "100", "extension_high": "199", "deptname": "", "sections": "extensions;did;99"},
    {"username": "auditor", "password": "Aud1t-Only", "email": None, "extension": None,
     "extension_low": "", "extension_high": "", "deptname": "", "sections": "cdr"},
]
for _u in AMPUSERS:
    _u["password_sha1"] = _sha1(_u["password"])
del _u

MODULES: List[Tuple[str, str]] = [
    ("framework", FRAMEWORK_VERSION), ("core", "17.0.18.4"), ("voicemail", "17.0.5.23"),
    ("findmefollow", "17.0.4.5"), ("ringgroups", "17.0.2.4"), ("queues", "17.0.1.6"), ("ivr", "17.0.4"),
    ("timeconditions", "17.0.1.13"), ("daynight", "17.0.1.1"), ("announcement", "17.0.2.1"),
    ("conferences", "17.0.3.1"), ("recordings", "17.0.2.2"), ("music", "17.0.4"), ("cdr", "17.0.4.24"),
    ("cel", "17.0.2.7"), ("userman", "17.0.6.29"),
]

# ---------------------------------------------------------------------------
# Advanced Settings (freepbx_settings)
# ---------------------------------------------------------------------------


def _setting(keyword: str, value: Any, name: str, type_: str, category: str, *, default: Any = None,
             options: Union[str, Sequence[Any]] = "", level: int = 0, readonly: int = 0, hidden: int = 0,
             emptyok: int = 0, module: str = "", sortorder: int = 0, description: str = "") -> Dict[str, Any]:
    """A freepbx_settings row as freepbx_conf::define_conf_setting stores it.

    Booleans are stored '1'/'0', select/int options comma-joined, `defaultval`
    = the installer value (value may differ when the box changed it).
    """
    def text(v: Any) -> str:
        if isinstance(v, bool):
            return "1" if v else "0"
        return str(v)

    if not isinstance(options, str):
        options = ",".join(str(o) for o in options)
    return {"keyword": keyword, "value": text(value), "name": name, "level": level,
            "description": description or name, "type": type_, "options": options,
            "defaultval": text(value if default is None else default), "readonly": readonly, "hidden": hidden,
            "category": category, "module": module, "emptyok": emptyok, "sortorder": sortorder}


_DIR = "Directory Layout"
_MGR = "Asterisk Manager"
_CDR = "Remote CDR Database"
_DEV = "Device Settings"
_OPS = "Dialplan and Operational"
_FM = "Follow Me Module"

FREEPBX_SETTINGS: List[Dict[str, Any]] = [
    # Asterisk Manager (framework installer). The installer randomises AMPMGRPASS on a
    # real install; this office keeps the documented defaults admin/amp111.
    _setting("AMPMGRUSER", "admin", "Asterisk Manager User", "text", _MGR, level=2,
             description="Username for accessing the Asterisk Manager Interface (AMI), this will be "
                         "automatically updated in manager.conf."),
    _setting("AMPMGRPASS", "amp111", "Asterisk Manager Password", "text", _MGR, level=2,
             description="Password for accessing the Asterisk Manager Interface (AMI), this will be "
                         "automatically updated in manager.conf."),
    _setting("ASTMANAGERHOST", "localhost", "Asterisk Manager Host", "text", _MGR, level=2, readonly=1,
             description="Hostname for the Asterisk Manager"),
    _setting("ASTMANAGERPORT", "5038", "Asterisk Manager Port", "int", _MGR, options=(1024, 65535), level=2,
             readonly=1, description="Port for the Asterisk Manager"),
    _setting("ASTMANAGERPROXYPORT", "", "Asterisk Manager Proxy Port", "int", _MGR, options=(1024, 65535),
             level=2, readonly=1, emptyok=1, description="Optional port for an Asterisk Manager Proxy"),
    # Directory layout
    _setting("AMPBIN", "/var/lib/asterisk/bin", "FreePBX bin Dir", "dir", _DIR, level=4, readonly=1,
             description="Location of the FreePBX command line scripts."),
    _setting("AMPSBIN", "/usr/sbin", "FreePBX sbin Dir", "dir", _DIR, level=4, readonly=1,
             description="Where (root) command line scripts are located."),
    _setting("AMPWEBROOT", "/var/www/html", "FreePBX Web Root Dir", "dir", _DIR, level=4, readonly=1,
             description="The path to Apache webroot (leave off trailing slash)."),
    _setting("ASTAGIDIR", "/var/lib/asterisk/agi-bin", "Asterisk AGI Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks agi files."),
    _setting("ASTETCDIR", "/etc/asterisk", "Asterisk etc Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks configuration files."),
    _setting("ASTLOGDIR", "/var/log/asterisk", "Asterisk Log Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks log files."),
    _setting("ASTMODDIR", "/usr/lib/asterisk/modules", "Asterisk Modules Dir", "dir", _DIR, level=4,
             readonly=1, description="This is the default directory for Asterisks modules."),
    _setting("ASTSPOOLDIR", "/var/spool/asterisk", "Asterisk Spool Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks spool directory."),
    _setting("ASTRUNDIR", "/var/run/asterisk", "Asterisk Run Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks run files."),
    _setting("ASTVARLIBDIR", "/var/lib/asterisk", "Asterisk bin Dir", "dir", _DIR, level=4, readonly=1,
             description="This is the default directory for Asterisks lib files."),
    _setting("MOHDIR", "moh", "MoH Subdirectory", "select", _DIR, options=("moh", "mohmp3"), level=4,
             readonly=1, description="This is the subdirectory for the MoH files/directories which is located "
                                     "in ASTVARLIBDIR."),
    _setting("MIXMON_DIR", "", "Override Call Recording Location", "dir", _DIR, level=9, readonly=1, emptyok=1,
             description="Override the default location where asterisk will store call recordings. Be sure to "
                         "set proper permissions on the directory for the asterisk user."),
    # System setup / GUI
    _setting("AMPEXTENSIONS", "extensions", "User & Devices Mode", "select", "System Setup",
             options="extensions,deviceanduser", sortorder=-135,
             description="Sets the extension behavior in FreePBX."),
    # userman sets usermanager on every install; ampusers rows still authenticate (WRITES §4).
    _setting("AUTHTYPE", "usermanager", "Authorization Type", "select", "System Setup", default="database",
             options="database,none,webserver,usermanager", level=3, readonly=1, sortorder=-130,
             description="Authentication type to use for web admin."),
    _setting("SIPSECRETSIZE", "32", "Size of generated sip secrets", "int", "GUI Behavior", options=(6, 32),
             level=9, readonly=1,
             description="When creating a new sip extension this sets the max size of the generated secret. "
                         "This generally should be default."),
    # Dialplan and operational
    _setting("ASTCONFAPP", "app_confbridge", "Conference Room App", "select", _OPS,
             options=("app_meetme", "app_confbridge"),
             description="The asterisk application to use for conferencing."),
    _setting("ASTSIPDRIVER", "both", "SIP Channel Driver", "select", _OPS,
             options=("both", "chan_sip", "chan_pjsip"), level=2,
             description="The Asterisk channel driver to use for SIP."),
    _setting("CONCURRENCYLIMITDEFAULT", "3", "Extension Concurrency Limit", "select", _OPS, options=range(0, 121),
             description="Default maximum number of outbound simultaneous calls that an extension can make."),
    _setting("CFRINGTIMERDEFAULT", "0", "Call Forward Ringtimer Default", "select", _OPS,
             options=range(-1, 121),
             description="This is the default time in seconds to try and connect a call that has been call "
                         "forwarded by the server side CF, CFU and CFB options."),
    _setting("ENABLECW", True, "CW Enabled by Default", "bool", _OPS,
             description="Enable call waiting by default when an extension is created (Default is yes)."),
    _setting("DYNAMICHINTS", False, "Dynamically Generate Hints", "bool", _OPS, readonly=1,
             description="If true, Core will not statically generate hints."),
    # Deprecated and forced on since FreePBX 13 (framework upgrade script hides it).
    _setting("USEDEVSTATE", True, "Enable Custom Device States", "bool", _OPS, hidden=1,
             description="This allows custom hints to be created to support BLF for server side feature codes "
                         "such as daynight, followme, etc"),
    # Remote CDR database: all empty = the local asteriskcdrdb.cdr
    _setting("CDRDBHOST", "", "Remote CDR DB Host", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRDBNAME", "", "Remote CDR DB Name", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRDBPASS", "", "Remote CDR DB Password", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRDBPORT", "", "Remote CDR DB Port", "int", _CDR, options=(1024, 65536), level=3, readonly=1,
             emptyok=1),
    _setting("CDRDBTABLENAME", "", "Remote CDR DB Table", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRDBTYPE", "", "Remote CDR DB Type", "select", _CDR, options=",mysql,postgres", level=3,
             readonly=1, emptyok=1),
    _setting("CDRDBUSER", "", "Remote CDR DB User", "text", _CDR, level=3, readonly=1, emptyok=1),
    _setting("CDRUSEGMT", False, "Use GMT Time", "bool", _CDR, readonly=1,
             description="Insert the date information into the CDR database using GMT time"),
    # cel module settings (names/description not verified against the cel module source).
    _setting("CELDBNAME", "", "Remote CEL DB Name", "text", _CDR, level=3, readonly=1, emptyok=1, module="cel"),
    _setting("CELDBTABLENAME", "", "Remote CEL DB Table", "text", _CDR, level=3, readonly=1, emptyok=1,
             module="cel"),
    # Device defaults read when a device is created (WRITES §1.4)
    _setting("DEVICE_STRONG_SECRETS", True, "Require Strong Secrets", "bool", _DEV, sortorder=12),
    _setting("DEVICE_REMOVE_MAILBOX", False, "Remove mailbox Setting when no Voicemail", "bool", _DEV,
             sortorder=15),
    _setting("DEVICE_SIP_CANREINVITE", "no", "SIP canrenivite (directmedia)", "select", _DEV,
             options=("no", "yes", "nonat", "update"), sortorder=20),
    _setting("DEVICE_SIP_DTMF", "rfc2833", "SIP DTMF Signaling", "select", _DEV,
             options=("rfc2833", "auto", "shortinfo", "info", "inband"), sortorder=20),
    _setting("DEVICE_SIP_TRUSTRPID", "yes", "SIP trustrpid", "select", _DEV, options=("no", "yes"), sortorder=30),
    _setting("DEVICE_SIP_SENDRPID", "pai", "SIP sendrpid", "select", _DEV, options=("no", "yes", "pai"),
             sortorder=40),
    _setting("DEVICE_SIP_NAT", "yes", "SIP nat", "select", _DEV, options=("no", "yes", "never", "route"),
             sortorder=50),
    _setting("DEVICE_SIP_ENCRYPTION", "no", "SIP encryption", "select", _DEV, options=("no", "yes"),
             sortorder=60),
    _setting("DEVICE_SIP_QUALIFYFREQ", "60", "SIP qualifyfreq", "int", _DEV, options=(15, 86400), sortorder=70),
    _setting("DEVICE_QUALIFY", "yes", "SIP and IAX qualify", "text", _DEV, sortorder=80),
    _setting("DEVICE_DISALLOW", "", "SIP and IAX disallow", "text", _DEV, emptyok=1, sortorder=90),
    _setting("DEVICE_ALLOW", "", "SIP and IAX allow", "text", _DEV, emptyok=1, sortorder=90),
    _setting("DEVICE_CALLGROUP", "", "SIP and DAHDi callgroup", "text", _DEV, emptyok=1, sortorder=100),
    _setting("DEVICE_PICKUPGROUP", "", "SIP and DAHDi pickupgroup", "text", _DEV, emptyok=1, sortorder=110),
    # findmefollow install.php
    _setting("FOLLOWME_AUTO_CREATE", False, "Create Follow Me at Extension Creation Time", "bool", _FM,
             level=1, module="findmefollow", sortorder=30),
    _setting("FOLLOWME_DISABLED", True, "Disable Follow Me Upon Creation", "bool", _FM, level=1,
             module="findmefollow", sortorder=40),
    _setting("FOLLOWME_TIME", "20", "Default Follow Me Ring Time", "select", _FM, options=range(5, 121),
             level=1, module="findmefollow", sortorder=50),
    _setting("FOLLOWME_PRERING", "7", "Default Follow Me Initial Ring Time", "select", _FM,
             options=range(5, 61), level=1, module="findmefollow", sortorder=60),
    _setting("FOLLOWME_RG_STRATEGY", "ringallv2-prim", "Default Follow Me Ring Strategy", "select", _FM,
             options=("ringallv2", "ringallv2-prim", "ringall", "ringall-prim", "hunt", "hunt-prim",
                      "memoryhunt", "memoryhunt-prim", "firstavailable", "firstnotonphone"),
             level=1, module="findmefollow", sortorder=70),
]

SETTINGS: Dict[str, str] = {s["keyword"]: s["value"] for s in FREEPBX_SETTINGS}

# ---------------------------------------------------------------------------
# Rows of the `asterisk` (config) database
# ---------------------------------------------------------------------------

def _featurecode(module: str, feature: str, description: str, default: str, providedest: int) -> Dict[str, Any]:
    # framework featurecode::update(): helptext '' and customcode '' (not NULL); enabled 1.
    return {"modulename": module, "featurename": feature, "description": description, "helptext": "",
            "defaultcode": default, "customcode": "", "enabled": 1, "providedest": providedest, "depend": None}


def _pjsip_trunk_rows(t: Dict[str, Any]) -> List[Dict[str, Any]]:
    """pjsip-table rows of a PJSIP trunk: the trunk form's fields minus PJSip::addTrunk's ignore list, flags 0."""
    settings = [
        ("extdisplay", "OUT_%d" % t["trunkid"]), ("sv_trunk_name", t["name"]), ("sv_usercontext", ""),
        ("sv_channelid", t["channelid"]), ("npanxx", ""), ("trunk_name", t["name"]), ("hcid", "on"),
        ("maxchans", t["maxchans"]), ("dialoutopts_cb", "sys"), ("disabletrunk", "off"),
        ("failtrunk_enable", "0"), ("username", t["username"]), ("auth_username", ""),
        ("secret", t["secret"]), ("authentication", "outbound"), ("registration", "send"), ("language", ""),
        ("sip_server", t["sip_server"]), ("sip_server_port", "5060"), ("context", "from-pstn"),
        ("transport", "0.0.0.0-udp"), ("dtmfmode", "auto"), ("auth_rejection_permanent", "off"),
        ("allow_unauthenticated_options", "off"), ("forbidden_retry_interval", "30"),
        ("fatal_retry_interval", "30"), ("retry_interval", "60"), ("expiration", "3600"),
        ("max_retries", "10000"), ("qualify_frequency", "60"), ("outbound_proxy", ""),
        ("user_eq_phone", "no"), ("contact_user", ""), ("from_domain", ""), ("from_user", ""),
        ("client_uri", ""), ("server_uri", ""), ("media_address", ""), ("aors", ""), ("aor_contact", ""),
        ("match", ""), ("support_path", "no"), ("t38_udptl", "no"), ("t38_udptl_ec", "none"),
        ("t38_udptl_nat", "no"), ("t38_udptl_maxdatagram", ""), ("fax_detect", "no"), ("trust_rpid", "no"),
        ("sendrpid", "no"), ("trust_id_outbound", "no"), ("identify_by", "default"), ("inband_progress", "no"),
        ("direct_media", "no"), ("rewrite_contact", "no"), ("rtp_symmetric", "yes"),
        ("media_encryption", "no"), ("force_rport", "yes"), ("message_context", ""), ("dialopts", ""),
        ("peerdetails", ""), ("userconfig", ""), ("register", ""), ("codecs", "ulaw,alaw,gsm,g726,g722"),
    ]
    return [{"id": str(t["trunkid"]), "keyword": k, "data": v, "flags": 0} for k, v in settings]


def _chansip_trunk_rows(t: Dict[str, Any]) -> List[Dict[str, Any]]:
    """sip-table rows of a chan_sip trunk (Core::addSipOrIaxTrunk + addTrunkRegister).

    `account` comes first, then the PEER Details lines in order; flags count
    from 2. The registration string is a separate `tr-reg-<id>` row, flags 0.
    """
    peer = [("account", t["channelid"]), ("host", t["sip_server"]), ("username", t["username"]),
            ("secret", t["secret"]), ("type", "peer"), ("context", "from-trunk"), ("insecure", "port,invite"),
            ("qualify", "yes"), ("disallow", "all"), ("allow", "ulaw&alaw"), ("fromuser", t["username"]),
            ("fromdomain", t["sip_server"])]
    rows = [{"id": "tr-peer-%d" % t["trunkid"], "keyword": k, "data": v, "flags": i}
            for i, (k, v) in enumerate(peer, start=2)]
    rows.append({"id": "tr-reg-%d" % t["trunkid"], "keyword": "register",
                 "data": "%s:%s@%s/%s" % (t["username"], t["secret"], t["sip_server"], MAIN_DID), "flags": 0})
    return rows


def config_rows() -> Dict[str, List[Dict[str, Any]]]:
    """Every row load() writes into the config database, per table, as column -> value dicts."""
    t: Dict[str, List[Dict[str, Any]]] = {}

    t["admin"] = [{"variable": "need_reload", "value": "false"},
                  {"variable": "version", "value": FRAMEWORK_VERSION}]
    t["ampusers"] = [{k: u[k] for k in ("username", "email", "extension", "password_sha1", "extension_low",
                                        "extension_high", "deptname", "sections")} for u in AMPUSERS]
    t["freepbx_settings"] = [dict(s) for s in FREEPBX_SETTINGS]
    t["modules"] = [{"id": i, "modulename": m, "version": v, "enabled": 1, "signature": None}
                    for i, (m, v) in enumerate(MODULES, start=1)]

    # users / devices / sip (WRITES §1.2-1.4, §1.9: virtual = users row only)
    t["users"], t["devices"], t["sip"] = [], [], []
    for e in EXTENSIONS:
        t["users"].append({
            "extension": e["number"], "password": "", "name": e["name"], "voicemail": e["users_voicemail"],
            "ringtimer": e["ringtimer"], "noanswer": "", "recording": "", "outboundcid": e["outboundcid"],
            "sipname": "", "noanswer_cid": e["noanswer_cid"], "busy_cid": e["busy_cid"],
            "chanunavail_cid": e["chanunavail_cid"], "noanswer_dest": e["noanswer_dest"],
            "busy_dest": e["busy_dest"], "chanunavail_dest": e["chanunavail_dest"],
            # mohclass is not written by addUser: the column default 'default' applies.
        })
        if e["tech"] == "virtual":
            continue
        t["devices"].append({"id": e["number"], "tech": e["tech"], "dial": e["dial"], "devicetype": "fixed",
                             "user": e["number"], "description": e["name"], "emergency_cid": e["emergency_cid"],
                             "hint_override": None})
        t["sip"].extend({"id": i, "keyword": k, "data": d, "flags": f} for i, k, d, f in sip_rows(e["number"]))

    t["findmefollow"] = [{
        "grpnum": e["number"], "strategy": e["followme_strategy"], "grptime": e["followme_grptime"],
        "grppre": "", "grplist": e["followme_grplist"], "annmsg_id": None, "postdest": e["followme_postdest"],
        "dring": "", "rvolume": "", "remotealert_id": None, "needsconf": "", "toolate_id": None,
        "pre_ring": e["followme_prering"], "ringing": "Ring", "calendar_enable": 0, "calendar_id": "",
        "calendar_group_id": "", "calendar_match": "yes"} for e in EXTENSIONS if e["followme"]]

    t["incoming"] = [dict(d) for d in DIDS]

    t["trunks"], t["trunk_dialpatterns"], t["pjsip"] = [], [], []
    for tr in TRUNKS:
        t["trunks"].append({k: tr[k] for k in ("trunkid", "name", "tech", "outcid", "keepcid", "maxchans",
                                                "failscript", "dialoutprefix", "channelid", "usercontext",
                                                "provider", "disabled", "continue", "routedisplay")})
        for prefix, pass_, prepend, seq in tr["dialpatterns"]:
            t["trunk_dialpatterns"].append({"trunkid": tr["trunkid"], "match_pattern_prefix": prefix,
                                            "match_pattern_pass": pass_, "prepend_digits": prepend, "seq": seq})
        if tr["tech"] == "pjsip":
            t["pjsip"].extend(_pjsip_trunk_rows(tr))
        else:
            t["sip"].extend(_chansip_trunk_rows(tr))

    route_cols = ("route_id", "name", "outcid", "outcid_mode", "password", "emergency_route",
                  "intracompany_route", "mohclass", "time_group_id", "dest", "time_mode", "calendar_id",
                  "calendar_group_id", "timezone", "notification_on")
    t["outbound_routes"] = [{k: r[k] for k in route_cols} for r in OUTBOUND_ROUTES]
    t["outbound_route_sequence"] = [{"route_id": r["route_id"], "seq": r["seq"]} for r in OUTBOUND_ROUTES]
    t["outbound_route_patterns"] = [
        {"route_id": r["route_id"], "match_pattern_prefix": p, "match_pattern_pass": s, "match_cid": c,
         "prepend_digits": d} for r in OUTBOUND_ROUTES for p, s, c, d in r["patterns"]]
    t["outbound_route_trunks"] = [{"route_id": r["route_id"], "trunk_id": tid, "seq": i}
                                  for r in OUTBOUND_ROUTES for i, tid in enumerate(r["trunks"])]

    t["recordings"] = [{k: r[k] for k in ("id", "displayname", "filename", "description", "fcode", "fcode_pass",
                                          "fcode_lang")} for r in RECORDINGS]
    t["music"] = [dict(m) for m in MOH_CLASSES]
    t["announcement"] = [dict(a) for a in ANNOUNCEMENTS]

    t["ivr_details"] = [{k: v for k, v in i.items() if k != "entries"} for i in IVRS]
    t["ivr_entries"] = [dict(ivr_id=i["id"], **e) for i in IVRS for e in i["entries"]]

    qc_cols = ("extension", "descr", "grppre", "alertinfo", "ringing", "maxwait", "password", "ivr_id", "dest",
               "cwignore", "queuewait", "use_queue_context", "togglehint", "qnoanswer", "callconfirm",
               "callconfirm_id", "qregex", "agentannounce_id", "joinannounce_id", "monitor_type",
               "monitor_heard", "monitor_spoken", "callback_id")
    t["queues_config"] = [{k: q[k] for k in qc_cols} for q in QUEUES]
    t["queues_details"] = []
    for q in QUEUES:
        t["queues_details"].extend({"id": q["extension"], "keyword": k, "data": v, "flags": 0}
                                   for k, v in q["details"])
        # Static agents: Local/<ext>@from-queue/n,<penalty>, flags = position (SCHEMA §4).
        t["queues_details"].extend({"id": q["extension"], "keyword": "member",
                                    "data": "Local/%s@from-queue/n,0" % m, "flags": pos}
                                   for pos, m in enumerate(q["members"]))

    t["ringgroups"] = [dict(r) for r in RINGGROUPS]
    t["meetme"] = [dict(c) for c in CONFERENCES]

    t["timegroups_groups"] = [{"id": g["id"], "description": g["description"]} for g in TIMEGROUPS]
    t["timegroups_details"] = [{"id": rid, "timegroupid": g["id"], "time": rule}
                               for g in TIMEGROUPS for rid, rule in g["rules"]]
    t["timeconditions"] = [{k: v for k, v in tc.items() if k != "override"} for tc in TIMECONDITIONS]

    # daynight: Daynight::edit() writes day, night, password (only if set), fc_description and the
    # two recording ids ('' = default prompt).
    t["daynight"] = []
    for cf in CALLFLOWS:
        for dmode in ("day", "night", "password", "fc_description", "day_recording_id", "night_recording_id"):
            if dmode == "password" and not cf["password"]:
                continue
            t["daynight"].append({"ext": cf["ext"], "dmode": dmode, "dest": cf[dmode]})

    fc = [_featurecode("findmefollow", "fmf_toggle", "Findme Follow Toggle", "*21", 0)]
    fc += [_featurecode("daynight", "toggle-mode-%s" % cf["ext"], "%s: %s" % (cf["ext"], cf["fc_description"]),
                        "*28%s" % cf["ext"], 1) for cf in CALLFLOWS]
    fc += [_featurecode("timeconditions", "toggle-mode-%d" % tc["timeconditions_id"],
                        "%d: %s" % (tc["timeconditions_id"], tc["displayname"]),
                        "*27%d" % tc["timeconditions_id"], 1) for tc in TIMECONDITIONS]
    fc += [_featurecode("recordings", "edit-recording-%d" % r["id"], "Edit Recording: %s" % r["displayname"],
                        "*29%d" % r["id"], 1) for r in RECORDINGS if r["fcode"]]
    t["featurecodes"] = fc
    return t


def _insert(cur, table: str, rows: List[Dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    sql = "INSERT INTO `%s` (%s) VALUES (%s)" % (table, ", ".join("`%s`" % c for c in cols),
                                                ", ".join(["%s"] * len(cols)))
    cur.executemany(sql, [tuple(r[c] for c in cols) for r in rows])


def load(conn_config, conn_cdr, now: Optional[float] = None) -> None:
    """Insert the whole office into two connected (USE-ing) MySQLdb connections and commit.

    `now` (unix time, default ANCHOR = this process's start) anchors the CDR dates.
    """
    cur = conn_config.cursor()
    for table, rows in config_rows().items():
        _insert(cur, table, rows)
    conn_config.commit()
    cur = conn_cdr.cursor()
    _insert(cur, "cdr", cdr_rows(now))
    conn_cdr.commit()

# ---------------------------------------------------------------------------
# Call detail records (asteriskcdrdb.cdr)
# ---------------------------------------------------------------------------

CDR_COLUMNS: Tuple[str, ...] = (
    "calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "duration",
    "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "did", "recordingfile", "cnum",
    "cnam", "outbound_cnum", "outbound_cnam", "dst_cnam", "linkedid", "peeraccount", "sequence")

CDR_CALLS = 240  # random calls; the row count does not depend on `now` (other tests rely on that)
_CDR_SEED = 20240611


def _make_callers() -> List[Tuple[str, str]]:
    r = random.Random(4711)
    names = ["WIRELESS CALLER", "SMITH JOHN", "ACME SUPPLY CO", "", "DR JONES OFFICE", "GARCIA MARIA",
             "NGUYEN T", "UNKNOWN", "BLUE CROSS", "LEE DENTAL LAB", "PATEL R", "OBRIEN K", "TOLL FREE CALL",
             "CITY OF BAYVIEW", "MARTIN P", "WIRELESS CALLER"]
    out = [("5557654321", "WIRELESS CALLER"), ("5559876543", "VIP CLIENT")]
    while len(out) < 40:
        num = "%d%03d%04d" % (r.choice((212, 310, 415, 555, 617, 646, 718, 917)), r.randint(200, 999),
                              r.randint(0, 9999))
        out.append((num, r.choice(names)))
    return out


CALLERS = _make_callers()


def _cid_parts(outboundcid: str) -> Tuple[str, str]:
    """'"Name" <num>' -> (name, num); bare number -> ('', num)."""
    if "<" in outboundcid:
        name, num = outboundcid.rsplit("<", 1)
        return name.strip().strip('"'), num.rstrip(">").strip()
    return "", outboundcid.strip()


class _CdrWriter:
    """Builds rows the way Asterisk numbers things: one global channel counter
    gives both the uniqueid suffix (decimal) and the channel name suffix (hex)."""

    def __init__(self) -> None:
        self.rows: List[Dict[str, Any]] = []
        self.counter = 400
        self.sequence = 1200

    def channel(self, peer: str, ts: int) -> Tuple[str, str]:
        self.counter += 1
        return "%s-%08x" % (peer, self.counter), "%d.%d" % (ts, self.counter)

    def add(self, ts: int, **kw: Any) -> Dict[str, Any]:
        row: Dict[str, Any] = {c: "" for c in CDR_COLUMNS}
        row.update(duration=0, billsec=0, amaflags=3, sequence=0)
        row.update(kw)
        row["calldate"] = _dt.datetime.fromtimestamp(ts)
        self.sequence += 1
        row["sequence"] = self.sequence
        self.rows.append(row)
        return row


def _recording_name(kind: str, to: str, frm: str, ts: int, uniqueid: str) -> str:
    # <type>-<to>-<from>-<YYYYMMDD>-<HHMMSS>-<uniqueid>.wav: the cdr module takes the date from part 4.
    return "%s-%s-%s-%s-%s.wav" % (kind, to, frm, time.strftime("%Y%m%d-%H%M%S", time.localtime(ts)), uniqueid)


def _dialstring(ext: str) -> str:
    return EXTENSIONS_BY_NUMBER[ext]["dial"]


def _ring_dial(w: _CdrWriter, r: random.Random, ts: int, caller: Dict[str, Any], ext: str, dcontext: str,
               dst: Optional[str] = None, answer_p: float = 0.72, record_kind: Optional[str] = None,
               lead: int = 0, allow_vm: bool = True) -> Tuple[int, bool]:
    """Caller channel dials one extension; on no answer a VoiceMail leg follows if the user has a box.
    Returns (end time, answered)."""
    e = EXTENSIONS_BY_NUMBER[ext]
    dchan, _ = w.channel(e["dial"], ts + lead)
    ring = r.randint(3, 16)
    answered = r.random() < answer_p and not e["dnd"]
    base = dict(caller, dst=dst or ext, dcontext=dcontext, dstchannel=dchan, lastapp="Dial",
                lastdata="%s,%d,HhtrIb(func-apply-sipheaders^s^1)" % (e["dial"], e["ringtimer"] or 20),
                dst_cnam=e["name"])
    if e["dnd"]:
        w.add(ts, **dict(base, duration=lead + 1, billsec=0, disposition="BUSY"))
        return ts + lead + 1, False
    if answered:
        talk = int(min(1800, r.expovariate(1 / 150.0))) + 4
        rec = ""
        if record_kind and r.random() < 0.3:
            rec = _recording_name(record_kind, ext, caller["src"], ts, caller["uniqueid"])
        w.add(ts, **dict(base, duration=lead + ring + talk, billsec=talk, disposition="ANSWERED",
                         recordingfile=rec))
        return ts + lead + ring + talk, True
    ring = e["ringtimer"] or 20
    w.add(ts, **dict(base, duration=lead + ring, billsec=0, disposition="NO ANSWER"))
    end = ts + lead + ring
    if allow_vm and e["voicemail"]:
        msg = r.randint(4, 60)
        w.add(end, **dict(caller, dst="vmu" + ext, dcontext="ext-local", dstchannel="", lastapp="VoiceMail",
                          lastdata="%s@default,u" % ext, duration=msg + 2, billsec=msg, disposition="ANSWERED",
                          dst_cnam=e["name"]))
        end += msg + 2
    return end, False


def _inbound(w: _CdrWriter, r: random.Random, ts: int, spec: Dict[str, Any]) -> None:
    num, name = spec["caller"]
    did = spec["did"]
    chan, uid = w.channel("PJSIP/carrier_primary", ts)
    caller = {"clid": '"%s" <%s>' % (name, num) if name else "<%s>" % num, "src": num, "channel": chan,
              "uniqueid": uid, "linkedid": uid, "did": did, "cnum": num, "cnam": name}
    route = spec["route"]
    if route == "short":  # hung up while the route was still setting variables
        w.add(ts, **dict(caller, dst=did, dcontext="ext-did-0002", lastapp="Set",
                         lastdata="__FROM_DID=%s" % did, duration=r.randint(1, 3), disposition="NO ANSWER"))
    elif route == "notroute":
        w.add(ts, **dict(caller, dst=did, dcontext="from-trunk", lastapp="Hangup", lastdata="",
                         duration=1, disposition="NO ANSWER"))
    elif route == "ah_announce":
        w.add(ts, **dict(caller, dst="s", dcontext="app-announcement-2", lastapp="Playback",
                         lastdata="custom/after-hours", duration=r.randint(6, 15), billsec=5,
                         disposition="ANSWERED"))
    elif route in ("ah_vm", "vm102"):
        box = "190" if route == "ah_vm" else "102"
        msg = r.randint(5, 70)
        w.add(ts, **dict(caller, dst="vmu" + box, dcontext="ext-local", lastapp="VoiceMail",
                         lastdata="%s@default,u" % box, duration=msg + 14, billsec=msg + 13, disposition="ANSWERED",
                         dst_cnam=EXTENSIONS_BY_NUMBER[box]["name"]))
    elif route == "ext":
        end, answered = _ring_dial(w, r, ts, caller, spec["ext"], "from-did-direct", record_kind="in",
                                   lead=spec.get("lead", 0))
        if answered and spec["ext"] == "109" and r.random() < 0.25:  # blind transfer by the front desk
            target = r.choice(["101", "105", "102"])
            _ring_dial(w, r, end, caller, target, "from-internal-xfer", answer_p=0.8)
    elif route == "ivr_hangup":
        t = r.randint(4, 25)
        w.add(ts, **dict(caller, dst="s", dcontext="ivr-1", lastapp="WaitExten", lastdata="10,", duration=t,
                         billsec=t - 1, disposition="ANSWERED"))
    elif route == "queue":
        wait = r.randint(4, 150)
        lead = spec.get("lead", 0)
        if r.random() < 0.8:
            member = r.choice(["102", "103", "104", "105"])
            talk = int(min(1500, r.expovariate(1 / 200.0))) + 10
            local, luid = w.channel("Local/%s@from-queue" % member, ts + lead + wait - 2)
            rec = _recording_name("q", "400", num, ts, uid) if r.random() < 0.4 else ""
            w.add(ts, **dict(caller, dst="400", dcontext="ext-queues", dstchannel=local + ";1", lastapp="Queue",
                             lastdata="400,t,,,300,,,,,", duration=lead + wait + talk,
                             billsec=lead + wait + talk - 1, disposition="ANSWERED", recordingfile=rec,
                             dst_cnam="Patient Support"))
            # The member leg: the Local channel's ;2 half dials the phone (same linkedid).
            mchan, muid = w.channel(EXTENSIONS_BY_NUMBER[member]["dial"], ts + lead + wait)
            w.add(ts + lead + wait - 2, **dict(
                caller, channel=local + ";2", uniqueid=luid, did="",
                dst=member, dcontext="from-queue", dstchannel=mchan, lastapp="Dial",
                lastdata="%s,,HhtrIb(func-apply-sipheaders^s^1)" % _dialstring(member), duration=talk + 2,
                billsec=talk, disposition="ANSWERED", dst_cnam=EXTENSIONS_BY_NUMBER[member]["name"]))
        else:  # caller gave up waiting
            w.add(ts, **dict(caller, dst="400", dcontext="ext-queues", lastapp="Queue",
                             lastdata="400,t,,,300,,,,,", duration=lead + wait, billsec=lead + wait - 1,
                             disposition="ANSWERED", dst_cnam="Patient Support"))
    elif route == "ringgroup":
        members = RINGGROUPS[0]["grplist"].split("-")
        lead = spec.get("lead", 0)
        winner = r.choice(members) if r.random() < 0.75 else None
        ring = r.randint(4, 15) if winner else 20
        talk = int(min(1500, r.expovariate(1 / 160.0))) + 5 if winner else 0
        data = "%s,20,Ttr" % "&".join(_dialstring(m) for m in members)
        for m in members:
            dchan, _ = w.channel(_dialstring(m), ts + lead)
            if m == winner:
                w.add(ts, **dict(caller, dst="600", dcontext="ext-group", dstchannel=dchan, lastapp="Dial",
                                 lastdata=data, duration=lead + ring + talk, billsec=talk, disposition="ANSWERED",
                                 dst_cnam=EXTENSIONS_BY_NUMBER[m]["name"]))
            else:
                w.add(ts, **dict(caller, dst="600", dcontext="ext-group", dstchannel=dchan, lastapp="Dial",
                                 lastdata=data, duration=lead + ring, billsec=0, disposition="NO ANSWER",
                                 dst_cnam=EXTENSIONS_BY_NUMBER[m]["name"]))
        if winner is None:  # ring group fail-over destination: the general mailbox
            msg = r.randint(5, 50)
            w.add(ts + lead + ring, **dict(caller, dst="vmu190", dcontext="ext-local", lastapp="VoiceMail",
                                           lastdata="190@default,u", duration=msg + 2, billsec=msg,
                                           disposition="ANSWERED", dst_cnam="General Mailbox"))
    else:
        raise AssertionError(route)


def _outbound(w: _CdrWriter, r: random.Random, ts: int, spec: Dict[str, Any]) -> None:
    e = EXTENSIONS_BY_NUMBER[spec["ext"]]
    number = spec["number"]
    trunk_number = number if len(number) != 10 else "1" + number
    chan, uid = w.channel(e["dial"], ts)
    cid_name, cid_num = _cid_parts(e["outboundcid"] or MAIN_CID)
    if spec.get("emergency") and e["emergency_cid"]:
        cid_num = e["emergency_cid"]
    base = {"clid": '"%s" <%s>' % (e["name"], e["number"]), "src": e["number"], "dst": number,
            "dcontext": "from-internal", "channel": chan, "uniqueid": uid, "linkedid": uid, "lastapp": "Dial",
            "cnum": e["number"], "cnam": e["name"], "outbound_cnum": cid_num, "outbound_cnam": cid_name}
    dchan, _ = w.channel("PJSIP/carrier_primary", ts)
    primary = "PJSIP/%s@carrier_primary,300,Tb(func-apply-sipheaders^s^1,(2))" % trunk_number
    disposition = spec["disposition"]
    ring = r.randint(3, 25)
    if disposition == "ANSWERED":
        talk = int(min(2400, r.expovariate(1 / 180.0))) + 3
        rec = _recording_name("out", number, e["number"], ts, uid) if r.random() < 0.2 else ""
        w.add(ts, **dict(base, dstchannel=dchan, lastdata=primary, duration=ring + talk, billsec=talk,
                         disposition="ANSWERED", recordingfile=rec))
    elif disposition == "CONGESTION":
        # Primary trunk congested: the route fails over to the backup trunk (same uniqueid/linkedid).
        w.add(ts, **dict(base, dstchannel=dchan, lastdata=primary, duration=1, billsec=0, disposition="CONGESTION"))
        bchan, _ = w.channel("SIP/carrier_backup", ts + 1)
        talk = int(min(1200, r.expovariate(1 / 120.0))) + 3
        w.add(ts + 1, **dict(base, dstchannel=bchan, lastdata="SIP/carrier_backup/%s,300,T" % trunk_number,
                             duration=ring + talk, billsec=talk, disposition="ANSWERED"))
    else:
        w.add(ts, **dict(base, dstchannel=dchan, lastdata=primary,
                         duration={"NO ANSWER": 45, "BUSY": 4, "FAILED": 1}[disposition], billsec=0,
                         disposition=disposition))


def _internal(w: _CdrWriter, r: random.Random, ts: int, spec: Dict[str, Any]) -> None:
    e = EXTENSIONS_BY_NUMBER[spec["ext"]]
    chan, uid = w.channel(e["dial"], ts)
    caller = {"clid": '"%s" <%s>' % (e["name"], e["number"]), "src": e["number"], "channel": chan,
              "uniqueid": uid, "linkedid": uid, "cnum": e["number"], "cnam": e["name"]}
    if spec["dst"] == "*97":
        t = r.randint(15, 120)
        w.add(ts, **dict(caller, dst="*97", dcontext="from-internal", lastapp="VoiceMailMain",
                         lastdata="%s@default" % e["number"], duration=t, billsec=t, disposition="ANSWERED"))
        return
    _ring_dial(w, r, ts, caller, spec["dst"], "from-internal", answer_p=0.75, record_kind="internal")


_INBOUND_DAY = [  # (weight, did, route, ext)
    (30, MAIN_DID, "ivr", None), (5, "1" + MAIN_DID, "ivr", None), (14, "5551230101", "ext", "101"),
    (4, "5551230102", "vip", "102"), (5, "5551230102", "vm102", None), (22, "5551230400", "queue", None),
    (4, "5551230177", "ext", "109"), (6, MAIN_DID, "short", None), (2, "5551230188", "notroute", None),
]
_IVR_CHOICES = [(30, "ringgroup", None), (30, "queue", None), (10, "ext", "105"), (15, "ext", "109"),
                (15, "ivr_hangup", None)]
_OUT_EXTS = ["101", "102", "103", "104", "105", "107", "109", "109", "112", "201"]
_INT_EXTS = ["101", "102", "103", "104", "105", "107", "108", "109", "110", "112"]


def _pick(r: random.Random, table: Sequence[Tuple[Any, ...]]) -> Tuple[Any, ...]:
    return r.choices(table, weights=[row[0] for row in table])[0]


def local_midnight(ts: int) -> int:
    """Start of the local calendar day holding ``ts`` (CDR calldate is local time)."""
    lt = time.localtime(ts)
    return int(time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1)))


def _call_specs(now: int) -> List[Dict[str, Any]]:
    """The calls of the week: kind, time and the choices that fix the number of rows.

    Every random draw here is made the same way whatever `now` is, so the
    number of rows never depends on `now` - only the dates do.
    """
    rng = random.Random(_CDR_SEED)
    midnight = local_midnight(now)
    day_weights = []
    for d in range(7):
        wday = time.localtime(midnight - d * 86400 + 43200).tm_wday
        day_weights.append(1.0 if wday < 5 else 0.15)
    specs = []
    for _ in range(CDR_CALLS):
        kind = rng.choices(["in", "out", "int"], weights=[45, 35, 20])[0]
        after_hours = rng.random() < (0.12 if kind == "in" else 0.04)
        day = rng.choices(range(7), weights=day_weights)[0]
        if after_hours:
            tod = rng.uniform(18.5, 22.0) * 3600 if rng.random() < 0.7 else rng.uniform(6.0, 8.3) * 3600
        else:
            tod = rng.uniform(8.5, 17.5) * 3600
        ts = int(midnight - day * 86400 + tod)
        if ts > now - 4 * 3600:  # today's slot is (nearly) in the future: use the same time yesterday
            ts -= 86400
        ts = max(ts, now - 7 * 86400 + 600)
        spec: Dict[str, Any] = {"kind": kind, "ts": ts, "seed": rng.getrandbits(32)}
        if kind == "in":
            spec["caller"] = rng.choice(CALLERS)
            if after_hours:
                spec["did"] = MAIN_DID if rng.random() < 0.85 else "1" + MAIN_DID
                spec["route"] = "ah_announce" if rng.random() < 0.5 else "ah_vm"
            else:
                _, did, route, ext = _pick(rng, _INBOUND_DAY)
                spec.update(did=did, route=route, ext=ext)
                if route == "ivr":
                    _, route, ext = _pick(rng, _IVR_CHOICES)
                    spec.update(route=route, ext=ext, lead=rng.randint(6, 18))
                elif route == "vip":
                    spec.update(route="ext", caller=CALLERS[1])
        elif kind == "out":
            spec["ext"] = rng.choice(_OUT_EXTS)
            area = rng.choice((212, 310, 415, 555, 617, 646, 718, 800, 917))
            number = "%d%03d%04d" % (area, rng.randint(200, 999), rng.randint(0, 9999))
            spec["number"] = ("1" + number) if rng.random() < 0.4 else number
            spec["disposition"] = rng.choices(["ANSWERED", "NO ANSWER", "BUSY", "FAILED", "CONGESTION"],
                                              weights=[65, 15, 10, 5, 5])[0]
        else:
            src = rng.choice(_INT_EXTS)
            spec["ext"] = src
            if rng.random() < 0.12 and EXTENSIONS_BY_NUMBER[src]["voicemail"]:
                spec["dst"] = "*97"
            else:
                spec["dst"] = rng.choice([x for x in _INT_EXTS if x != src])
        specs.append(spec)
    # A few fixed, recent calls that tests can rely on.
    specs += [
        {"kind": "out", "ts": now - 2 * 86400 - 3 * 3600, "seed": 1, "ext": "111", "number": "933",
         "disposition": "ANSWERED", "emergency": True},
        {"kind": "in", "ts": now - 3600, "seed": 2, "caller": CALLERS[0], "did": "5551230101", "route": "ext",
         "ext": "101"},
        {"kind": "out", "ts": now - 1800, "seed": 3, "ext": "102", "number": "2125550147",
         "disposition": "ANSWERED"},
        {"kind": "int", "ts": now - 600, "seed": 4, "ext": "103", "dst": "105"},
    ]
    specs.sort(key=lambda s: s["ts"])
    return specs


def cdr_rows(now: Optional[float] = None) -> List[Dict[str, Any]]:
    """The office's CDR rows (every cdr column) for the 7 days before `now` (default: ANCHOR).

    Deterministic for a given `now` and time zone; the row count is the same
    for every `now`. calldate is a naive local datetime, as Asterisk writes it.
    """
    now_i = _now(now)
    w = _CdrWriter()
    for spec in _call_specs(now_i):
        r = random.Random(spec["seed"])
        {"in": _inbound, "out": _outbound, "int": _internal}[spec["kind"]](w, r, spec["ts"], spec)
    return w.rows

# ---------------------------------------------------------------------------
# Audio files
# ---------------------------------------------------------------------------

def wav_pcm(seconds: float = 0.3, freq: float = 440.0) -> bytes:
    """A valid RIFF/WAVE file: 8 kHz, 16-bit, mono PCM (a short sine tone)."""
    n = int(8000 * seconds)
    frames = b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * freq * i / 8000))) for i in range(n))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(frames)
    return buf.getvalue()


def wav49(blocks: int = 10) -> bytes:
    """A WAV49 file (GSM 6.10 in RIFF, format tag 0x31), as app_voicemail's `wav49` format writes `.WAV`."""
    data = bytes((0xD8 if i % 65 == 0 else (i * 7) & 0xFF) for i in range(65 * blocks))
    fmt = struct.pack("<HHIIHHHH", 0x0031, 1, 8000, 1625, 65, 0, 2, 320)
    fact = struct.pack("<I", 320 * blocks)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"fact" + struct.pack("<I", 4) + fact
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def gsm_raw(frames: int = 10) -> bytes:
    """Raw GSM 6.10: 33-byte frames, each starting with the 0xD signature nibble."""
    return b"".join(bytes([0xD8]) + bytes(((f * 31 + i) & 0xFF) for i in range(32)) for f in range(frames))


def ulaw_raw(seconds: float = 0.3) -> bytes:
    """Raw 8 kHz mu-law samples (0xFF = silence, with a little pattern)."""
    return bytes((0xFF if i % 8 else 0xF0) for i in range(int(8000 * seconds)))


def _audio(fmt: str, seed: str) -> bytes:
    freq = 300 + int(hashlib.md5(seed.encode()).hexdigest()[:3], 16) % 600
    if fmt == "wav":
        return wav_pcm(freq=freq)
    if fmt == "WAV":
        return wav49()
    if fmt == "gsm":
        return gsm_raw()
    if fmt == "ulaw":
        return ulaw_raw()
    raise ValueError(fmt)


def build_sounds(base_dir: Union[str, Path]) -> Dict[str, Dict[str, Dict[str, str]]]:
    """Write the system-recording sound files under `base_dir` (= ASTVARLIBDIR/sounds).

    Returns {sound name: {language: {format: file path}}}, e.g.
    {"custom/welcome": {"en": {"wav": ".../en/custom/welcome.wav", ...}, "fr": {...}}}.
    """
    base = Path(base_dir)
    out: Dict[str, Dict[str, Dict[str, str]]] = {}
    for rec in RECORDINGS:
        for name, langs in rec["files"].items():
            for lang, formats in langs.items():
                for fmt in formats:
                    path = base / lang / ("%s.%s" % (name, fmt))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(_audio(fmt, name + lang))
                    out.setdefault(name, {}).setdefault(lang, {})[fmt] = str(path)
    return out


# ---------------------------------------------------------------------------
# Voicemail: voicemail.conf and the spool
# ---------------------------------------------------------------------------

# (box, folder, callerid, caller channel, age in seconds before `now`, duration, flag, formats)
SPOOL_MESSAGES: List[Tuple[str, str, str, str, int, int, str, Tuple[str, ...]]] = [
    ("101", "Old", '"ACME SUPPLY CO" <5552227788>', "PJSIP/carrier_primary-000001f4", 3 * 86400 + 1200, 41, "",
     ("wav", "WAV")),
    ("101", "INBOX", '"WIRELESS CALLER" <5557654321>', "PJSIP/carrier_primary-00000391", 7200, 23, "",
     ("wav", "WAV")),
    ("101", "Urgent", '"DR JONES OFFICE" <5553331212>', "PJSIP/carrier_primary-000003a0", 3600, 17, "Urgent",
     ("wav",)),
    ("101", "INBOX", '"Bob Smith" <102>', "PJSIP/102-000003a2", 1800, 8, "", ("wav",)),
    ("102", "INBOX", '"VIP CLIENT" <5559876543>', "PJSIP/carrier_primary-00000380", 5 * 3600, 35, "",
     ("wav", "WAV")),
    ("105", "Old", '"Alice Johnson" <101>', "PJSIP/101-00000302", 2 * 86400, 12, "", ("wav",)),
    ("105", "Old", '"BLUE CROSS" <8005550199>', "PJSIP/carrier_primary-00000311", 2 * 86400 - 5000, 64, "",
     ("wav",)),
    ("190", "INBOX", '"UNKNOWN" <5553904411>', "PJSIP/carrier_primary-00000350", 14 * 3600, 19, "",
     ("wav", "WAV")),
    ("190", "INBOX", "<6175550123>", "PJSIP/carrier_primary-00000352", 13 * 3600, 9, "", ("wav",)),
    ("190", "INBOX", '"GARCIA MARIA" <4155550188>', "PJSIP/carrier_primary-00000358", 11 * 3600, 27, "",
     ("wav",)),
]
SPOOL_EMPTY_BOXES = ["109"]  # mailbox directories that exist but hold no message


def _vm_line(e: Dict[str, Any]) -> str:
    # Voicemail::saveVoicemail: name without commas, ',' in email/pager -> '|', options k=v joined by '|'.
    return "%s=%s,%s,%s,%s,%s" % (
        e["number"], e["vm_password"], e["name"].replace(",", ""), e["email"].replace(",", "|"),
        e["pager"].replace(",", "|"), "|".join("%s=%s" % kv for kv in e["vm_options"]))


def voicemail_lines() -> Dict[str, str]:
    """mailbox -> its exact line in the [default] section of voicemail.conf."""
    return {e["number"]: _vm_line(e) for e in EXTENSIONS if e["voicemail"]}


def voicemail_conf() -> str:
    """/etc/asterisk/voicemail.conf as FreePBX writes it (WriteConfig, no header: starts with a blank line).

    FreePBX drops comments when it rewrites the file; the few `;` lines here
    stand for an admin's later hand edits, so readers must skip comments.
    [pbxaliases] maps the `<ext>@device` mailboxes (Asterisk >= 16.2, WRITES §1.7).
    """
    general = [
        ("format", "wav49|wav"), ("attach", "yes"), ("pbxskip", "yes"), ("serveremail", "vm@asterisk"),
        ("fromstring", "Voicemail System"), ("maxsilence", "5"), ("silencethreshold", "128"),
        ("skipms", "3000"), ("review", "yes"), ("operator", "yes"), ("nextaftercmd", "yes"),
        ("pollmailboxes", "yes"), ("pollfreq", "10"), ("forcegreetings", "yes"), ("forcename", "yes"),
        ("emailsubject", "PBX Voicemail Notification"),
        ("emailbody", r"${VM_NAME},\n\nThere is a new voicemail in mailbox ${VM_MAILBOX}:\n\n\tFrom:\t"
                      r"${VM_CALLERID}\n\tLength:\t${VM_DUR} seconds\n\tDate:\t${VM_DATE}\n\nDial *98 to "
                      r"access your voicemail by phone.\nVisit http://AMPWEBADDRESS/ucp to check your "
                      r"voicemail with a web browser.\n"),
        ("aliasescontext", "pbxaliases"),
    ]
    zones = [
        ("eastern", "America/New_York|'vm-received' Q 'digits/at' IMp"),
        ("central", "America/Chicago|'vm-received' Q 'digits/at' IMp"),
        ("central24", "America/Chicago|'vm-received' q 'digits/at' H N 'hours'"),
        ("military", "Zulu|'vm-received' q 'digits/at' H N 'hours' 'phonetic/z_p'"),
        ("european", "Europe/Copenhagen|'vm-received' a d b 'digits/at' HM"),
    ]
    out = ["", "[general]",
           "; To be able to localize text in the email by using utf-8 characters you can remove the remark "
           "on the next line so that the charset will be utf-8",
           "; charset=utf-8"]
    out += ["%s=%s" % kv for kv in general]
    out += ["", "[zonemessages]"] + ["%s=%s" % kv for kv in zones]
    out += ["", "[default]"]
    for e in EXTENSIONS:
        if not e["voicemail"]:
            continue
        if e["number"] == "190":
            out.append("; 190 = shared after-hours box (IVR 8, ring group fail-over)")
        out.append(_vm_line(e))
    out += ["", "[pbxaliases]"]
    out += ["%s@device=%s@%s" % (e["number"], e["number"], VM_CONTEXT) for e in EXTENSIONS if e["voicemail"]]
    return "\n".join(out) + "\n\n"


def vm_origdate(ts: int) -> str:
    # app_voicemail: ast_strftime("%a %b %e %r UTC %Y") in UTC; %e is space padded, %r = "%I:%M:%S %p".
    t = time.gmtime(ts)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    hour12 = t.tm_hour % 12 or 12
    return "%s %s %2d %02d:%02d:%02d %s UTC %d" % (days[t.tm_wday], months[t.tm_mon - 1], t.tm_mday, hour12,
                                                   t.tm_min, t.tm_sec, "AM" if t.tm_hour < 12 else "PM",
                                                   t.tm_year)


def message_txt(m: Dict[str, Any]) -> str:
    """The msgNNNN.txt of a message, in app_voicemail's own layout (Asterisk 20: with macrocontext)."""
    return ("\n".join([
        ";", "; Message Information file", ";", "[message]",
        "origmailbox=%s" % m["box"], "context=from-internal", "macrocontext=", "exten=%s" % m["box"],
        "rdnis=unknown", "priority=2", "callerchan=%s" % m["callerchan"], "callerid=%s" % m["callerid"],
        "origdate=%s" % m["origdate"], "origtime=%d" % m["origtime"], "category=", "msg_id=%s" % m["msg_id"],
        "flag=%s" % m["flag"], "duration=%d" % m["duration"]]) + "\n")


def spool_messages(now: Optional[float] = None) -> List[Dict[str, Any]]:
    """Describe the spool's messages (what build_spool writes), oldest first per folder."""
    now_i = _now(now)
    counters: Dict[Tuple[str, str], int] = {}
    out = []
    ordered = sorted(enumerate(SPOOL_MESSAGES), key=lambda im: (-im[1][4], im[0]))
    for msg_index, (_, (box, folder, callerid, chan, age, duration, flag, formats)) in enumerate(ordered):
        number = counters.get((box, folder), 0)
        counters[(box, folder)] = number + 1
        origtime = now_i - age
        out.append({"box": box, "context": VM_CONTEXT, "folder": folder, "number": number,
                    "stem": "msg%04d" % number, "msg_id": "%d-%08x" % (origtime, msg_index),
                    "callerid": callerid, "callerchan": chan, "origtime": origtime,
                    "origdate": vm_origdate(origtime), "duration": duration, "flag": flag,
                    "formats": list(formats)})
    return out


def build_spool(base_dir: Union[str, Path], now: Optional[float] = None) -> List[Dict[str, Any]]:
    """Write <base>/default/<box>/<Folder>/msgNNNN.{txt,wav[,WAV]} (base = ASTSPOOLDIR/voicemail).

    Returns one dict per message: box, context, folder, number, stem, msg_id,
    callerid, callerchan, origtime, origdate, duration, flag, formats, dir, files.
    """
    base = Path(base_dir)
    messages = spool_messages(now)
    boxes = sorted({m["box"] for m in messages} | set(SPOOL_EMPTY_BOXES))
    for box in boxes:  # app_voicemail creates INBOX and Old on first use
        for folder in ("INBOX", "Old"):
            (base / VM_CONTEXT / box / folder).mkdir(parents=True, exist_ok=True)
    for m in messages:
        folder_dir = base / m["context"] / m["box"] / m["folder"]
        folder_dir.mkdir(parents=True, exist_ok=True)
        txt = folder_dir / (m["stem"] + ".txt")
        txt.write_text(message_txt(m))
        files = [str(txt)]
        for fmt in m["formats"]:
            p = folder_dir / ("%s.%s" % (m["stem"], fmt))
            p.write_bytes(_audio(fmt, m["msg_id"]))
            files.append(str(p))
        m["dir"] = str(folder_dir)
        m["files"] = files
    return messages

# ---------------------------------------------------------------------------
# AstDB and live Asterisk state
# ---------------------------------------------------------------------------

def hint(e: Dict[str, Any]) -> Optional[str]:
    """FreePBX-style hint of an extension with a device (None for virtual ones)."""
    if e["tech"] == "virtual":
        return None
    return "%s&Custom:DND%s,CustomPresence:%s" % (e["dial"], e["number"], e["number"])


def astdb() -> Dict[str, str]:
    """AstDB keys ('/FAMILY/key' -> value) FreePBX would hold for the office (WRITES §1.5, §1.8, SCHEMA §5)."""
    db: Dict[str, str] = {}
    for e in EXTENSIONS:
        n = e["number"]
        u = "/AMPUSER/%s/" % n
        db.update({
            u + "cwtone": "disabled", u + "accountcode": "", u + "rvolume": "", u + "password": "",
            u + "ringtimer": str(e["ringtimer"]), u + "cfringtimer": SETTINGS["CFRINGTIMERDEFAULT"],
            u + "concurrency_limit": SETTINGS["CONCURRENCYLIMITDEFAULT"], u + "noanswer": "",
            u + "recording": "", u + "outboundcid": e["outboundcid"], u + "cidname": e["name"], u + "cidnum": n,
            u + "voicemail": e["users_voicemail"], u + "answermode": "disabled", u + "intercom": "enabled",
            u + "recording/in/external": "dontcare", u + "recording/out/external": "dontcare",
            u + "recording/in/internal": "dontcare", u + "recording/out/internal": "dontcare",
            u + "recording/ondemand": "disabled", u + "recording/priority": "10", u + "device": n,
        })
        if e["callwaiting"]:
            db["/CW/%s" % n] = "ENABLED"
        if e["dnd"]:
            db["/DND/%s" % n] = "YES"
            db["/CustomDevstate/DND%s" % n] = "BUSY"
        if e["call_forward"]:
            db["/CF/%s" % n] = e["call_forward"]
        d = "/DEVICE/%s/" % n
        db.update({d + "user": n, d + "tech": e["tech"], d + "dial": e["dial"], d + "type": "fixed",
                   d + "default_user": n})
        if e["emergency_cid"]:
            db[d + "emergency_cid"] = e["emergency_cid"]
        if e["tech"] != "virtual":
            db[u + "hint"] = hint(e)
            db["/CustomPresence/%s" % n] = ",".join(e["presence"])
        if e["followme"]:
            f = u + "followme/"
            db.update({
                f + "strategy": e["followme_strategy"], f + "prering": str(e["followme_prering"]),
                f + "grptime": str(e["followme_grptime"]), f + "grplist": e["followme_grplist"],
                f + "grppre": "", f + "rvolume": "", f + "dring": "", f + "annmsg": "", f + "remotealertmsg": "",
                f + "toolatemsg": "", f + "postdest": e["followme_postdest"], f + "ringing": "Ring",
                f + "grpconf": "DISABLED", f + "ddial": "DIRECT" if e["followme_enabled"] else "EXTENSION",
                f + "changecid": "default", f + "fixedcid": "",
            })
            # USEDEVSTATE: Custom:FOLLOWME<dev> is BUSY while Follow Me is on.
            db["/CustomDevstate/FOLLOWME%s" % n] = "BUSY" if e["followme_enabled"] else "NOT_INUSE"
    for cf in CALLFLOWS:
        db["/DAYNIGHT/C%s" % cf["ext"]] = cf["state"]
    for tc in TIMECONDITIONS:
        db["/TC/%d" % tc["timeconditions_id"]] = tc["override"]
    for rg in RINGGROUPS:
        db["/RINGGROUP/%s/changecid" % rg["grpnum"]] = "default"
        db["/RINGGROUP/%s/fixedcid" % rg["grpnum"]] = ""
    for q in QUEUES:
        db["/QPENALTY/%s/dynmemberonly" % q["extension"]] = "no"
        for agent, penalty in q["dynamic_members"].items():
            db["/QPENALTY/%s/agents/%s" % (q["extension"], agent)] = penalty
    return db


_STATUS_TEXT = {0: "Idle", 1: "InUse", 2: "Busy", 4: "Unavailable", 8: "Ringing", 16: "OnHold"}


def ami_state(now: Optional[float] = None) -> Dict[str, Any]:
    """Seeds for a fake Asterisk consistent with the office (JSON-serialisable), in the state
    shapes of tests/support/amipeer/.

    Registered: every extension with `registered` (102 has two contacts);
    104 is on a call; 108 is in DND; 106, 111 and 202 are offline. Virtual
    extensions have no hint. voicemail_boxes (key "<box>@default") list the
    same messages as build_spool(now).
    """
    now_i = _now(now)
    hints: Dict[str, Any] = {}
    device_states: Dict[str, str] = {}
    presence: Dict[str, Any] = {}
    endpoints: Dict[str, Any] = {}
    contacts: Dict[str, List[Dict[str, Any]]] = {}
    sip_peers: Dict[str, Any] = {}
    for e in EXTENSIONS:
        n = e["number"]
        if e["tech"] == "virtual":
            continue
        if not e["registered"]:
            state, status = "UNAVAILABLE", 4
        elif e["in_use"]:
            state, status = "INUSE", 1
        else:
            state, status = "NOT_INUSE", 0
        if e["dnd"] and e["registered"]:
            status = 2  # Custom:DND<ext> BUSY outweighs an idle phone
        device_states[e["dial"]] = state
        hints[n] = {"context": "from-internal", "hint": hint(e), "status": status}
        status_p, subtype, message = e["presence"]
        presence["CustomPresence:%s" % n] = {"state": status_p, "subtype": subtype, "message": message}
        if e["tech"] == "pjsip":
            cl = []
            for i, (ip, port, agent, rtt) in enumerate(e["contacts"]):
                cl.append({"uri": "sip:%s@%s:%d" % (n, ip, port), "via_addr": ip, "via_port": port,
                           "user_agent": agent, "status": "Reachable", "roundtrip_usec": rtt,
                           "expiration_time": now_i + 3000 - 97 * int(n[-2:]) - 400 * i,
                           "call_id": "%s@%s" % (hashlib.md5(("%s-%d" % (n, i)).encode()).hexdigest()[:16], ip),
                           "qualify_frequency": 60})
            contacts[n] = cl
            # What FreePBX generates: callerid/mailboxes rewritten for fixed devices (Driver::map_dev_user;
            # a novm user keeps <ext>@device since DEVICE_REMOVE_MAILBOX is false).
            mailboxes = "%s@%s" % (n, VM_CONTEXT) if e["voicemail"] else "%s@device" % n
            endpoints[n] = {"device_state": {"NOT_INUSE": "Not in use", "INUSE": "In use",
                                             "UNAVAILABLE": "Unavailable"}[state],
                            "contacts": [c["uri"] for c in cl], "auth": "%s-auth" % n, "aors": n,
                            "password": e["secret"], "callerid": "%s <%s>" % (e["name"], n),
                            "context": "from-internal", "mailboxes": mailboxes, "transport": "",
                            "aor": {"max_contacts": int(e["max_contacts"]),
                                    "remove_existing": e["max_contacts"] == "1", "mailboxes": mailboxes,
                                    "qualify_frequency": 60, "minimum_expiration": 60,
                                    "maximum_expiration": 7200}}
        else:
            if e["contacts"]:
                ip, port, agent, rtt = e["contacts"][0]
                sip_peers[n] = {"ip": ip, "port": port, "status": "OK (%d ms)" % max(1, rtt // 1000),
                                "useragent": agent, "reg_contact": "sip:%s@%s:%d" % (n, ip, port), "dynamic": True,
                                "callerid": '"%s" <%s>' % (e["name"], n)}
            else:
                sip_peers[n] = {"ip": "-none-", "port": 0, "status": "UNKNOWN", "useragent": "", "reg_contact": "",
                                "dynamic": True, "callerid": '"%s" <%s>' % (e["name"], n)}
    for key, value in astdb().items():
        if key.startswith("/CustomDevstate/"):
            device_states["Custom:" + key.split("/", 2)[2]] = value
    messages = spool_messages(now_i)
    boxes: Dict[str, Any] = {}
    for e in EXTENSIONS:
        if not e["voicemail"]:
            continue
        mine = [m for m in messages if m["box"] == e["number"]]
        count = lambda folder: sum(1 for m in mine if m["folder"] == folder)  # noqa: E731
        key = "%s@%s" % (e["number"], VM_CONTEXT)
        boxes[key] = {
            "new": count("INBOX"), "old": count("Old"), "urgent": count("Urgent"), "fullname": e["name"],
            "email": e["email"], "pager": e["pager"], "timezone": dict(e["vm_options"]).get("tz", ""),
            "language": "",
            # Same messages as build_spool(now) writes (VoicemailBoxSummary fields).
            "messages": [{"folder": m["folder"], "callerid": m["callerid"], "date": m["origdate"],
                          "duration": m["duration"], "flag": m["flag"], "id": m["msg_id"]} for m in mine]}
        device_states["MWI:" + key] = "INUSE" if count("INBOX") or count("Urgent") else "NOT_INUSE"
    return {"hints": hints, "device_states": device_states, "presence": presence, "pjsip_endpoints": endpoints,
            "pjsip_contacts": contacts, "sip_peers": sip_peers, "voicemail_boxes": boxes}


__all__ = [
    "EXTENSIONS", "EXTENSIONS_BY_NUMBER", "DIDS", "IVRS", "QUEUES", "RINGGROUPS", "TIMECONDITIONS", "TIMEGROUPS",
    "ANNOUNCEMENTS", "CONFERENCES", "CALLFLOWS", "OUTBOUND_ROUTES", "TRUNKS", "RECORDINGS", "MOH_CLASSES",
    "AMPUSERS", "FREEPBX_SETTINGS", "SETTINGS", "MODULES", "CALLERS", "SPOOL_MESSAGES", "CDR_COLUMNS",
    "load", "config_rows", "sip_rows", "cdr_rows", "voicemail_conf", "voicemail_lines", "build_spool",
    "spool_messages", "build_sounds", "astdb", "ami_state", "hint", "message_txt", "ANCHOR",
]
