"""FreePBX administrators (``ampusers``), as ``Core::addAMPUser`` / the
Administrators page write them (WRITES.md §4).

* Passwords are stored only as FreePBX's unsalted SHA-1 hex and never returned.
  Unlike FreePBX, a 40-hex-digit password is hashed like any other: FreePBX
  would store it as the hash itself, so whoever chose such a password could
  never log in with it, and an API caller could plant a hash copied from
  elsewhere. The API never accepts pre-hashed values.
* ``sections`` are stored ``;``-joined; ``*`` = ALL SECTIONS.
* The last admin with ALL SECTIONS can be neither deleted nor demoted (409);
  the check runs on rows locked FOR UPDATE, so concurrent requests serialise.
* No need-reload: FreePBX's Administrators page does not call needreload()
  (ampusers is read at login, not by the dialplan).
* After every change the per-worker admin login cache is cleared so a deleted
  or demoted admin loses access at once (on this worker; other workers keep a
  cached login for at most ``auth_cache_seconds``).
"""
from __future__ import annotations

from typing import Any, Dict, List


from .. import audit
from ..auth import sections_of, sha1_hex
from ..dao import ampusers as dao
from ..errors import Conflict, NotFound
from ..runtime import runtime
from . import events
from .dids import retry_tx

ALL = "*"


def _public(row: Dict[str, Any]) -> Dict[str, Any]:
    sections = sections_of(row.get("sections"))
    return {
        "username": row["username"],
        "sections": sections,
        "full_access": ALL in sections,
        "extension_low": row.get("extension_low") or "",
        "extension_high": row.get("extension_high") or "",
        "deptname": row.get("deptname") or "",
        "email": row.get("email"),
        "extension": row.get("extension"),
    }


def _store_sections(sections: List[str]) -> str:
    seen: List[str] = []
    for s in sections:
        if s not in seen:
            seen.append(s)
    return ";".join(seen)


def _forget_logins() -> None:
    runtime().admin_cache.clear()


def list_admins() -> List[Dict[str, Any]]:
    return [_public(r) for r in dao.all_admins(runtime().db)]


def get_admin(username: str) -> Dict[str, Any]:
    row = dao.get(runtime().db, username)
    if row is None:
        raise NotFound("Administrator %s not found" % username)
    return _public(row)


def add_admin(username: str, password: str, sections: List[str]) -> Dict[str, Any]:
    db = runtime().db

    def work() -> Dict[str, Any]:
        with db.transaction() as tx:
            if not dao.insert(tx, username, sha1_hex(password), _store_sections(sections)):
                raise Conflict("Administrator %s already exists" % username)
            return _public(dao.get(tx, username))

    created = retry_tx(work, "the administrators")
    _forget_logins()
    audit.record("ampusers.add", created)
    events.changed("admin", "created", username=created["username"])
    return created


def _full_admins(rows: List[Dict[str, Any]]) -> List[str]:
    return [r["username"] for r in rows if ALL in sections_of(r.get("sections"))]


def _locked_target(tx, username: str, loses_all: bool, outcome: str) -> Dict[str, Any]:
    """Lock every admin row, then the target; refuse to leave no admin with ALL SECTIONS.

    Locking all rows (not just the target) is what makes two concurrent changes of
    the last two full admins queue instead of both succeeding."""
    rows = dao.lock_all(tx)
    target = dao.get(tx, username)
    if target is None:
        raise NotFound("Administrator %s not found" % username)
    full = _full_admins(rows)
    if loses_all and target["username"] in full and len(full) == 1:
        raise Conflict("%s is the last administrator with ALL SECTIONS (*); it cannot %s"
                       % (target["username"], outcome))
    return target


def update_admin(username: str, password: str, sections: List[str]) -> Dict[str, Any]:
    db = runtime().db
    stored = _store_sections(sections)

    def work() -> Dict[str, Any]:
        with db.transaction() as tx:
            target = _locked_target(tx, username, ALL not in sections, "lose them")
            dao.update(tx, target["username"], sha1_hex(password), stored)
            return _public(dao.get(tx, target["username"]))

    updated = retry_tx(work, "the administrators")
    _forget_logins()
    audit.record("ampusers.update", updated)
    events.changed("admin", "updated", username=updated["username"])
    return updated


def delete_admin(username: str) -> Dict[str, Any]:
    db = runtime().db

    def work() -> Dict[str, Any]:
        with db.transaction() as tx:
            target = _locked_target(tx, username, True, "be deleted")
            dao.delete(tx, target["username"])
            return _public(target)

    removed = retry_tx(work, "the administrators")
    _forget_logins()
    audit.record("ampusers.delete", removed)
    events.changed("admin", "deleted", username=removed["username"])
    return removed
