"""meetme table (FreePBX conferences module)."""
from __future__ import annotations

COLUMNS = ("exten", "options", "userpin", "adminpin", "description", "joinmsg_id", "music", "users", "language",
           "timeout")


def all_conferences(db):
    return db.query("SELECT %s FROM meetme ORDER BY CAST(exten AS UNSIGNED), exten" % ", ".join(COLUMNS),
                    missing_ok=True)
