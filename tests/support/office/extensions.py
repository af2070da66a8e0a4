"""The 16 extensions and the sip rows FreePBX writes for each device."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

from .base import DOMAIN, MAIN_CID, VM_CONTEXT, _secret

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
