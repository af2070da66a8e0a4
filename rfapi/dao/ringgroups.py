"""ringgroups table (FreePBX ringgroups module)."""
from __future__ import annotations

COLUMNS = ("grpnum", "strategy", "grptime", "grppre", "grplist", "annmsg_id", "postdest", "description",
           "alertinfo", "remotealert_id", "needsconf", "toolate_id", "ringing", "cwignore", "cfignore", "cpickup",
           "recording", "progress", "elsewhere", "rvolume")


def all_ringgroups(db):
    # Ringgroups::getAllGroups order.
    return db.query("SELECT %s FROM ringgroups ORDER BY CAST(grpnum AS UNSIGNED), grpnum" % ", ".join(COLUMNS),
                    missing_ok=True)
