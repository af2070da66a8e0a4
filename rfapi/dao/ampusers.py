"""The ``ampusers`` table (FreePBX administrators). ``password_sha1`` is never
selected by the reads here: nothing outside the auth layer needs a hash."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

import MySQLdb

from . import exact, first
from ..text import text_or_none

_PUBLIC = "SELECT username, email, extension, extension_low, extension_high, deptname, sections FROM ampusers"


def _row(r: Dict[str, Any]) -> Dict[str, Any]:
    return {k: text_or_none(v) for k, v in r.items()}


def all_admins(db) -> List[Dict[str, Any]]:
    return [_row(r) for r in db.query(_PUBLIC + " ORDER BY username")]


def get(db_or_tx, username: str) -> Optional[Dict[str, Any]]:
    r = first(exact(db_or_tx.query(_PUBLIC + " WHERE username = %s", (username,)), "username", username, True))
    return _row(r) if r else None


def lock_all(tx) -> List[Dict[str, Any]]:
    """Every admin row, locked until the transaction ends (and, via the gap
    locks of the full primary-key scan, no row can be added meanwhile): two
    concurrent demotions/deletions see each other's result, never a stale count."""
    return [_row(r) for r in tx.query(_PUBLIC + " ORDER BY username FOR UPDATE")]


def insert(tx, username: str, password_sha1: str, sections: str) -> bool:
    """Core::addAMPUser's columns (email/extension keep their defaults). False if the name is taken."""
    try:
        tx.execute("INSERT INTO ampusers (username, password_sha1, extension_low, extension_high, deptname, "
                   "sections) VALUES (%s, %s, '', '', '', %s)", (username, password_sha1, sections))
    except MySQLdb.IntegrityError as exc:
        if exc.args and exc.args[0] == 1062:  # duplicate primary key
            return False
        raise
    return True


def update(tx, username: str, password_sha1: str, sections: str) -> int:
    return tx.execute("UPDATE ampusers SET password_sha1 = %s, sections = %s WHERE username = %s",
                      (password_sha1, sections, username))


def delete(tx, username: str) -> int:
    return tx.execute("DELETE FROM ampusers WHERE username = %s", (username,))
