"""Apply Config (fwconsole reload), the need-reload flag and Asterisk reload."""
from __future__ import annotations

import json
from typing import Any, Dict, List

from ..adapters.fwconsole import Result
from ..dao import framework as dao
from ..http import ApiError, Conflict
from ..runtime import runtime


def need_reload() -> bool:
    return dao.need_reload(runtime().db)


def mark_need_reload() -> bool:
    dao.set_need_reload(runtime().db)
    return True


def _json_lines(text: str) -> List[Dict[str, Any]]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


def reload_freepbx() -> Dict[str, Any]:
    """``fwconsole reload --json`` as FreePBX's own Apply Config runs it.

    Only one reload at a time per process: a second caller gets 409 at once
    rather than queueing behind a reload that can take minutes (FreePBX itself
    refuses a concurrent reload through its reload.lock)."""
    fw = runtime().fwconsole
    if not fw.reload_lock.acquire(blocking=False):
        raise Conflict("A reload is already running")
    try:
        res: Result = fw.run(["reload", "--json"])
    finally:
        fw.reload_lock.release()
    lines = _json_lines(res.stdout)
    errors = [l["error"] for l in lines if "error" in l]
    data = {"exit_code": res.returncode, "messages": [l.get("message") for l in lines if "message" in l],
            "errors": errors, "output": res.tail(50)}
    if res.returncode != 0 or errors:
        # FreePBX: a non-zero exit or any JSON line with "error" is a failed reload.
        raise ApiError("fwconsole reload failed", data=data, status=500)
    return data


def reload_asterisk() -> Dict[str, Any]:
    """AMI Reload (no Module: everything, like ``core reload``)."""
    resp = runtime().ami.action("Reload")
    if not resp.ok:
        raise ApiError("Asterisk refused the reload: %s" % resp.get("Message", ""), status=502)
    return {"response": resp.get("Response"), "message": resp.get("Message")}
