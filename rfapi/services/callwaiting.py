"""Call waiting (FreePBX callwaiting module): AstDB ``CW/<ext>`` = ``ENABLED`` when on,
the key deleted when off (feature codes *70 / *71, ``callwaiting_set``). No device
state. A new extension starts with call waiting on when the ENABLECW setting is on
(core writes the key at creation); an extension without the key has it off. The
dialplan reads the key at call time: no reload."""
from __future__ import annotations

from typing import Any, Dict, Tuple

from ..runtime import runtime
from . import callservices as cs

ON = "ENABLED"


def get(ext: str) -> Dict[str, Any]:
    cs.require_extension(ext)
    # Core's GUI shows "enabled" only for ENABLED (the value every FreePBX writer uses).
    return {"extension": ext, "enabled": runtime().ami.db_get("CW", ext) == ON}


def put(ext: str, enabled: bool) -> Tuple[Dict[str, Any], str]:
    found = cs.require_extension(ext)
    if enabled and cs.is_virtual(found):
        raise cs.VirtualExtension(ext, {"enabled": "a virtual extension has no phone to take a second call on"})
    with cs.serialised(ext, "extension %s" % ext):
        return _put(ext, enabled)


def _put(ext: str, enabled: bool) -> Tuple[Dict[str, Any], str]:
    writer = cs.AstdbWriter("call waiting of extension %s" % ext)

    cs.run(writer, lambda: writer.flag("CW", ext, enabled, ON))
    return cs.announce(writer, "callwaiting", "Call waiting", {"extension": ext, "enabled": enabled})
