"""voicemail.conf and the voicemail spool of the office."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Union

from .audio import _audio
from .base import VM_CONTEXT, _now
from .extensions import EXTENSIONS

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
