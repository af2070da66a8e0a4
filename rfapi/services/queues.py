"""Queues: queues_config columns, queues_details options as a dict, static members parsed."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from ..dao import queues as dao
from ..runtime import runtime

_LOCAL = re.compile(r"^Local/([^@/]+)@")


def parse_member(data: str) -> Dict[str, Any]:
    """``Local/101@from-queue/n,0`` -> interface, extension, penalty (queues.conf
    ``member => interface[,penalty[,...]]``)."""
    parts = data.split(",")
    interface = parts[0]
    penalty: Optional[int] = 0
    if len(parts) > 1:
        p = parts[1].strip()
        penalty = int(p) if re.fullmatch(r"-?[0-9]+", p) else None
    m = _LOCAL.match(interface)
    return {"interface": interface, "extension": m.group(1) if m else None, "penalty": penalty, "data": data}


def list_queues() -> List[Dict[str, Any]]:
    db = runtime().db
    settings: Dict[str, Dict[str, str]] = {}
    members: Dict[str, List[tuple]] = {}
    for d in dao.details(db):
        if d["keyword"] == "member":
            members.setdefault(d["id"], []).append((d["flags"], d["data"]))
        else:
            # (id, keyword, data) is the key: a repeated option keeps its first row.
            settings.setdefault(d["id"], {}).setdefault(d["keyword"], d["data"])
    out = []
    for q in dao.configs(db):
        item = dict(q)
        item["settings"] = settings.get(q["extension"], {})
        item["members"] = [parse_member(data) for _, data in sorted(members.get(q["extension"], []),
                                                                     key=lambda fd: fd[0])]
        out.append(item)
    return out
