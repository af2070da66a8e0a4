"""The ``findmefollow`` table (one Follow Me group per user, grpnum = extension)."""
from __future__ import annotations

from typing import Any, Dict, Iterable, Optional, Set

from . import exact, first
from ..text import text_or_none

COLUMNS = ("grpnum", "strategy", "grptime", "grppre", "grplist", "annmsg_id", "postdest", "dring", "rvolume",
           "remotealert_id", "needsconf", "toolate_id", "pre_ring", "ringing", "calendar_enable", "calendar_id",
           "calendar_group_id", "calendar_match")
_SELECT = "SELECT %s FROM findmefollow" % ", ".join("`%s`" % c for c in COLUMNS)


def _exact(rows, extension: str) -> bool:
    # AstDB keys and the findmefollow row are written with the caller's string:
    # only a byte-identical extension is this user (see dao.exact).
    return bool(exact(rows, "extension", extension))


def user_exists(db, extension: str) -> bool:
    return _exact(db.query("SELECT extension FROM users WHERE extension = %s", (extension,)), extension)


def lock_user(tx, extension: str) -> bool:
    """Lock the user's row for the transaction: every follow-me write of one
    extension queues here (the findmefollow row may not exist yet, and a
    locking read of a missing primary key only takes a gap lock, which two
    creators could both hold)."""
    return _exact(tx.query("SELECT extension FROM users WHERE extension = %s FOR UPDATE", (extension,)), extension)


def get(db_or_tx, extension: str, lock: bool = False) -> Optional[Dict[str, Any]]:
    rows = db_or_tx.query(_SELECT + " WHERE grpnum = %s" + (" FOR UPDATE" if lock else ""), (extension,))
    row = first(exact(rows, "grpnum", extension))
    return {k: text_or_none(v) for k, v in row.items()} if row else None


def insert(tx, row: Dict[str, Any]) -> None:
    cols = [c for c in COLUMNS if c in row]
    tx.execute("INSERT INTO findmefollow (%s) VALUES (%s)" % (", ".join("`%s`" % c for c in cols),
                                                              ", ".join(["%s"] * len(cols))),
               [row[c] for c in cols])


def set_grplist(tx, extension: str, grplist: str) -> int:
    return tx.execute("UPDATE findmefollow SET grplist = %s WHERE grpnum = %s", (grplist, extension))


def users_among(db_or_tx, numbers: Iterable[str]) -> Set[str]:
    """Which of ``numbers`` are FreePBX users (extensions)."""
    numbers = sorted(set(n for n in numbers if n))
    if not numbers:
        return set()
    rows = db_or_tx.query("SELECT extension FROM users WHERE extension IN (%s)" % ", ".join(["%s"] * len(numbers)),
                          numbers)
    return {text_or_none(r["extension"]) for r in rows}
