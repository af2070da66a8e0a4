"""Announcing rfapi's own writes on the event stream of every worker."""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, Optional

from ...runtime import runtime

from .journal import Journal
log = logging.getLogger("rfapi.events")

# -- rfapi's own writes ---------------------------------------------------------------
def changed(what: str, action: str, needreload: Optional[bool] = None, **ids: Any) -> None:
    """Announce a successful write to every worker's subscribers (never fails the write):
    ``changed("extension", "created", extension="101", needreload=True)``."""
    try:
        d = runtime().config.paths.cache
        os.makedirs(d, mode=0o750, exist_ok=True)
        j = Journal(d)
        rec: Dict[str, Any] = {"what": what, "action": action}
        rec.update(ids)
        if what == "needreload":
            rec["needreload"] = needreload
        j.append(rec)
        if needreload is not None and what != "needreload":
            j.append({"what": "needreload", "action": "changed", "needreload": needreload})
    except Exception as exc:  # an announcement must never turn a done write into an error
        log.error("could not announce %s %s on the event stream: %s", what, action, exc)
