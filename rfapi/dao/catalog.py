"""What the PBX contains, as FreePBX's modules list it for the destination picker.

Each query is the one the owning module's ``<module>_destinations()`` hook runs
(same columns, same ORDER BY), so the list comes out in FreePBX's order.
``missing_ok`` because a box may not have every module installed."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Set

from . import exact


def _q(db, sql: str, params=()) -> List[Dict[str, Any]]:
    return db.query(sql, params, missing_ok=True)


def enabled_modules(db) -> Optional[Set[str]]:
    """Names of the enabled FreePBX modules; None if the box has no module list
    (then every module whose table exists counts as enabled)."""
    rows = _q(db, "SELECT modulename, enabled FROM modules")
    if not rows:
        return None
    return {r["modulename"] for r in rows if r["enabled"]}


def setting(db, keyword: str) -> Optional[str]:
    row = _q(db, "SELECT value FROM freepbx_settings WHERE keyword = %s", (keyword,))
    return row[0]["value"] if row else None


# core: Core::listUsers / listTrunks / getAllDIDs
def users(db):
    return _q(db, "SELECT extension, name, voicemail FROM users ORDER BY extension")


def trunks(db):
    return _q(db, "SELECT trunkid, name, tech, channelid, routedisplay FROM trunks ORDER BY trunkid")


def inbound_routes(db):
    return _q(db, "SELECT extension, cidnum, description FROM incoming ORDER BY extension, cidnum")


def ivrs(db):
    return _q(db, "SELECT id, name FROM ivr_details ORDER BY name, id")


def timeconditions(db):
    return _q(db, "SELECT timeconditions_id, displayname FROM timeconditions ORDER BY priority, timeconditions_id")


def queues(db):
    return _q(db, "SELECT extension, descr FROM queues_config ORDER BY extension")


def ringgroups(db):
    return _q(db, "SELECT grpnum, description FROM ringgroups ORDER BY CAST(grpnum AS UNSIGNED), grpnum")


def announcements(db):
    # Announcement::getAnnouncements has no ORDER BY: primary-key order.
    return _q(db, "SELECT announcement_id, description FROM announcement ORDER BY announcement_id")


def conferences(db):
    return _q(db, "SELECT exten, description FROM meetme ORDER BY exten")


def callflows(db):
    """Toggles with their name and whether both destinations are set (daynight_destinations
    skips a toggle without a day or a night row)."""
    return _q(db, "SELECT f.ext, f.dest, "
                  "EXISTS (SELECT 1 FROM daynight d WHERE d.ext = f.ext AND d.dmode = 'day') AS has_day, "
                  "EXISTS (SELECT 1 FROM daynight n WHERE n.ext = f.ext AND n.dmode = 'night') AS has_night "
                  "FROM daynight f WHERE f.dmode = 'fc_description' ORDER BY f.ext")


def recordings(db):
    return _q(db, "SELECT id, displayname FROM recordings WHERE displayname <> '__invalid' "
                  "ORDER BY displayname, id")


def featurecode_destinations(db):
    """featurecodes_getAllFeaturesDetailed(): joined with modules, sorted by module then description."""
    return _q(db, "SELECT f.modulename, f.featurename, f.description, f.defaultcode, f.customcode "
                  "FROM featurecodes f JOIN modules m ON m.modulename = f.modulename "
                  "WHERE f.enabled = 1 AND m.enabled = 1 AND f.providedest = 1 "
                  "AND f.defaultcode IS NOT NULL AND f.defaultcode <> '' "
                  "ORDER BY f.modulename, f.description")


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


def followme_exists(db, grpnum: str) -> bool:
    rows = db.query("SELECT grpnum FROM findmefollow WHERE grpnum = %s", (grpnum,), missing_ok=True)
    return bool(exact(rows, "grpnum", grpnum))
