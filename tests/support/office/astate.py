"""AstDB and the live Asterisk state a fake AMI serves for the office."""
from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Optional

from .base import VM_CONTEXT, _now
from .callflow import CALLFLOWS, QUEUES, RINGGROUPS, TIMECONDITIONS
from .extensions import EXTENSIONS
from .settings import SETTINGS
from .voicemail import spool_messages

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
