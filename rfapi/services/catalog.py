"""Destinations and destination numbers, rebuilt from the tables the way each
FreePBX module's ``<module>_destinations()`` hook lists them (SCHEMA.md §1)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..dao import catalog as dao
from ..runtime import runtime

# app-blackhole's fixed list, in the order FreePBX's picker shows it.
TERMINATE = [
    ("hangup", "Hangup"), ("congestion", "Congestion"), ("busy", "Busy"),
    ("zapateller", "Play SIT Tone (Zapateller)"), ("musiconhold", "Put caller on hold forever"),
    ("ring", "Play ringtones to caller until they hangup"), ("no-service", "Play no service message"),
]
VOICEMAIL_KINDS = [("vmb", "busy"), ("vmu", "unavailable"), ("vms", "no message"), ("vmi", "instructions only")]


def _s(v) -> str:
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


def _num_key(s: str):
    return (0, int(s), s) if s.isdigit() else (1, 0, s)


def destinations(db=None) -> List[Dict[str, Any]]:
    db = db or runtime().db
    out: List[Dict[str, Any]] = []

    def add(dest, description, category, id_=None):
        out.append({"destination": dest, "description": description, "category": category,
                    "id": None if id_ is None else _s(id_)})

    users = sorted(dao.users(db), key=lambda u: _num_key(_s(u["extension"])))
    for u in users:
        add("from-did-direct,%s,1" % u["extension"], "%s %s" % (u["extension"], _s(u["name"])), "Extensions",
            u["extension"])
    for u in users:
        vm = _s(u["voicemail"])
        if vm and vm not in ("novm", "disabled"):
            for prefix, label in VOICEMAIL_KINDS:
                add("ext-local,%s%s,1" % (prefix, u["extension"]),
                    "%s %s (%s)" % (u["extension"], _s(u["name"]), label), "Voicemail", u["extension"])
    for f in sorted(dao.followmes(db), key=lambda r: _num_key(_s(r["grpnum"]))):
        add("ext-findmefollow,FM%s,1" % f["grpnum"], "%s %s" % (f["grpnum"], _s(f["name"])), "Follow Me",
            f["grpnum"])
    for r in sorted(dao.ringgroups(db), key=lambda r: _num_key(_s(r["grpnum"]))):
        add("ext-group,%s,1" % r["grpnum"], "%s %s" % (r["grpnum"], _s(r["description"])), "Ring Groups",
            r["grpnum"])
    for q in sorted(dao.queues(db), key=lambda r: _num_key(_s(r["extension"]))):
        add("ext-queues,%s,1" % q["extension"], "%s %s" % (q["extension"], _s(q["descr"])), "Queues",
            q["extension"])
    for i in sorted(dao.ivrs(db), key=lambda r: r["id"]):
        add("ivr-%s,s,1" % i["id"], _s(i["name"]) or "IVR %s" % i["id"], "IVR", i["id"])
    for t in sorted(dao.timeconditions(db), key=lambda r: r["timeconditions_id"]):
        add("timeconditions,%s,1" % t["timeconditions_id"], _s(t["displayname"]), "Time Conditions",
            t["timeconditions_id"])
    for a in sorted(dao.announcements(db), key=lambda r: r["announcement_id"]):
        add("app-announcement-%s,s,1" % a["announcement_id"], _s(a["description"]), "Announcements",
            a["announcement_id"])
    for c in sorted(dao.conferences(db), key=lambda r: _num_key(_s(r["exten"]))):
        add("ext-meetme,%s,1" % c["exten"], "%s %s" % (c["exten"], _s(c["description"])), "Conferences",
            c["exten"])
    for d in sorted(dao.callflows(db), key=lambda r: int(r["ext"]) if _s(r["ext"]).isdigit() else 0):
        add("app-daynight,%s,1" % d["ext"], _s(d["dest"]), "Call Flow Control", d["ext"])
    for r in sorted(dao.recordings(db), key=lambda r: r["id"]):
        add("play-system-recording,%s,1" % r["id"], _s(r["displayname"]), "Play Recording", r["id"])
    for t in sorted(dao.trunks(db), key=lambda r: r["trunkid"]):
        add("ext-trunk,%s,1" % t["trunkid"], "%s (%s)" % (_s(t["name"]), _s(t["tech"])), "Trunks", t["trunkid"])
    for d in sorted(dao.inbound_routes(db), key=lambda r: (_s(r["extension"]), _s(r["cidnum"]))):
        did = _s(d["extension"])
        if did:
            add("from-trunk,%s,1" % did, "%s/%s %s" % (did, _s(d["cidnum"]), _s(d["description"])).rstrip(),
                "Inbound Routes", did)
    for f in dao.featurecode_destinations(db):
        code = _s(f["customcode"]) or _s(f["defaultcode"])
        add("ext-featurecodes,%s,1" % _s(f["defaultcode"]), "%s <%s>" % (_s(f["description"]), code),
            "Feature Codes", "%s:%s" % (f["modulename"], f["featurename"]))
    for name, label in TERMINATE:
        add("app-blackhole,%s,1" % name, label, "Terminate Call", name)
    return out


def destination_exists(dest: str, db=None) -> bool:
    return any(d["destination"] == dest for d in destinations(db))


def destnumbers(db=None) -> List[Dict[str, str]]:
    """Dialable numbers in use, sorted numerically, each with what it is."""
    db = db or runtime().db
    found: Dict[str, str] = {}
    for u in dao.users(db):
        found.setdefault(_s(u["extension"]), "extension")
    for r in dao.ringgroups(db):
        found.setdefault(_s(r["grpnum"]), "ringgroup")
    for q in dao.queues(db):
        found.setdefault(_s(q["extension"]), "queue")
    for c in dao.conferences(db):
        found.setdefault(_s(c["exten"]), "conference")
    return [{"number": n, "kind": k} for n, k in sorted(found.items(), key=lambda kv: _num_key(kv[0])) if n]


def number_in_use(number: str, db=None) -> Optional[str]:
    """The kind of thing already using ``number`` (extension, ringgroup, …), or None."""
    rows = dao.used_number(db or runtime().db, number)
    return rows[0]["kind"] if rows else None


def mohclasses(db=None) -> List[Dict[str, Any]]:
    rows = dao.mohclasses(db or runtime().db)
    out = [{"id": r["id"], "category": _s(r["category"]), "type": _s(r["type"]), "random": bool(r["random"]),
            "application": _s(r["application"]), "format": _s(r["format"])} for r in rows]
    if not any(r["category"] == "default" for r in out):
        # Older boxes keep classes only as folders; "default" always exists in Asterisk.
        out.insert(0, {"id": None, "category": "default", "type": "files", "random": False, "application": "",
                       "format": ""})
    return out


def mohclass_exists(name: str, db=None) -> bool:
    return any(m["category"] == name for m in mohclasses(db))
