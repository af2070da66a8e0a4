"""What the PBX contains, as FreePBX's modules list it for the destination picker.

Each query reads one module's table; ``missing_ok`` because a box may not have
every module installed."""
from __future__ import annotations

from typing import Any, Dict, List


def _q(db, sql: str, params=()) -> List[Dict[str, Any]]:
    return db.query(sql, params, missing_ok=True)


def users(db):
    return _q(db, "SELECT extension, name, voicemail FROM users")


def trunks(db):
    return _q(db, "SELECT trunkid, name, tech FROM trunks")


def inbound_routes(db):
    return _q(db, "SELECT extension, cidnum, description FROM incoming")


def ivrs(db):
    return _q(db, "SELECT id, name, description FROM ivr_details")


def timeconditions(db):
    return _q(db, "SELECT timeconditions_id, displayname FROM timeconditions")


def queues(db):
    return _q(db, "SELECT extension, descr FROM queues_config")


def ringgroups(db):
    return _q(db, "SELECT grpnum, description FROM ringgroups")


def announcements(db):
    return _q(db, "SELECT announcement_id, description FROM announcement")


def callflows(db):
    return _q(db, "SELECT ext, dest FROM daynight WHERE dmode = %s", ("fc_description",))


def conferences(db):
    return _q(db, "SELECT exten, description FROM meetme")


def recordings(db):
    return _q(db, "SELECT id, displayname FROM recordings")


def followmes(db):
    return _q(db, "SELECT f.grpnum, u.name FROM findmefollow f LEFT JOIN users u ON u.extension = f.grpnum")


def featurecode_destinations(db):
    return _q(db, "SELECT modulename, featurename, description, defaultcode, customcode FROM featurecodes "
                  "WHERE providedest = 1 AND enabled = 1 AND defaultcode IS NOT NULL AND defaultcode <> ''")


def mohclasses(db):
    return _q(db, "SELECT id, category, type, `random`, application, format FROM music ORDER BY category")


def used_number(db, number: str) -> List[Dict[str, str]]:
    """Everything that already uses ``number`` as its dialable number (indexed lookups)."""
    return _q(db, "SELECT 'extension' AS kind FROM users WHERE extension = %s "
                  "UNION ALL SELECT 'device' FROM devices WHERE id = %s "
                  "UNION ALL SELECT 'ringgroup' FROM ringgroups WHERE grpnum = %s "
                  "UNION ALL SELECT 'queue' FROM queues_config WHERE extension = %s "
                  "UNION ALL SELECT 'conference' FROM meetme WHERE exten = %s",
              (number,) * 5)
