"""Audit log: one JSON line per successful write (who, from where, what, result).

Secrets are redacted: any parameter declared ``secret=True`` and any whose name
looks like one (password, secret, pin)."""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from typing import Any, Dict, Optional

from flask import g, request

from .runtime import runtime

log = logging.getLogger("rfapi.audit")
_lock = threading.Lock()
_SECRETISH = re.compile(r"(pass|secret|pin|token)", re.I)


def redact(params: Dict[str, Any], secret_names=()) -> Dict[str, Any]:
    out = {}
    for k, v in (params or {}).items():
        out[k] = "***" if (k in secret_names or _SECRETISH.search(k)) and v not in (None, "") else v
    return out


def record(action: str, result: Any = None, params: Optional[Dict[str, Any]] = None) -> None:
    """Call after a write succeeded. ``params`` defaults to the validated request parameters."""
    user = getattr(g, "rfapi_user", None)
    line = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "request_id": getattr(g, "rfapi_request_id", None),
        "user": user.name if user else None,
        "client": request.remote_addr or "unix",
        "method": request.method,
        "route": request.path,
        "action": action,
        "params": redact(params if params is not None else getattr(g, "rfapi_params", {}),
                         getattr(g, "rfapi_secret_params", ())),
        "result": result,
    }
    if user is not None and user.kind == "token":  # which token (never its secret)
        line["token"] = {"id": user.name.split(":", 1)[1], "name": user.token_name}
    text = json.dumps(line, default=str, separators=(",", ":"))
    log.info(text)
    path = runtime().config.paths.audit_log
    if path:
        with _lock:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, (text + "\n").encode("utf-8"))  # one write(): lines never interleave
            finally:
                os.close(fd)
