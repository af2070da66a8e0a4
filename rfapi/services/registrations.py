"""SIP registrations of the extensions (chan_pjsip contacts, chan_sip peers).

AMI round trips per request:
* ``/registrations``: one ``PJSIPShowContacts`` list when the PBX has chan_pjsip
  devices; when it has chan_sip devices, one ``SIPpeers`` list plus one
  ``SIPshowpeer`` per *registered* chan_sip peer (SIPpeers carries no user
  agent, contact URI or expiry). A PJSIP-only PBX: exactly one.
* ``/registrations/<ext>``: one (``PJSIPShowContacts``, or ``SIPshowpeer``).

PJSIPShowEndpoint is never used: its AuthDetail event carries the plain-text
SIP password (AMI.md). On Asterisk 21+ chan_sip is gone and SIPpeers /
SIPshowpeer answer ``Invalid/unknown command``: chan_sip extensions are then
reported unregistered with status ``unknown``."""
from __future__ import annotations

import re
import time
from typing import Any, Dict, List, Optional, Tuple

from ..dao import live as dao
from ..encoding import to_json, to_json_each
from ..errors import ApiError, NotFound
from ..runtime import runtime
from . import state
from .state import not_sip_reason

_URI_HOST = re.compile(r"^sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?")
_RTT_MS = re.compile(r"\((\d+) ms\)")


def _int(v: Optional[str]) -> Optional[int]:
    try:
        return int(v)  # int() itself ignores surrounding blanks
    except (TypeError, ValueError):
        return None


def _host_port(uri: str) -> Tuple[Optional[str], Optional[int]]:
    m = _URI_HOST.match(uri or "")
    if not m:
        return None, None
    return m.group(1).strip("[]"), int(m.group(2)) if m.group(2) else None


def _unknown_command(resp) -> bool:
    return (resp.get("Message") or "").startswith("Invalid/unknown command")


# --------------------------------------------------------------------------- PJSIP

# The headers of a ContactList event that make a reported contact (CallId, Path,
# QualifyTimeout, ... are not reported).
_CONTACT_HEADERS = ("ObjectName", "Endpoint", "Uri", "ViaAddr", "ViaPort", "UserAgent", "Status",
                    "RoundtripUsec", "ExpirationTime", "QualifyFrequency")


class _Contact:
    """One PJSIP contact as reported, built from the headers above.

    Portals poll every few seconds and a contact's values change only when it is
    qualified or re-registers, so a contact is kept (per process) while the next
    PJSIPShowContacts reports the very same values; only ``expires_in`` follows
    the clock. Its JSON is kept too, cut around ``expires_in``."""

    __slots__ = ("aor", "endpoint", "status", "status_json", "expires_at", "fields", "_head", "_tail")

    def __init__(self, values: Tuple[Optional[str], ...]):
        objectname, endpoint, uri, via_addr, via_port, agent, status, rtt_usec, expires, qualify = values
        # ObjectName is "<aor>;@<hash>"; FreePBX names the AOR after the extension.
        self.aor = (objectname or "").split(";@", 1)[0]
        self.endpoint = endpoint or self.aor
        uri = uri or ""
        ip, port = _host_port(uri)
        rtt = _int(rtt_usec)
        self.expires_at = _int(expires) or None
        self.status = status or ""
        self.fields = {
            "uri": uri, "ip": ip, "port": port, "via_addr": via_addr or None, "via_port": _int(via_port),
            "user_agent": agent or "", "status": self.status,
            "rtt_ms": round(rtt / 1000.0, 3) if rtt is not None else None,
            "expires_at": self.expires_at, "expires_in": None, "qualify_frequency": _int(qualify),
        }
        # A quote inside a JSON string is always escaped: this text occurs once, as the key.
        self._head, sep, self._tail = to_json(self.fields).partition('"expires_in":null')
        self._head += sep[:-4]
        self.status_json = to_json(self.status)

    def expires_in(self, now: int) -> Optional[int]:
        return max(0, self.expires_at - now) if self.expires_at else None

    def as_dict(self, now: int) -> Dict[str, Any]:
        d = dict(self.fields)
        d["expires_in"] = self.expires_in(now)
        return d

    def json(self, now: int) -> str:
        """``to_json(self.as_dict(now))``, without encoding anything."""
        left = self.expires_in(now)
        return self._head + ("null" if left is None else str(left)) + self._tail


