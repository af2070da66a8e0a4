"""timeconditions / timegroups_groups / timegroups_details (FreePBX timeconditions module)."""
from __future__ import annotations

COLUMNS = ("timeconditions_id", "displayname", "time", "truegoto", "falsegoto", "deptname", "generate_hint",
           "invert_hint", "fcc_password", "priority", "timezone", "mode", "calendar_id", "calendar_group_id")


def conditions(db):
    return db.query("SELECT %s FROM timeconditions ORDER BY timeconditions_id" % ", ".join(COLUMNS),
                    missing_ok=True)


def groups(db):
    return db.query("SELECT id, description FROM timegroups_groups", missing_ok=True)


def group_times(db):
    return db.query("SELECT id, timegroupid, time FROM timegroups_details ORDER BY timegroupid, id",
                    missing_ok=True)
