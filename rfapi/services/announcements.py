"""Announcements: the announcement rows as FreePBX stores them."""
from __future__ import annotations

from typing import Any, Dict, List

from ..dao import announcements as dao
from ..runtime import runtime


def list_announcements() -> List[Dict[str, Any]]:
    return [dict(r) for r in dao.all_announcements(runtime().db)]