def _pjsip_contacts() -> Dict[str, List[_Contact]]:
    """AOR/endpoint name -> its contacts, from one PJSIPShowContacts."""
    rt = runtime()
    resp, events = rt.ami.list_action("PJSIPShowContacts")
    if not resp.ok:
        # No capture shows it, but res_pjsip answers an Error when no contact exists at all.
        if (resp.get("Message") or "").strip().lower().startswith("no contacts"):
            return {}
        raise ApiError("Asterisk refused PJSIPShowContacts: %s" % (resp.get("Message") or "").strip(), status=502)
    known: Dict[Tuple[Optional[str], ...], _Contact] = getattr(rt, "_pjsip_contacts", {})
    seen: Dict[Tuple[Optional[str], ...], _Contact] = {}
    out: Dict[str, List[_Contact]] = {}
    for ev in events:
        get = ev.first.get  # 1,000 events: the header dict itself, not Message.get
        if get("Event") != "ContactList":
            continue
        values = tuple(map(get, _CONTACT_HEADERS))
        contact = known.get(values) or _Contact(values)
        seen[values] = contact
        out.setdefault(contact.aor, []).append(contact)
        if contact.endpoint != contact.aor:
            out.setdefault(contact.endpoint, []).append(contact)
    rt._pjsip_contacts = seen  # only what Asterisk reports now: bounded by its contacts
    return out


def _pjsip_entry(dev: Dict[str, Any], contacts: Dict[str, List[_Contact]]) -> Dict[str, Any]:
    mine = contacts.get(dev["extension"], [])
    if not mine:
        return _entry(dev, False, "unregistered", [])
    now = int(time.time())
    return _entry(dev, True, _pjsip_best(mine).status or "unknown", [c.as_dict(now) for c in mine])


def _pjsip_best(contacts: List[_Contact]) -> _Contact:
    """The contact whose status the AOR reports: a reachable one, else the first."""
    for c in contacts:
        if c.status == "Reachable":
            return c
    return contacts[0]


# ------------------------------------------------------------------------ chan_sip

def _sip_peers() -> Optional[Dict[str, Any]]:
    """Peer name -> PeerEntry, or None when this Asterisk has no chan_sip."""
    resp, events = runtime().ami.list_action("SIPpeers")
    if not resp.ok:
        if _unknown_command(resp):
            return None
        raise ApiError("Asterisk refused SIPpeers: %s" % (resp.get("Message") or "").strip(), status=502)
    return {ev.get("ObjectName") or "": ev for ev in events if ev.get("Event") == "PeerEntry"}


def _sip_show_peer(ext: str):
    """SIPshowpeer's reply (one Response); None when chan_sip is missing, False when the peer is."""
    resp = runtime().ami.action("SIPshowpeer", [("Peer", ext)])
    if resp.ok:
        return resp
    if _unknown_command(resp):
        return None
    if (resp.get("Message") or "").strip().startswith("Peer %s not found" % ext):
        return False
    raise ApiError("Asterisk refused SIPshowpeer: %s" % (resp.get("Message") or "").strip(), status=502)


def _rtt_ms(status: str) -> Optional[float]:
    m = _RTT_MS.search(status or "")
    return float(m.group(1)) if m else None


def _sip_contact_from_detail(detail) -> Optional[Dict[str, Any]]:
    ip = detail.get("Address-IP") or ""
    if ip in ("", "(null)", "-none-"):
        return None
    status = detail.get("Status") or ""
    regexpire = _int((detail.get("RegExpire") or "").split(" ")[0])
    uri = detail.get("Reg-Contact") or ""
    return {"uri": uri, "ip": ip, "port": _int(detail.get("Address-Port")), "via_addr": None, "via_port": None,
            "user_agent": detail.get("SIP-Useragent") or "", "status": status, "rtt_ms": _rtt_ms(status),
            "expires_at": int(time.time()) + regexpire if regexpire and regexpire > 0 else None,
            "expires_in": regexpire if regexpire and regexpire > 0 else None, "qualify_frequency": None}


def _sip_contact_from_entry(entry) -> Optional[Dict[str, Any]]:
    ip = entry.get("IPaddress") or ""
    if ip in ("", "-none-", "(null)"):
        return None
    status = entry.get("Status") or ""
    return {"uri": None, "ip": ip, "port": _int(entry.get("IPport")), "via_addr": None, "via_port": None,
            "user_agent": None, "status": status, "rtt_ms": _rtt_ms(status), "expires_at": None,
            "expires_in": None, "qualify_frequency": None}


