"""The checks of an extension's fields (the resource's Param(check=...), and the
cross-field rules of create and PUT use them too): each returns the value as it
is stored, or raises ValueError with the message the 400 names the field with."""
from __future__ import annotations

import re

from ... import destinations
from ...booleans import truthy

NUMBER_RE = re.compile(r"[0-9]{2,10}")      # what we create
EXISTING_RE = re.compile(r"[0-9]{1,20}")    # what we accept to look up/delete (users.extension is VARCHAR(20))
NANP_RE = re.compile(r"1?[2-9][0-9]{2}[2-9][0-9]{6}")
CID_RE = re.compile(r'\s*(?:"([^"<>]*)"|([^"<>]*?))\s*<\s*([0-9]+)\s*>\s*')
SECRET_RE = re.compile(r"[A-Za-z0-9!#$%&()*+,\-./:<=>?@\[\]^_{|}~]+")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+\-']+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
SECRET_MIN = 12

# "always" is rfapi's word for FreePBX's "Force"; FreePBX's own values are accepted as-is.
RECORDING_VALUES = {"always": "force", "force": "force", "yes": "yes", "dontcare": "dontcare", "no": "no",
                     "never": "never"}
ONDEMAND_VALUES = ("enabled", "disabled", "override")
EXTTYPES = ("sip", "pjsip", "chansip", "virtual")

# dtmf_mode values FreePBX's device page offers (PJSIP: Asterisk's dtmf_mode; chan_sip: dtmfmode).
PJSIP_DTMF = ("rfc4733", "inband", "info", "auto", "auto_info")
CHANSIP_DTMF = ("rfc2833", "inband", "info", "shortinfo", "auto")

DEST_RE = destinations.MATCH


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
        return "enabled" if truthy(v) else "disabled"
    except ValueError:
        raise ValueError("must be enabled or disabled") from None


def check_dtmfmode(value: str) -> str:
    v = value.strip().lower()
    if v not in PJSIP_DTMF + CHANSIP_DTMF:
        raise ValueError("must be one of: %s (PJSIP) or %s (chan_sip)" % (", ".join(PJSIP_DTMF),
                                                                           ", ".join(CHANSIP_DTMF)))
    return v
