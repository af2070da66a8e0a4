"""announcement table (FreePBX announcement module)."""
from __future__ import annotations

COLUMNS = ("announcement_id", "description", "recording_id", "allow_skip", "post_dest", "return_ivr", "noanswer",
           "repeat_msg")


def all_announcements(db):
    return db.query("SELECT %s FROM announcement ORDER BY announcement_id" % ", ".join(COLUMNS), missing_ok=True)
