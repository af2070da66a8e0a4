"""The PBX the reference captures were taken on, as peer state: what
``AmiPeer.seed_from_transcripts()`` loads, so replayed captures find the same
extensions, hints, contacts, AstDB keys and voicemail messages.
"""
from __future__ import annotations

from typing import Any, Dict


def transcript_seed() -> Dict[str, Any]:
    """State matching AMI.md "What produced them" (a fresh copy each call)."""
    astdb = {}
    for key, val in (("cidname", "Ext 101"), ("cidnum", "101"), ("device", "101"),
                     ("voicemail", "default"), ("outboundcid", ""), ("ringtimer", "0")):
        astdb["/AMPUSER/101/%s" % key] = val
    for key, val in (("cidname", "Ext 102"), ("cidnum", "102"), ("device", "102"),
                     ("voicemail", "default")):
        astdb["/AMPUSER/102/%s" % key] = val
    # Made-up FreePBX-like values (AMI.md: not recorded as their own file).
    astdb.update({
        "/DEVICE/101/user": "101", "/DEVICE/101/type": "fixed", "/DEVICE/101/dial": "PJSIP/101",
        "/DEVICE/102/user": "102", "/DEVICE/102/dial": "PJSIP/102",
    })

    def endpoint(n: str) -> Dict[str, Any]:
        return {"callerid": '"Ext %s" <%s>' % (n, n), "auth": "%s-auth" % n, "aors": n,
                "context": "from-internal", "mailboxes": "%s@default" % n,
                "password": "pw%s-secret" % n}

    def msg(folder: str, callerid: str, date: str, duration: int, ident: str) -> Dict[str, Any]:
        return {"folder": folder, "callerid": callerid, "date": date, "duration": duration,
                "flag": "", "id": ident}

    return {
        "astdb": astdb,
        "hints": {
            "101": {"context": "from-internal", "hint": "PJSIP/101"},
            "102": {"context": "from-internal", "hint": "PJSIP/102"},
            "103": {"context": "from-internal", "hint": "PJSIP/103&Custom:DND103,CustomPresence:103"},
            "201": {"context": "from-internal", "hint": "SIP/201"},
        },
        # Same order as devicestatelist.txt.
        "device_states": {
            "PJSIP/103": "UNAVAILABLE",
            "PJSIP/102": "UNAVAILABLE",
            "PJSIP/101": "NOT_INUSE",
            "Custom:DND103": "NOT_INUSE",
            "MWI:101@default": "INUSE",
            "MWI:102@default": "INUSE",
            "SIP/201": "NOT_INUSE",
        },
        "presence": {"CustomPresence:103": {"state": "away", "subtype": "lunch", "message": "Back at two"}},
        "pjsip_endpoints": {n: endpoint(n) for n in ("101", "102", "103")},
        "pjsip_contacts": {
            "101": [{
                "uri": "sip:101@127.0.0.1:5062", "via_addr": "127.0.0.1", "via_port": 5062,
                "user_agent": "SIPp/3.6.1 capture-phone-101", "status": "Reachable",
                "roundtrip_usec": 767, "expiration_time": 1795725357,
                "call_id": "1-23539@127.0.0.1", "qualify_frequency": 30,
            }],
        },
        "sip_peers": {
            "201": {"ip": "127.0.0.1", "port": 5072, "status": "OK (1 ms)",
                    "useragent": "SIPp/3.6.1 capture-phone-201", "reg_contact": "sip:201@127.0.0.1:5072",
                    "dynamic": "yes", "callerid": '"Ext 201" <201>', "regexpire": 3605},
            "202": {"ip": "-none-", "port": 0, "status": "UNKNOWN", "dynamic": "yes",
                    "callerid": '"Ext 202" <202>'},
        },
        "voicemail_boxes": {
            "101@default": {"fullname": "Test User 101", "timezone": "central", "messages": [
                msg("INBOX", '"Ext 102" <102>', "Tue Nov 25 07:46:40 PM UTC 2025", 3, "1764100000-00000000"),
                msg("INBOX", '"Outside Caller" <5551230000>', "Tue Nov 25 07:56:40 PM UTC 2025", 4,
                    "1764100600-00000001"),
                msg("Old", '"Ext 103" <103>', "Mon Nov 24 07:46:40 PM UTC 2025", 2, "1764013600-00000002"),
            ]},
            "102@default": {"fullname": "Test User 102", "messages": [
                msg("INBOX", '"Ext 101" <101>', "Tue Nov 25 08:06:40 PM UTC 2025", 2, "1764101200-00000003"),
            ]},
        },
        "originate_outcomes": {"PJSIP/101": "answer", "SIP/201": "answer"},
    }
