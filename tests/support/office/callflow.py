"""System recordings, MoH, and the call-flow objects: IVR, queue, ring groups, time conditions, DIDs, ..."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from .base import DOMAIN, FRAMEWORK_VERSION, MAIN_CID, MAIN_DID, _sha1

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
