"""Protocol facts the peer imitates: the banner and versions of the captured
Asterisk, the manager classes each action needs, the state-number tables and
the CLI commands it pretends to know (all from Asterisk 20 and the captures).
"""
from __future__ import annotations

from typing import Dict, Optional


BANNER = b"Asterisk Call Manager/9.0.0\r\n"
AMI_VERSION = "9.0.0"
ASTERISK_VERSION = "20.20.1"
# The build host in the captures was called "vm"; the peer claims the same build.
VERSION_LINE = ("Asterisk 20.20.1 built by root @ vm on a x86_64 running Linux "
                "on 2026-11-26 19:16:14 UTC")

# FreePBX's manager class list (AMI.md "Manager users").  A user given as a
# plain secret string gets these for both read and write.
ALL_CLASSES = frozenset((
    "system", "call", "log", "verbose", "command", "agent", "user", "config",
    "dtmf", "reporting", "cdr", "dialplan", "originate", "message",
))

# Write class an action needs (Asterisk registers each action with one; any
# overlap with the user's write classes is enough).  Actions not listed need
# none, like Ping.  Taken from Asterisk's action registrations; the ones the
# captures prove: Command, DBGet and Originate are refused for write=call,
# Ping is allowed.
ACTION_CLASSES: Dict[str, frozenset] = {
    name: frozenset(classes.split(","))
    for name, classes in {
        "command": "command",
        "originate": "originate",
        "setvar": "call",
        "coresettings": "system,reporting",
        "corestatus": "system,reporting",
        "coreshowchannels": "system,reporting",
        "dbget": "system,reporting",
        "dbgettree": "system,reporting",
        "dbput": "system",
        "dbdel": "system",
        "dbdeltree": "system",
        "reload": "system,config",
        "extensionstate": "call,reporting",
        "extensionstatelist": "call,reporting",
        "devicestatelist": "call,reporting",
        "presencestate": "call,reporting",
        "presencestatelist": "call,reporting",
        "pjsipshowendpoints": "system",
        "pjsipshowendpoint": "system",
        "pjsipshowcontacts": "system",
        "pjsipshowaors": "system",
        "pjsipshowregistrationsinbound": "system",
        "pjsipshowregistrationinboundcontactstatuses": "system",
        "sippeers": "system,reporting",
        "sipshowpeer": "system,reporting",
        "mailboxcount": "call,reporting",
        "mailboxstatus": "call,reporting",
        "voicemailuserslist": "call,reporting",
        "voicemailuserstatus": "call,reporting",
        "voicemailboxsummary": "call,reporting",
        "voicemailrefresh": "user",
        "voicemailmove": "user",
        "voicemailremove": "user",
        "voicemailforward": "user",
    }.items()
}

# Extension state numbers -> the text ExtensionState/ExtensionStatus show
# (Asterisk's pbx.c table; anything else reads "Unknown").
EXTENSION_STATE_TEXT = {
    0: "Idle",
    1: "InUse",
    2: "Busy",
    4: "Unavailable",
    8: "Ringing",
    9: "InUse&Ringing",
    16: "Hold",
    17: "InUse&Hold",
}

# Device state names (DeviceStateChange/DeviceStateList) -> the prose form
# PJSIPShowEndpoint(s) print in ``DeviceState:``.
DEVICE_STATE_TEXT = {
    "UNKNOWN": "Unknown",
    "NOT_INUSE": "Not in use",
    "INUSE": "In use",
    "BUSY": "Busy",
    "INVALID": "Invalid",
    "UNAVAILABLE": "Unavailable",
    "RINGING": "Ringing",
    "RINGINUSE": "Ring+Inuse",
    "ONHOLD": "On Hold",
}

PRESENCE_STATES = ("not_set", "unavailable", "available", "away", "xa", "chat", "dnd")

# Voicemail folders in the order app_voicemail walks them.
VOICEMAIL_FOLDERS = ("INBOX", "Old", "Work", "Family", "Friends",
                     "Cust1", "Cust2", "Cust3", "Cust4", "Cust5", "Deleted", "Urgent")

DEFAULT_DIALPLAN_PATTERNS = ("_1XX", "_2XX", "_NXXNXXXXXX")

DEFAULT_MODULES = frozenset((
    "app_voicemail", "chan_pjsip", "chan_sip", "res_pjsip", "pbx_config",
    "manager", "res_pjsip_registrar", "res_pjsip_outbound_registration",
    "func_db", "app_dial", "cdr", "features", "dnsmgr", "http", "logger",
))

# CLI command word lists the peer pretends to have.  Only used to word the
# "No such command" complaint the way Asterisk does (see cli_best_prefix).
KNOWN_CLI_COMMANDS = tuple(tuple(c.split()) for c in (
    "core show version", "core reload", "core show channels", "core show help",
    "core show uptime", "core show settings", "core restart now", "core stop now",
    "database show", "database showkey", "database put", "database get",
    "database del", "database deltree", "database query",
    "pjsip show contacts", "pjsip show endpoints", "pjsip show endpoint",
    "pjsip show aors", "pjsip show registrations", "pjsip reload",
    "sip show peers", "sip show peer", "sip reload",
    "module reload", "module show", "module load", "module unload",
    "dialplan reload", "dialplan show", "voicemail reload", "voicemail show users",
    "presencestate change", "presencestate list", "devstate change", "devstate list",
    "manager show connected", "manager reload", "reload", "help",
))

TRUE_WORDS = ("yes", "true", "y", "t", "1", "on")
FALSE_WORDS = ("no", "false", "n", "f", "0", "off")


def ast_true(value: Optional[str]) -> bool:
    return (value or "").strip().lower() in TRUE_WORDS
