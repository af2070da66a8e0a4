"""Outbound routes in dial order, each with its dial patterns and trunks."""
from __future__ import annotations

from typing import Any, Dict, List

from ..dao import patterns as dao
from ..runtime import runtime


def outbound_routes() -> List[Dict[str, Any]]:
    db = runtime().db
    pats: Dict[int, List[Dict[str, Any]]] = {}
    for p in dao.patterns(db):
        pats.setdefault(p["route_id"], []).append({k: p[k] for k in ("match_pattern_prefix", "match_pattern_pass",
                                                                      "match_cid", "prepend_digits")})
    trunks: Dict[int, List[Dict[str, Any]]] = {}
    seen = set()
    for t in dao.trunks(db):
        if (t["route_id"], t["seq"], t["trunk_id"]) in seen:  # trunks has no unique trunkid in the DDL
            continue
        seen.add((t["route_id"], t["seq"], t["trunk_id"]))
        trunks.setdefault(t["route_id"], []).append({"trunk_id": t["trunk_id"], "seq": t["seq"], "name": t["name"],
                                                     "tech": t["tech"], "disabled": t["disabled"]})
    out = []
    for r in dao.routes(db):
        item = dict(r)
        item["patterns"] = pats.get(r["route_id"], [])
        item["trunks"] = trunks.get(r["route_id"], [])
        out.append(item)
    return out