def _sip_unknown(dev: Dict[str, Any]) -> Dict[str, Any]:
    e = _entry(dev, False, "unknown", [])
    e["note"] = "chan_sip is not available in this Asterisk"
    return e


# ---------------------------------------------------------------------------- common

def _entry(dev: Dict[str, Any], registered: bool, status: str, contacts: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"extension": dev["extension"], "name": dev["name"], "tech": dev["tech"], "registered": registered,
            "status": status, "contacts": contacts}


def all_registrations_json() -> str:
    """The ``data`` of GET /registrations as JSON text.

    The contacts are asked for on every request (RTTs and expiries move with each
    qualify and re-REGISTER). What does not move is kept: the entry of a device
    with no contact, encoded once per device list (sip_devices() hands out the
    same list until it changes), and each contact while Asterisk reports the same
    values (_Contact). On a PBX with 5,000 extensions and 1,000 phones online a
    poll then costs the AMI list, 5,000 lookups and 1,000 string joins."""
    rt = runtime()
    devices = state.sip_devices()  # the same short-lived per-process list /state uses
    cached = getattr(rt, "_registration_parts", None)
    if cached is None or cached[0] is not devices:
        cached = (devices, _DeviceParts(devices))
        rt._registration_parts = cached  # holds the list: `is` stays sound
    parts: _DeviceParts = cached[1]
    out = list(parts.unregistered)  # one text per device, in device order
    if parts.pjsip:
        contacts = _pjsip_contacts()
        now = int(time.time())
        # Walk the contacts (1,000), not the devices (5,000). The text is what
        # to_json(_pjsip_entry(...)) gives, assembled from the kept pieces.
        for name, mine in contacts.items():
            i = parts.pjsip.get(name)
            if i is None:
                continue
            best = _pjsip_best(mine)
            status = best.status_json if best.status else _UNKNOWN
            out[i] = "%s\"registered\":true,\"status\":%s,\"contacts\":[%s]}" % (
                parts.heads[i], status, ",".join([c.json(now) for c in mine]))
    if parts.sip:
        sip = [devices[i] for i in parts.sip]
        for i, text in zip(parts.sip, to_json_each(_sip_entries(sip), "extension")):
            out[i] = text
    return "[" + ",".join(out) + "]"


_UNKNOWN = to_json("unknown")


class _DeviceParts:
    """What GET /registrations keeps per device list: each entry as JSON while the
    device has no contact, each entry's device keys as JSON, and where each device
    sits in the list."""

    def __init__(self, devices: List[Dict[str, Any]]):
        self.unregistered = to_json_each([_entry(d, False, "unregistered", []) for d in devices], "extension")
        # '{"extension":"101","name":"...","tech":"pjsip",' — the unregistered entry up to its own keys.
        self.heads = [t[:t.rindex('"registered":false')] for t in self.unregistered]
        self.pjsip = {d["extension"]: i for i, d in enumerate(devices) if d["tech"] == "pjsip"}
        self.sip = [i for i, d in enumerate(devices) if d["tech"] == "sip"]


def _sip_entries(devices: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Entries of chan_sip devices: one SIPpeers, one SIPshowpeer per registered peer."""
    peers = _sip_peers()
    out = []
    for d in devices:
        if peers is None:
            out.append(_sip_unknown(d))
            continue
        entry = peers.get(d["extension"])
        contact = _sip_contact_from_entry(entry) if entry is not None else None
        if contact is None:
            out.append(_entry(d, False, "unregistered", []))
            continue
        # Only a registered peer is worth the detail round trip (user agent, contact, expiry).
        detail = _sip_show_peer(d["extension"])
        if detail:
            contact = _sip_contact_from_detail(detail) or contact
        out.append(_entry(d, True, contact["status"], [contact]))
    return out


def one_registration(ext: str) -> Dict[str, Any]:
    dev = dao.sip_device_or_none(runtime().db, ext)
    if dev is None:
        raise NotFound(not_sip_reason(ext))
    if dev["tech"] == "pjsip":
        return _pjsip_entry(dev, _pjsip_contacts())
    detail = _sip_show_peer(ext)
    if detail is None:
        return _sip_unknown(dev)
    if detail is False:
        return _entry(dev, False, "unregistered", [])
    contact = _sip_contact_from_detail(detail)
    if contact is None:
        return _entry(dev, False, "unregistered", [])
    return _entry(dev, True, contact["status"], [contact])
