"""FreePBX framework tables: admin flags, settings."""
from __future__ import annotations


def need_reload(db) -> bool:
    row = db.query_one("SELECT value FROM admin WHERE variable = %s", ("need_reload",))
    return bool(row) and (row["value"] or "").strip().lower() == "true"


def set_need_reload(db_or_tx) -> None:
    """FreePBX's needreload(): the red "Apply Config" button. Works inside a transaction too."""
    n = db_or_tx.execute("UPDATE admin SET value = 'true' WHERE variable = %s", ("need_reload",))
    if not n:
        # Row missing (or already 'true': MariaDB reports 0 changed rows) — make sure it exists.
        db_or_tx.execute("INSERT IGNORE INTO admin (variable, value) VALUES (%s, 'true')", ("need_reload",))
