"""What a test reads back from a PBX world after a write: AstDB keys and custom
device states held by the AMI test peer, and the lines rfapi appended to its audit
log and its events journal."""
from __future__ import annotations

import json
from typing import Any, Dict, List, Optional


def astdb(pbx, key: str) -> Optional[str]:
    with pbx.peer.lock:
        return pbx.peer.astdb.get(key)


def devstate(pbx, name: str) -> Optional[str]:
    with pbx.peer.lock:
        return pbx.peer.device_states.get("Custom:" + name)


def _json_lines(path) -> List[Dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def audit_lines(pbx) -> List[Dict[str, Any]]:
    return _json_lines(pbx.root / "audit.log")


def journal(pbx) -> List[Dict[str, Any]]:
    return _json_lines(pbx.cache / "events.journal")
