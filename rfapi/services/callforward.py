"""Call forward (FreePBX callforward module): three AstDB keys per extension.

* ``CF/<ext>``: unconditional ("Call Forward All", feature codes *72 / *73);
* ``CFB/<ext>``: on busy (*90 / *91);
* ``CFU/<ext>``: on no answer / unavailable (*52 / *53).

A cleared forward is a deleted key (FreePBX's ``callforward_set_number`` with an
empty number). Only the unconditional forward has a BLF: with USEDEVSTATE,
``Custom:CF<ext>`` and ``Custom:DEVCF<device>`` for each of the user's devices are
``BUSY`` while it is set and ``NOT_INUSE`` when cleared (the *72/*73 dialplan's
``sstate`` and the *96 toggle's hint ``Custom:DEVCF<device>``). The dialplan
reads the keys at call time: no reload."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from .. import audit
from ..runtime import runtime
from . import callservices as cs
from . import events

# API field -> AstDB family, in the order FreePBX's callforward_get_extension reads them.
KINDS = (("unconditional", "CF"), ("busy", "CFB"), ("unavailable", "CFU"))
FIELDS = tuple(k for k, _ in KINDS)


def _read(ami, ext: str) -> Dict[str, Optional[str]]:
    out: Dict[str, Optional[str]] = {}
    for field, family in KINDS:
        val = ami.db_get(family, ext)
        out[field] = val if val else None  # FreePBX treats an empty value as no forward
    return out


def get(ext: str) -> Dict[str, Any]:
    cs.require_extension(ext)
    return dict(extension=ext, **_read(runtime().ami, ext))


def put(ext: str, wanted: Dict[str, Optional[str]]) -> Tuple[Dict[str, Any], str]:
    """Set (a number) or clear (None) each forward named in ``wanted``."""
    found = cs.require_extension(ext)
    if cs.is_virtual(found):
        errors = {}
        if wanted.get("busy"):
            errors["busy"] = "a virtual extension has no phone, so it is never busy"
        if wanted.get("unavailable"):
            errors["unavailable"] = ("a virtual extension has no phone to be unavailable; use the unconditional "
                                     "forward")
        if errors:
            raise cs.VirtualExtension(ext, errors)
    with cs.serialised(ext, "extension %s" % ext):
        return _put(ext, wanted)


def _put(ext: str, wanted: Dict[str, Optional[str]]) -> Tuple[Dict[str, Any], str]:
    writer = cs.AstdbWriter("call forward of extension %s" % ext)
    before = _read(writer.ami, ext)

    def work() -> None:
        for field, family in KINDS:
            if field not in wanted:
                continue
            number = wanted[field]
            if number:
                writer.put(family, ext, number, before[field])
            else:
                writer.delete(family, ext, before[field])
        if "unconditional" in wanted and cs.use_devstate():
            # Re-asserted even when CF/<ext> did not change: it repairs a lamp that drifted.
            state = "BUSY" if wanted["unconditional"] else "NOT_INUSE"
            writer.devstate("CF%s" % ext, state)
            for dev in cs.devices(ext):
                writer.devstate("DEVCF%s" % dev, state)

    cs.run(writer, work)
    after = dict(before, **{f: (wanted[f] or None) for f in FIELDS if f in wanted})
    result = dict(extension=ext, **after)
    if not writer.changed:
        return result, "Call forward of extension %s is already as requested" % ext
    audit.record("callforward.update", result)
    events.changed("callforward", "updated", **result)
    return result, "OK"
