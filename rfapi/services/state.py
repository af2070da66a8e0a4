"""Device state and presence of the SIP extensions.

``/state`` costs at most two AMI round trips whatever the size of the PBX:
``ExtensionStateList`` (every hint, one event list) and, only when a hint names
a presence provider (FreePBX hints end in ``,CustomPresence:<ext>``),
``PresenceStateList``. ``/state/<ext>`` uses the single-reply ``ExtensionState``
(Context from-internal; FreePBX's hints live in ext-local, which from-internal
includes) and ``PresenceState`` for that one provider.

Live state (``services/livestate.py``): ``/state`` answers from a table fed by
AMI events when it is live (no action at all per request); the first request of
a process starts that feed and waits (at most the AMI timeout) for its seed.
When the table is not live (AMI down, feed reconnecting, not seeded yet) it
answers on demand as described above, so an unreachable Asterisk is still a
503. Every entry says which: ``live`` (true: from the table) and
``refreshed_at`` (UTC; from the table: when Asterisk last reported that
extension's state or presence — the seed after the feed's connect or a later
event; while ``live`` the value is current, so this is not an age; on demand:
the time of the answer).

The state names are Asterisk's extension states (pbx.c), lower-cased: ``idle``,
``inuse``, ``busy``, ``unavailable``, ``ringing``, ``onhold`` and the
combinations ``inuse&ringing``, ``inuse&onhold``; ``unknown`` when Asterisk has
no hint for the extension (status -1)."""
from __future__ import annotations

import threading
import time
from typing import Any, Dict, List, Optional

from ..dao import live as dao
from . import livestate
from ..encoding import to_json
from ..errors import ApiError, NotFound
from ..runtime import runtime
from . import extcache

HINT_CONTEXT = "from-internal"
# Asterisk's AST_EXTENSION_* bits, in the order their names are joined.
_BITS = ((1, "inuse"), (2, "busy"), (4, "unavailable"), (8, "ringing"), (16, "onhold"))
# Contexts a FreePBX hint may sit in, most authoritative first.
_PREFERRED_CONTEXTS = ("ext-local", "from-internal")


def not_sip_reason(ext: str) -> str:
    """The 404 message for an extension without a SIP device."""
    db = runtime().db
    if not dao.SAFE_EXT.match(ext or "") or (dao.user(db, ext) is None and dao.device(db, ext) is None):
        return "Extension %s not found" % (ext or "")[:40]
    return "Extension %s is not a SIP extension" % ext


def state_name(status: int) -> str:
    if status == 0:
        return "idle"
    if status == -2:
        return "removed"
    if status < 0:
        return "unknown"
    names = [name for bit, name in _BITS if status & bit]
    return "&".join(names) if names else "unknown"


def presence_provider(hint: str) -> Optional[str]:
    """``PJSIP/101&Custom:DND101,CustomPresence:101`` -> ``CustomPresence:101``."""
    if "," not in (hint or ""):
        return None
    provider = hint.split(",", 1)[1].strip()
    return provider or None


def _int(v: Optional[str], default: int = -1) -> int:
    try:
        return int(v or "")
    except ValueError:
        return default


def _presence(state: str, subtype: str, message: str) -> Optional[Dict[str, str]]:
    state = (state or "").strip().lower()
    if not state or state in ("not_set", "invalid"):
        return None
    return {"state": state, "subtype": subtype or "", "message": message or ""}


def _entry(dev: Dict[str, Any], hint_ev, presence: Optional[Dict[str, str]]) -> Dict[str, Any]:
    if hint_ev is None:
        status, text, hint, context = -1, "Unknown", None, None
    else:
        status = _int(hint_ev.get("Status"))
        text = hint_ev.get("StatusText") or ""
        hint = hint_ev.get("Hint") or None
        context = hint_ev.get("Context")
    return {"extension": dev["extension"], "name": dev["name"], "tech": dev["tech"],
            "state": state_name(status), "status": status, "status_text": text, "hint": hint,
            "context": context, "presence": presence}


def _check(resp, action: str) -> None:
    if not resp.ok:
        raise ApiError("Asterisk refused %s: %s" % (action, (resp.get("Message") or "").strip()), status=502)


def utc(t: float) -> str:
    """``2025-11-25T19:46:40.123Z``"""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def _on_demand(entry: Dict[str, Any], stamp: str) -> Dict[str, Any]:
    entry["refreshed_at"] = stamp
    entry["live"] = False
    return entry


# The SIP device list changes rarely but /state is polled every few seconds by every
# portal: keep it per process for a few seconds, and drop it at once when any worker
# writes extensions through the API (extcache's generation).
DEVICES_TTL = 5.0
_devices_lock = threading.Lock()


def sip_devices() -> List[Dict[str, Any]]:
    """Every SIP device, cached per app for DEVICES_TTL seconds or until an API write."""
    rt = runtime()
    key = extcache.generation_mark()
    now = time.monotonic()
    with _devices_lock:
        c = getattr(rt, "_state_devices", None)  # per app (tests build many in one process)
        if c is not None and c[0] == key and now - c[1] < DEVICES_TTL:
            return c[2]
    devices = dao.sip_devices(rt.db)
    with _devices_lock:
        rt._state_devices = (key, now, devices)
    return devices


