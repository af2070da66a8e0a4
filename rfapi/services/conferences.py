"""Conferences: the meetme rows (the table keeps that name under ConfBridge too)."""
from __future__ import annotations

from typing import Any, Dict, List

from ..dao import conferences as dao
from ..runtime import runtime


def list_conferences() -> List[Dict[str, Any]]:
    return [dict(r) for r in dao.all_conferences(runtime().db)]
