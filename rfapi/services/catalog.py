"""Destinations, destination numbers and MoH classes, rebuilt from the tables the
way each FreePBX module's ``<module>_destinations()`` hook lists them (SCHEMA.md §1).

Each entry: ``destination`` (the Goto string), ``description`` and ``category``
exactly as FreePBX's hook builds them (a hook that sets no category gets its
module's display name, as the framework's destination picker does), ``module``
(the FreePBX module that provides it) and ``id`` (the target's own key in that
module's table: extension number, ring-group number, IVR id, …).

A module's destinations are listed only while the module is enabled in the
``modules`` table (the framework asks enabled modules only), e.g. feature-code
destinations need the featurecodeadmin module. Follow Me is not listed: its
hook offers destinations only inside the extension edit page.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ..dao import catalog as dao
from ..runtime import runtime
from ..text import text

# core_destinations(): app-blackhole's fixed list, in FreePBX's order.
TERMINATE = [
    ("hangup", "Hangup"), ("congestion", "Congestion"), ("busy", "Busy"),
    ("zapateller", "Play SIT Tone (Zapateller)"), ("musiconhold", "Put caller on hold forever"),
    ("ring", "Play ringtones to caller until they hangup"), ("no-service", "Play no service message"),
]
# core_destinations(): one entry per greeting of a mailbox.
VOICEMAIL_KINDS = [("vmb", "Busy Message"), ("vmu", "Unavailable Message"), ("vms", "No Message"),
                   ("vmi", "Instructions Only")]
NO_VOICEMAIL = ("", "novm", "disabled")


def _num_key(s: str):
    """PHP sort() order of numeric strings: numbers numerically, then the rest."""
    return (0, int(s), s) if s.isdigit() else (1, 0, s)


def destinations(db=None) -> List[Dict[str, Any]]:
    db = db or runtime().db
    enabled = dao.enabled_modules(db)
    out: List[Dict[str, Any]] = []

    def on(module: str) -> bool:
        return enabled is None or module in enabled

    def add(module, dest, description, category, id_):
        out.append({"destination": dest, "description": description, "category": category,
                    "module": module, "id": None if id_ is None else text(id_)})

    # core (core_destinations): terminate call, users (+ their mailboxes), trunks, inbound routes.
    for name, label in TERMINATE:
        add("core", "app-blackhole,%s,1" % name, label, "Terminate Call", name)
    users_cat = "Users" if text(dao.setting(db, "AMPEXTENSIONS")) == "deviceanduser" else "Extensions"
    for u in sorted(dao.users(db), key=lambda u: _num_key(text(u["extension"]))):
        ext, name = text(u["extension"]), text(u["name"])
        add("core", "from-did-direct,%s,1" % ext, "%s %s" % (ext, name), users_cat, ext)
        if text(u["voicemail"]) not in NO_VOICEMAIL:
            for prefix, label in VOICEMAIL_KINDS:
                add("core", "ext-local,%s%s,1" % (prefix, ext), "%s %s (%s)" % (ext, name, label), "Voicemail",
                    ext)
    for t in dao.trunks(db):
        # listTrunks(displayOnly): hidden trunks and ENUM are not destinations.
        if text(t["routedisplay"]) not in ("on", "") or text(t["tech"]).lower() == "enum":
            continue
        tech = text(t["tech"])
        name = text(t["name"]) or ("AMP:" if tech.upper() == "CUSTOM" else tech.upper() + "/") + text(t["channelid"])
        add("core", "ext-trunk,%s,1" % t["trunkid"], "%s (%s)" % (name, tech), "Trunks", t["trunkid"])
    for d in dao.inbound_routes(db):
        did = text(d["extension"])
        add("core", "from-trunk,%s,1" % did, "%s(%s)" % (text(d["description"]), did), "Inbound Routes", did)

    # The other modules, alphabetically by module name.
    if on("announcement"):
        for a in dao.announcements(db):
            add("announcement", "app-announcement-%s,s,1" % a["announcement_id"], text(a["description"]),
                "Announcements", a["announcement_id"])
    if on("conferences"):
        for c in dao.conferences(db):
            add("conferences", "ext-meetme,%s,1" % c["exten"], "%s %s" % (c["exten"], text(c["description"])),
                "Conferences", c["exten"])
    if on("daynight"):
        for d in dao.callflows(db):
            if not (d["has_day"] and d["has_night"]):
                continue
            add("daynight", "app-daynight,%s,1" % d["ext"],
                "(%s) %s" % (d["ext"], text(d["dest"]) or "Call Flow Toggle"), "Call Flow Control", d["ext"])
    if on("featurecodeadmin"):
        for f in dao.featurecode_destinations(db):
            code = text(f["customcode"]) or text(f["defaultcode"])
            add("featurecodeadmin", "ext-featurecodes,%s,1" % text(f["defaultcode"]),
                "%s <%s>" % (text(f["description"]), code), "Feature Code Admin",
                "%s:%s" % (f["modulename"], f["featurename"]))
    if on("ivr"):
        for i in dao.ivrs(db):
            add("ivr", "ivr-%s,s,1" % i["id"], text(i["name"]) or "IVR %s" % i["id"], "IVR", i["id"])
    if on("queues"):
        for q in dao.queues(db):
            add("queues", "ext-queues,%s,1" % q["extension"], "%s %s" % (q["extension"], text(q["descr"])),
                "Queues", q["extension"])
    if on("recordings"):
        for r in dao.recordings(db):
            add("recordings", "play-system-recording,%s,1" % r["id"], text(r["displayname"]), "Play Recording",
                r["id"])
    if on("ringgroups"):
        for r in dao.ringgroups(db):
            add("ringgroups", "ext-group,%s,1" % r["grpnum"], "%s %s" % (r["grpnum"], text(r["description"])),
                "Ring Groups", r["grpnum"])
    if on("timeconditions"):
        for t in dao.timeconditions(db):
            add("timeconditions", "timeconditions,%s,1" % t["timeconditions_id"], text(t["displayname"]),
                "Time Conditions", t["timeconditions_id"])
    return out


def destination_exists(dest: str, db=None) -> bool:
    """A destination FreePBX would accept: one its pickers list, or the forced
    follow-me of an extension that has a follow-me group (FreePBX offers that one
    only on the extension page, but an inbound route may point at it)."""
    db = db or runtime().db
    if dest.startswith("ext-findmefollow,FM") and dest.endswith(",1"):
        grp = dest[len("ext-findmefollow,FM"):-2]
        return grp.isdigit() and dao.followme_exists(db, grp)
    return any(d["destination"] == dest for d in destinations(db))


def destnumbers(db=None) -> List[Dict[str, str]]:
    """Dialable numbers in use, sorted numerically, each with what it is.

    A number used twice (a misconfiguration FreePBX itself refuses) is listed
    once per kind, so the clash stays visible."""
    db = db or runtime().db
    found = set()
    for u in dao.users(db):
        found.add((text(u["extension"]), "extension"))
    for r in dao.ringgroups(db):
        found.add((text(r["grpnum"]), "ringgroup"))
    for q in dao.queues(db):
        found.add((text(q["extension"]), "queue"))
    for c in dao.conferences(db):
        found.add((text(c["exten"]), "conference"))
    return [{"number": n, "kind": k} for n, k in sorted(found, key=lambda nk: (_num_key(nk[0]), nk[1])) if n]


def number_in_use(number: str, db=None) -> Optional[str]:
    """The kind of thing already using ``number`` (extension, ringgroup, …), or None."""
    rows = dao.used_number(db or runtime().db, number)
    return rows[0]["kind"] if rows else None


def mohclasses(db=None) -> List[Dict[str, Any]]:
    """The ``music`` table's classes, by name, plus the two FreePBX always offers
    (music_list()): ``default`` (if the table lacks it: older boxes keep classes
    only as folders) and ``none`` (silence, a reserved folder), last."""
    rows = dao.mohclasses(db or runtime().db)
    out = [{"id": r["id"], "category": text(r["category"]), "type": text(r["type"]), "random": bool(r["random"]),
            "application": text(r["application"]), "format": text(r["format"])} for r in rows]
    names = {r["category"] for r in out}
    if "default" not in names:
        out.append({"id": None, "category": "default", "type": "files", "random": False, "application": "",
                    "format": ""})
        out.sort(key=lambda r: r["category"].casefold())
    if "none" not in names:
        out.append({"id": None, "category": "none", "type": "files", "random": False, "application": "",
                    "format": ""})
    return out


def mohclass_exists(name: str, db=None) -> bool:
    return any(m["category"] == name for m in mohclasses(db))
