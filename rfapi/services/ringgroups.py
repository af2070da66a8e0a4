"""Ring groups, with the '-'-joined member list as an array."""
from __future__ import annotations

from typing import Any, Dict, List

from ..dao import ringgroups as dao
from ..runtime import runtime


def split_list(grplist) -> List[str]:
    """``101-102-5551234#`` -> ["101", "102", "5551234#"] (a trailing # = external number)."""
    return [m.strip() for m in (grplist or "").split("-") if m.strip()]


def list_ringgroups() -> List[Dict[str, Any]]:
    out = []
    for r in dao.all_ringgroups(runtime().db):
        item = dict(r)
        item["grplist"] = split_list(r["grplist"])
        out.append(item)
    return out
