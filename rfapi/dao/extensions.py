"""SQL of extensions: users, devices, sip, findmefollow (WRITES.md §1-2)."""
from __future__ import annotations

import hashlib
from typing import Any, Dict, List, Optional, Sequence

from . import exact, first
from ..text import text

# freepbx_settings read at creation time (WRITES §1.4/1.5/1.8: live values, not installer defaults).
SETTING_KEYS = (
    "ASTSIPDRIVER", "SIPSECRETSIZE", "DEVICE_SIP_DTMF", "DEVICE_SIP_TRUSTRPID", "DEVICE_SIP_SENDRPID",
    "DEVICE_SIP_QUALIFYFREQ", "DEVICE_SIP_NAT", "DEVICE_QUALIFY", "DEVICE_SIP_CANREINVITE",
    "DEVICE_SIP_ENCRYPTION", "DEVICE_ALLOW", "DEVICE_DISALLOW", "DEVICE_CALLGROUP", "DEVICE_PICKUPGROUP",
    "CONCURRENCYLIMITDEFAULT", "CFRINGTIMERDEFAULT", "ENABLECW", "USEDEVSTATE", "FOLLOWME_TIME",
    "FOLLOWME_PRERING", "FOLLOWME_RG_STRATEGY", "FOLLOWME_AUTO_CREATE",
)

USER_COLUMNS = ("extension", "password", "name", "voicemail", "ringtimer", "noanswer", "recording", "outboundcid",
                "sipname", "noanswer_cid", "busy_cid", "chanunavail_cid", "noanswer_dest", "busy_dest",
                "chanunavail_dest")
DEVICE_COLUMNS = ("id", "tech", "dial", "devicetype", "user", "description", "emergency_cid")
FINDMEFOLLOW_COLUMNS = ("grpnum", "strategy", "grptime", "grppre", "grplist", "annmsg_id", "postdest", "dring",
                        "needsconf", "remotealert_id", "toolate_id", "ringing", "pre_ring", "calendar_enable",
                        "calendar_id", "calendar_group_id", "calendar_match", "rvolume")


def settings(db) -> Dict[str, str]:
    """The creation-time settings, read live (one query, no cache)."""
    marks = ", ".join(["%s"] * len(SETTING_KEYS))
    rows = db.query("SELECT keyword, value FROM freepbx_settings WHERE keyword IN (%s)" % marks, SETTING_KEYS)
    return {r["keyword"]: text(r["value"]) for r in rows}


def core_version(db) -> str:
    rows = db.query("SELECT version FROM modules WHERE modulename = %s", ("core",), missing_ok=True)
    return text(rows[0]["version"]) if rows else ""


# -- per-number lock ---------------------------------------------------------------

def lock_name(dbname: str, number: str) -> str:
    """MariaDB lock names are server-wide (max 64 chars): scope by database."""
    return "rfapi.ext.%s.%s" % (hashlib.sha1(dbname.encode()).hexdigest()[:12], number)


def get_lock(db, name: str, timeout: int) -> bool:
    row = db.query_one("SELECT GET_LOCK(%s, %s) AS got", (name, timeout))
    return bool(row) and row["got"] == 1


def release_lock(db, name: str) -> None:
    db.query_one("SELECT RELEASE_LOCK(%s) AS released", (name,))


# -- reads ------------------------------------------------------------------------------

def user(db, number: str) -> Optional[Dict[str, Any]]:
    return first(exact(db.query("SELECT * FROM users WHERE extension = %s", (number,)), "extension", number))


def device(db, number: str) -> Optional[Dict[str, Any]]:
    return first(exact(db.query("SELECT * FROM devices WHERE id = %s", (number,)), "id", number))


def findmefollow(db, number: str) -> Optional[Dict[str, Any]]:
    rows = exact(db.query("SELECT * FROM findmefollow WHERE grpnum = %s", (number,), missing_ok=True), "grpnum", number)
    return rows[0] if rows else None


def sip_rows(db, number: str) -> List[Dict[str, Any]]:
    return exact(db.query("SELECT id, keyword, data, flags FROM sip WHERE id = %s ORDER BY flags, keyword",
                          (number,)), "id", number)


