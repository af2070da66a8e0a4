"""Every piece of configuration of every extension (GET /extdump[/<ext>]).

The full dump reads SQL with four queries (users, devices, sip, findmefollow)
and voicemail.conf once, whatever the number of extensions; no AstDB. The
single-extension dump adds that extension's AstDB over AMI (one DBGetTree per
tree/key).

Secrets (SIP secret and md5_cred, voicemail PIN, users.password and
AMPUSER/<ext>/password) are replaced by null unless ``secrets=yes``: the
caller is an ALL SECTIONS admin, who can see them in FreePBX's GUI too, but a
routine dump (backups, diffing, support tickets) should not spread them.
Asking for them is written to the audit log.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from .. import audit
from ..dao import extdump as dao
from ..errors import NotFound
from ..runtime import runtime
from . import vmconf
from .extensions import EXISTING_RE, delete_roots, read_trees

SECRET_SIP_KEYWORDS = ("secret", "md5_cred")


def _v(v):
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    return v


def _row(r: Optional[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return None if r is None else {k: _v(v) for k, v in r.items()}


def _num_key(s: str):
    return (0, int(s), s) if s.isdigit() else (1, 0, s)


def _assemble(users, devices, sips, fms, boxes, secrets: bool) -> List[Dict[str, Any]]:
    dev_by = {}
    for d in devices:
        dev_by.setdefault(_v(d["id"]), d)
    sip_by: Dict[str, Dict[str, Any]] = {}
    for s in sips:
        kw = _v(s["keyword"])
        data = _v(s["data"])
        if kw in SECRET_SIP_KEYWORDS and data and not secrets:
            data = None
        sip_by.setdefault(_v(s["id"]), {})[kw] = data
    fm_by = {_v(f["grpnum"]): f for f in fms}
    out = []
    for u in users:
        n = _v(u["extension"])
        user = _row(u)
        if user.get("password") and not secrets:
            user["password"] = None
        dev = _row(dev_by.get(n))
        vm = None
        for ctx, bx in boxes.items():
            if n in bx:
                vm = dict(bx[n], context=ctx)
                if vm.get("pwd") and not secrets:
                    vm["pwd"] = None
                break
        out.append({"extension": n, "tech": dev["tech"] if dev else "virtual", "user": user, "device": dev,
                    "sip": sip_by.get(n, {}) if dev else {}, "followme": _row(fm_by.get(n)), "voicemail": vm})
    out.sort(key=lambda e: _num_key(e["extension"]))
    return out


def _mailboxes():
    return vmconf.read_mailboxes(runtime().path("voicemail_conf"))


def dump_all(secrets: bool = False) -> List[Dict[str, Any]]:
    db = runtime().db
    out = _assemble(dao.users(db), dao.devices(db), dao.sip(db), dao.findmefollow(db), _mailboxes(), secrets)
    if secrets:
        audit.record("extdump.secrets", {"extensions": len(out)})
    return out


def dump_one(number: str, secrets: bool = False) -> Dict[str, Any]:
    rt = runtime()
    db = rt.db
    users = dao.users(db, number) if EXISTING_RE.fullmatch(number) else []
    if not users:
        raise NotFound("Extension %s not found" % number)
    entry = _assemble(users, dao.devices(db, number), dao.sip(db, number), dao.findmefollow(db, number),
                      _mailboxes(), secrets)[0]
    astdb = read_trees(rt.ami, delete_roots(number))
    if not secrets:
        key = "/AMPUSER/%s/password" % number
        if astdb.get(key):
            astdb[key] = None
    entry["astdb"] = dict(sorted(astdb.items()))
    if secrets:
        audit.record("extdump.secrets", {"extension": number})
    return entry
