"""ivr_details / ivr_entries (FreePBX ivr module)."""
from __future__ import annotations

DETAIL_COLUMNS = (
    "id", "name", "description", "announcement", "directdial", "invalid_loops", "invalid_retry_recording",
    "invalid_destination", "timeout_enabled", "invalid_recording", "retvm", "timeout_time", "timeout_recording",
    "timeout_retry_recording", "timeout_destination", "timeout_loops", "timeout_append_announce",
    "invalid_append_announce", "timeout_ivr_ret", "invalid_ivr_ret", "alertinfo", "rvolume", "strict_dial_timeout",
    "accept_pound_key")


def details(db):
    return db.query("SELECT %s FROM ivr_details ORDER BY id" % ", ".join(DETAIL_COLUMNS), missing_ok=True)


def entries(db):
    # ivr_get_entries(): "ORDER BY selection + 0" (numeric order of the key); the
    # selection text breaks ties (*, #, i, t ... all convert to 0).
    return db.query("SELECT ivr_id, selection, dest, ivr_ret FROM ivr_entries "
                    "ORDER BY ivr_id, selection + 0, selection", missing_ok=True)
