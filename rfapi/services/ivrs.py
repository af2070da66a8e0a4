"""IVRs with their menu entries nested, in FreePBX's entry order."""
from __future__ import annotations

from typing import Any, Dict, List

from ..dao import ivrs as dao
from ..runtime import runtime


def list_ivrs() -> List[Dict[str, Any]]:
    db = runtime().db
    by_ivr: Dict[int, List[Dict[str, Any]]] = {}
    for e in dao.entries(db):
        by_ivr.setdefault(e["ivr_id"], []).append({"selection": e["selection"], "dest": e["dest"],
                                                   "ivr_ret": e["ivr_ret"]})
    out = []
    for d in dao.details(db):
        item = dict(d)
        item["entries"] = by_ivr.get(d["id"], [])
        out.append(item)
    return out
