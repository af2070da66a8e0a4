"""SQL of the extension dump: a fixed number of queries whatever the number of extensions."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from . import exact


def users(db, number: Optional[str] = None) -> List[Dict[str, Any]]:
    if number is None:
        return db.query("SELECT * FROM users")
    return exact(db.query("SELECT * FROM users WHERE extension = %s", (number,)), "extension", number)


def devices(db, number: Optional[str] = None) -> List[Dict[str, Any]]:
    if number is None:
        return db.query("SELECT * FROM devices")
    return exact(db.query("SELECT * FROM devices WHERE id = %s", (number,)), "id", number)


def sip(db, number: Optional[str] = None) -> List[Dict[str, Any]]:
    """sip rows of user devices only (chan_sip trunk rows 'tr-*' share the table)."""
    if number is None:
        return db.query("SELECT id, keyword, data, flags FROM sip WHERE id IN (SELECT id FROM devices) "
                        "ORDER BY id, flags, keyword")
    return exact(db.query("SELECT id, keyword, data, flags FROM sip WHERE id = %s ORDER BY flags, keyword",
                          (number,)), "id", number)


def findmefollow(db, number: Optional[str] = None) -> List[Dict[str, Any]]:
    if number is None:
        return db.query("SELECT * FROM findmefollow", missing_ok=True)
    return exact(db.query("SELECT * FROM findmefollow WHERE grpnum = %s", (number,), missing_ok=True), "grpnum", number)