def all_states_json() -> str:
    """The ``data`` of GET /state as JSON text. From the live table the text is kept
    and reused while neither the table (its change count) nor the device list
    changed: portals poll this every few seconds and mostly nothing moved."""
    rt = runtime()
    devices = sip_devices()
    view = livestate.current(rt.ami.timeout)
    if view is not None:
        cached = getattr(rt, "_state_json", None)
        if cached is not None and cached[0] is devices and cached[1] == (view.changes, view.seeded_at):
            return cached[2]
        text = to_json([_live_entry(d, view) for d in devices])
        rt._state_json = (devices, (view.changes, view.seeded_at), text)  # holds the list: `is` stays sound
        return text
    return to_json(_all_states_on_demand(devices))


def _all_states_on_demand(devices: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    stamp = utc(time.time())
    return [_on_demand(e, stamp) for e in _all_on_demand(devices)]


_DEVICE_KEYS = ("extension", "name", "tech")


def _live_entry(dev: Dict[str, Any], view: "livestate.View") -> Dict[str, Any]:
    ext = dev["extension"]
    row = None
    for r in view.hints.get(ext, {}).values():
        if row is None or _rank(r.fields) < _rank(row.fields):
            row = r
    prow = None
    if row is not None:
        provider = presence_provider(row.fields["Hint"])
        prow = view.presence.get(provider) if provider else None
    seeded = view.seeded_at if row is None else None
    cached = view.memo.get(ext)
    if cached is not None and cached[0] is row and cached[1] is prow and cached[2] == seeded:
        part = cached[3]  # rows are replaced on change: the same rows give the same answer
    else:
        presence, at = None, view.seeded_at
        if row is not None:
            at = row.at
            if prow is not None:
                presence = _presence(prow.fields["Status"], prow.fields["Subtype"], prow.fields["Message"])
                at = max(at, prow.at)
        full = _entry(dev, row.fields if row is not None else None, presence)
        part = {k: v for k, v in full.items() if k not in _DEVICE_KEYS}
        part["refreshed_at"] = utc(at)
        part["live"] = True
        view.memo[ext] = (row, prow, seeded, part)
    entry = {"extension": ext, "name": dev["name"], "tech": dev["tech"]}
    entry.update(part)
    return entry


def _all_on_demand(devices: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    ami = runtime().ami
    resp, events = ami.list_action("ExtensionStateList")
    _check(resp, "ExtensionStateList")
    wanted = {d["extension"] for d in devices}
    hints: Dict[str, Any] = {}
    for ev in events:
        if ev.get("Event") != "ExtensionStatus":
            continue
        exten = ev.get("Exten") or ""
        if exten not in wanted:
            continue
        current = hints.get(exten)
        if current is None or _rank(ev) < _rank(current):
            hints[exten] = ev
    providers = {p for p in (presence_provider(h.get("Hint") or "") for h in hints.values()) if p}
    presence: Dict[str, Optional[Dict[str, str]]] = {}
    if providers:
        presp, pevents = ami.list_action("PresenceStateList")
        _check(presp, "PresenceStateList")
        for ev in pevents:
            if ev.get("Event") == "PresenceStateChange":
                presence[ev.get("Presentity") or ""] = _presence(ev.get("Status") or "", ev.get("Subtype") or "",
                                                                 ev.get("Message") or "")
    out = []
    for d in devices:
        ev = hints.get(d["extension"])
        provider = presence_provider(ev.get("Hint") or "") if ev is not None else None
        out.append(_entry(d, ev, presence.get(provider) if provider else None))
    return out


def _rank(ev) -> int:
    ctx = ev.get("Context") or ""
    return _PREFERRED_CONTEXTS.index(ctx) if ctx in _PREFERRED_CONTEXTS else len(_PREFERRED_CONTEXTS)


def one_state(ext: str) -> Dict[str, Any]:
    dev = dao.sip_device_or_none(runtime().db, ext)
    if dev is None:
        raise NotFound(not_sip_reason(ext))
    ami = runtime().ami
    resp = ami.action("ExtensionState", [("Exten", ext), ("Context", HINT_CONTEXT)])
    _check(resp, "ExtensionState")
    ev = resp if _int(resp.get("Status")) != -1 or resp.get("Hint") else None
    presence = None
    provider = presence_provider(resp.get("Hint") or "")
    if provider:
        presp = ami.action("PresenceState", [("Provider", provider)])
        if presp.ok:
            # The reply repeats Message: ("Presence State", then the text); PresenceMessage is unambiguous.
            presence = _presence(presp.get("State") or "", presp.get("Subtype") or "",
                                 presp.get("PresenceMessage") or "")
    return _on_demand(_entry(dev, ev, presence), utc(time.time()))
