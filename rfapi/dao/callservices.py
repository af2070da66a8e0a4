"""Who an extension is, for the per-extension call services (forward, DND, call waiting)."""
from __future__ import annotations

from typing import Any, Dict, Optional

from . import exact, first
from ..text import text_or_none


def extension(db, number: str) -> Optional[Dict[str, Any]]:
    """``{"extension", "tech"}`` of a FreePBX user, or None. ``tech`` is None when the
    user has no ``devices`` row: FreePBX lists such a user as a virtual extension."""
    rows = db.query("SELECT u.extension, d.tech FROM users u LEFT JOIN devices d ON d.id = u.extension "
                    "WHERE u.extension = %s", (number,))
    row = first(exact(rows, "extension", number))
    if row is None:
        return None
    return {"extension": number, "tech": text_or_none(row.get("tech"))}
