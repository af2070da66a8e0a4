"""Do-not-disturb (FreePBX donotdisturb module).

On: AstDB ``DND/<ext>`` = ``YES``; off: the key is deleted (``donotdisturb_set``,
feature codes *78 on / *79 off / *76 toggle). With USEDEVSTATE the module also sets
``Custom:DND<ext>`` (part of the extension's own hint, ``PJSIP/101&Custom:DND101``,
so the extension shows busy) and ``Custom:DEVDND<device>`` for each of the user's
devices (the *76<device> BLF hint) to ``BUSY`` when on and ``UNAVAILABLE`` when off:
FreePBX uses UNAVAILABLE, not NOT_INUSE, so the phone's own state decides the
extension's hint again. FreePBX 17's DND sets no presence state. The dialplan
(macro-dial-one) reads the key at call time: no reload."""
from __future__ import annotations

from typing import Any, Dict, Tuple

from ..runtime import runtime
from . import callservices as cs

ON = "YES"
STATE_ON, STATE_OFF = "BUSY", "UNAVAILABLE"


def get(ext: str) -> Dict[str, Any]:
    cs.require_extension(ext)
    # Core's GUI counts only YES as on; the dialplan any non-empty value. rfapi writes YES.
    return {"extension": ext, "enabled": runtime().ami.db_get("DND", ext) == ON}


def put(ext: str, enabled: bool) -> Tuple[Dict[str, Any], str]:
    cs.require_extension(ext)
    with cs.serialised(ext, "extension %s" % ext):
        return _put(ext, enabled)


def _put(ext: str, enabled: bool) -> Tuple[Dict[str, Any], str]:
    writer = cs.AstdbWriter("do-not-disturb of extension %s" % ext)

    def work() -> None:
        writer.flag("DND", ext, enabled, ON)
        if cs.use_devstate():
            state = STATE_ON if enabled else STATE_OFF
            for dev in cs.devices(ext):
                writer.devstate("DEVDND%s" % dev, state)
            writer.devstate("DND%s" % ext, state)

    cs.run(writer, work)
    return cs.announce(writer, "donotdisturb", "Do-not-disturb", {"extension": ext, "enabled": enabled})
