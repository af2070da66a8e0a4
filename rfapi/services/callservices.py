"""What call forward, do-not-disturb and call waiting share: who the extension is,
its devices, and AstDB / custom device-state writes that can be undone.

FreePBX's modules keep these settings only in AstDB (read by the dialplan at call
time: no reload) and show them on BLF keys through custom device states. A state is
set the way FreePBX's ``set_global`` does it, ``Setvar DEVICE_STATE(Custom:<name>)``,
which is what notifies subscribed phones; Asterisk persists that value as AstDB
``CustomDevstate/<name>``, and rfapi writes that key too so AstDB reads agree at once
(and so a failed write can put the old value back)."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Any, Dict, Iterator, List, Optional, Tuple

from .. import audit
from ..dao import callservices as dao
from ..dao import extensions as ext_dao
from ..errors import ApiError, Conflict, NotFound
from ..runtime import runtime
from . import events
from .astdbwriter import AstdbWriter, run  # noqa: F401 (the call services' writer)

log = logging.getLogger("rfapi.callservices")

# A forward target: what a phone can dial (FreePBX stores the digits it is given).
NUMBER_PATTERN = r"\+?[0-9*#]+"
NUMBER_HELP = "must be a number to dial: digits, * and #, optionally starting with +"
NUMBER_MAX = 40


class VirtualExtension(ApiError):
    """The setting makes no sense for an extension without a phone: 409 naming the field."""

    status = 409

    def __init__(self, ext: str, errors: Dict[str, str]):
        super().__init__("Extension %s is virtual (it has no phone): %s" % (ext, ", ".join(sorted(errors))),
                         {"errors": errors})


LOCK_TIMEOUT = 10  # seconds to wait for another change to the same thing


@contextmanager
def serialised(key: str, what: str) -> Iterator[None]:
    """One change at a time to ``key`` across threads and workers (a MariaDB named lock):
    each write reads the current value and decides from it (a toggle, "already on").
    An extension's key is its number, the lock its create/update/delete take too."""
    db = runtime().db
    name = ext_dao.lock_name(db.dbname("config"), key)
    if not ext_dao.get_lock(db, name, LOCK_TIMEOUT):
        raise Conflict("Another change to %s is still in progress; try again" % what)
    try:
        yield
    finally:
        try:
            ext_dao.release_lock(db, name)
        except Exception as exc:  # the lock dies with its connection anyway
            log.warning("could not release lock %s: %s", name, exc)


def require_extension(ext: str) -> Dict[str, Optional[str]]:
    """The extension (``tech`` None for a virtual one), else 404."""
    found = dao.extension(runtime().db, ext)
    if found is None:
        raise NotFound("Extension %s not found" % ext)
    return found


def is_virtual(found: Dict[str, Optional[str]]) -> bool:
    return found.get("tech") in (None, "virtual")


def use_devstate() -> bool:
    """FreePBX's USEDEVSTATE (default on): without it the modules set no custom device states."""
    val = runtime().settings.get("USEDEVSTATE", "1")
    return str(val).strip().lower() in ("1", "true", "yes", "on")


def devices(ext: str) -> List[str]:
    """The user's devices, from AMPUSER/<ext>/device (``&``-joined), as FreePBX reads them.
    An empty list gives no device states (FreePBX's PHP would set ``Custom:DEVDND``
    with an empty name; its dialplan skips it)."""
    raw = runtime().ami.db_get("AMPUSER", "%s/device" % ext) or ""
    return [d for d in raw.split("&") if d]


def announce(writer: AstdbWriter, what: str, label: str, result: Dict[str, Any]) -> Tuple[Dict[str, Any], str]:
    """The answer of an on/off service's PUT: "already on/off" when nothing changed;
    otherwise one audit line and one ``config`` event (``what``: donotdisturb, ...)."""
    if not writer.changed:
        return result, "%s of extension %s is already %s" % (label, result["extension"],
                                                              "on" if result["enabled"] else "off")
    audit.record("%s.update" % what, result)
    events.changed(what, "updated", **result)
    return result, "OK"