_LISTING = (
    "SELECT u.extension, u.name, u.voicemail, u.outboundcid, u.ringtimer, u.noanswer_dest, u.busy_dest, "
    "u.chanunavail_dest, d.tech, d.emergency_cid, d.description, {fm}, sd.data AS sip_dtmfmode, "
    "sm.data AS sip_max_contacts FROM users u LEFT JOIN devices d ON d.id = u.extension {fmjoin}"
    "LEFT JOIN sip sd ON sd.id = u.extension AND sd.keyword = 'dtmfmode' "
    "LEFT JOIN sip sm ON sm.id = u.extension AND sm.keyword = 'max_contacts'")


def listing(db) -> List[Dict[str, Any]]:
    """Everything the extensions cache needs from SQL, in one query (the two sip
    lookups are primary-key lookups: sip's key is (id, keyword))."""
    try:
        return db.query(_LISTING.format(fm="f.grpnum AS fm_grpnum, f.grptime AS fm_grptime",
                                        fmjoin="LEFT JOIN findmefollow f ON f.grpnum = u.extension "))
    except Exception as exc:  # findmefollow module not installed: list without it
        if getattr(exc, "args", [None])[0] != 1146:
            raise
        return db.query(_LISTING.format(fm="NULL AS fm_grpnum, NULL AS fm_grptime", fmjoin=""))


def fingerprint(db) -> List[Any]:
    """A cheap change detector for the tables the listing reads: CHECKSUM TABLE
    of users, devices, findmefollow (~7 ms at 5,000 extensions; sip is left out:
    the listing does not read it, and its 54 rows per device make it 10x dearer)."""
    rows = db.query("CHECKSUM TABLE users, devices, findmefollow")
    return [[text(r["Table"]).rsplit(".", 1)[-1], None if r["Checksum"] is None else int(r["Checksum"])]
            for r in rows]


# -- writes (inside a transaction) ------------------------------------------------------

def insert_user(tx, row: Dict[str, Any]) -> None:
    tx.execute("INSERT INTO users (%s) VALUES (%s)" % (", ".join(USER_COLUMNS), ", ".join(["%s"] * len(USER_COLUMNS))),
               [row[c] for c in USER_COLUMNS])


def insert_device(tx, row: Dict[str, Any]) -> None:
    tx.execute("INSERT INTO devices (%s) VALUES (%s)"
               % (", ".join(DEVICE_COLUMNS), ", ".join(["%s"] * len(DEVICE_COLUMNS))),
               [row[c] for c in DEVICE_COLUMNS])


def insert_sip(tx, rows: Sequence[Sequence[Any]]) -> None:
    tx.executemany("INSERT INTO sip (id, keyword, data, flags) VALUES (%s, %s, %s, %s)", rows)


def insert_findmefollow(tx, row: Dict[str, Any]) -> None:
    tx.execute("INSERT INTO findmefollow (%s) VALUES (%s)"
               % (", ".join(FINDMEFOLLOW_COLUMNS), ", ".join(["%s"] * len(FINDMEFOLLOW_COLUMNS))),
               [row[c] for c in FINDMEFOLLOW_COLUMNS])


def delete_extension(tx, number: str, with_findmefollow: bool = True) -> Dict[str, int]:
    """FreePBX's delUser + delDevice + driver + findmefollow hook, as SQL."""
    out = {
        "users": tx.execute("DELETE FROM users WHERE extension = %s", (number,)),
        "devices": tx.execute("DELETE FROM devices WHERE id = %s", (number,)),
        "sip": tx.execute("DELETE FROM sip WHERE id = %s", (number,)),
    }
    if with_findmefollow:
        out["findmefollow"] = tx.execute("DELETE FROM findmefollow WHERE grpnum = %s", (number,))
    return out


def has_table(db, name: str) -> bool:
    rows = db.query("SELECT 1 AS x FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
                    "AND TABLE_NAME = %s", (name,))
    return bool(rows)


# -- partial updates (PUT /extension/<ext>): column names come from the fixed lists above ------------

