"""Time conditions with their time group and the group's rules nested."""
from __future__ import annotations

from typing import Any, Dict, List

from ..dao import timeconditions as dao
from ..runtime import runtime


def list_timeconditions() -> List[Dict[str, Any]]:
    db = runtime().db
    times: Dict[int, List[Dict[str, Any]]] = {}
    for t in dao.group_times(db):
        times.setdefault(t["timegroupid"], []).append({"id": t["id"], "time": t["time"]})
    groups = {g["id"]: {"id": g["id"], "description": g["description"], "times": times.get(g["id"], [])}
              for g in dao.groups(db)}
    out = []
    for c in dao.conditions(db):
        item = dict(c)
        # `time` references the group whatever the mode; with mode calendar-group
        # FreePBX ignores it, but the reference is still what is stored.
        item["timegroup"] = groups.get(c["time"]) if c["time"] is not None else None
        out.append(item)
    return out