def _update(tx, table: str, allowed: Sequence[str], where: str, key: str, values: Dict[str, Any]) -> int:
    if not values:
        return 0
    cols = list(values)
    bad = [c for c in cols if c not in allowed]
    if bad:
        raise ValueError("not a %s column: %s" % (table, ", ".join(bad)))
    return tx.execute("UPDATE %s SET %s WHERE %s = %%s" % (table, ", ".join("`%s` = %%s" % c for c in cols), where),
                      [values[c] for c in cols] + [key])


def update_user(tx, number: str, values: Dict[str, Any]) -> int:
    return _update(tx, "users", USER_COLUMNS, "extension", number, values)


def update_device(tx, number: str, values: Dict[str, Any]) -> int:
    return _update(tx, "devices", DEVICE_COLUMNS, "id", number, values)


def update_findmefollow(tx, number: str, values: Dict[str, Any]) -> int:
    return _update(tx, "findmefollow", FINDMEFOLLOW_COLUMNS, "grpnum", number, values)


def delete_findmefollow(tx, number: str) -> int:
    return tx.execute("DELETE FROM findmefollow WHERE grpnum = %s", (number,))


def set_sip(tx, number: str, values: Dict[str, str], current: Dict[str, Any]) -> None:
    """Change sip rows of one device: UPDATE the keywords it has, INSERT the others
    after its last flag (FreePBX's flags are just an increasing order)."""
    next_flag = max([f for _d, f in current.values()] or [1]) + 1
    for keyword, data in values.items():
        if keyword in current:
            tx.execute("UPDATE sip SET data = %s WHERE id = %s AND keyword = %s", (data, number, keyword))
        else:
            tx.execute("INSERT INTO sip (id, keyword, data, flags) VALUES (%s, %s, %s, %s)",
                       (number, keyword, data, next_flag))
            next_flag += 1


def sip_secrets(db, number: Optional[str] = None) -> Dict[str, str]:
    """{device id: SIP secret} for one device or all."""
    if number is None:
        rows = db.query("SELECT id, data FROM sip WHERE keyword = 'secret'")
    else:
        rows = db.query("SELECT id, data FROM sip WHERE keyword = 'secret' AND id = %s", (number,))
    return {text(r["id"]): text(r["data"]) for r in rows}


# -- bulk (POST /extensions/import) ------------------------------------------------------------------

def rows_for(db, numbers: Sequence[str]):
    """users, devices, sip and findmefollow rows of many numbers: four queries."""
    marks = ", ".join(["%s"] * len(numbers))
    args = tuple(numbers)
    users = db.query("SELECT * FROM users WHERE extension IN (%s)" % marks, args)
    devices = db.query("SELECT * FROM devices WHERE id IN (%s)" % marks, args)
    sips = db.query("SELECT id, keyword, data, flags FROM sip WHERE id IN (%s)" % marks, args)
    fms = db.query("SELECT * FROM findmefollow WHERE grpnum IN (%s)" % marks, args, missing_ok=True)
    return users, devices, sips, fms


def insert_users(tx, rows: Sequence[Dict[str, Any]]) -> None:
    tx.executemany("INSERT INTO users (%s) VALUES (%s)" % (", ".join(USER_COLUMNS), ", ".join(["%s"] * len(USER_COLUMNS))),
                   [[r[c] for c in USER_COLUMNS] for r in rows])


def insert_devices(tx, rows: Sequence[Dict[str, Any]]) -> None:
    tx.executemany("INSERT INTO devices (%s) VALUES (%s)"
                   % (", ".join(DEVICE_COLUMNS), ", ".join(["%s"] * len(DEVICE_COLUMNS))),
                   [[r[c] for c in DEVICE_COLUMNS] for r in rows])


def insert_findmefollows(tx, rows: Sequence[Dict[str, Any]]) -> None:
    tx.executemany("INSERT INTO findmefollow (%s) VALUES (%s)"
                   % (", ".join(FINDMEFOLLOW_COLUMNS), ", ".join(["%s"] * len(FINDMEFOLLOW_COLUMNS))),
                   [[r[c] for c in FINDMEFOLLOW_COLUMNS] for r in rows])
