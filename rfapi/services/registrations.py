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
from ..http import ApiError, NotFound
from ..runtime import runtime
from . import state
from .state import not_sip_reason

_URI_HOST = re.compile(r"^sips?:(?:[^@;>]*@)?(\[[^\]]+\]|[^:;>]+)(?::(\d+))?")
_RTT_MS = re.compile(r"\((\d+) ms\)")


def _int(v: Optional[str]) -> Optional[int]:
    try:
        return int((v or "").strip())
    except ValueError:
        return None


def _host_port(uri: str) -> Tuple[Optional[str], Optional[int]]:
    m = _URI_HOST.match(uri or "")
    if not m:
        return None, None
    return m.group(1).strip("[]"), int(m.group(2)) if m.group(2) else None


def _unknown_command(resp) -> bool:
    return (resp.get("Message") or "").startswith("Invalid/unknown command")


# --------------------------------------------------------------------------- PJSIP

def _pjsip_contacts() -> Dict[str, List[Dict[str, Any]]]:
    """AOR/endpoint name -> its contacts, from one PJSIPShowContacts."""
    resp, events = runtime().ami.list_action("PJSIPShowContacts")
    if not resp.ok:
        # No capture shows it, but res_pjsip answers an Error when no contact exists at all.
        if (resp.get("Message") or "").strip().lower().startswith("no contacts"):
            return {}
        raise ApiError("Asterisk refused PJSIPShowContacts: %s" % (resp.get("Message") or "").strip(), status=502)
    now = int(time.time())
    out: Dict[str, List[Dict[str, Any]]] = {}
    for ev in events:
        if ev.get("Event") != "ContactList":
            continue
        # ObjectName is "<aor>;@<hash>"; FreePBX names the AOR after the extension.
        aor = (ev.get("ObjectName") or "").split(";@", 1)[0]
        endpoint = ev.get("Endpoint") or aor
        uri = ev.get("Uri") or ""
        ip, port = _host_port(uri)
        rtt = _int(ev.get("RoundtripUsec"))
        expires = _int(ev.get("ExpirationTime"))
        contact = {
            "uri": uri, "ip": ip, "port": port,
            "via_addr": ev.get("ViaAddr") or None, "via_port": _int(ev.get("ViaPort")),
            "user_agent": ev.get("UserAgent") or "", "status": ev.get("Status") or "",
            "rtt_ms": round(rtt / 1000.0, 3) if rtt is not None else None,
            "expires_at": expires if expires else None,
            "expires_in": max(0, expires - now) if expires else None,
            "qualify_frequency": _int(ev.get("QualifyFrequency")),
        }
        for key in {aor, endpoint}:
            out.setdefault(key, []).append(contact)
    return out


def _pjsip_entry(dev: Dict[str, Any], contacts: Dict[str, List[Dict[str, Any]]]) -> Dict[str, Any]:
    mine = contacts.get(dev["extension"], [])
    if not mine:
        status = "unregistered"
    elif any(c["status"] == "Reachable" for c in mine):
        status = "Reachable"
    else:
        status = mine[0]["status"] or "unknown"
    return _entry(dev, bool(mine), status, mine)


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


def all_registrations() -> List[Dict[str, Any]]:
    devices = state.sip_devices()  # the same short-lived per-process list /state uses
    out: Dict[str, Dict[str, Any]] = {}
    pj = [d for d in devices if d["tech"] == "pjsip"]
    sp = [d for d in devices if d["tech"] == "sip"]
    if pj:
        contacts = _pjsip_contacts()
        for d in pj:
            out[d["extension"]] = _pjsip_entry(d, contacts)
    if sp:
        peers = _sip_peers()
        for d in sp:
            if peers is None:
                out[d["extension"]] = _sip_unknown(d)
                continue
            entry = peers.get(d["extension"])
            if entry is None:
                out[d["extension"]] = _entry(d, False, "unregistered", [])
                continue
            contact = _sip_contact_from_entry(entry)
            if contact is None:
                out[d["extension"]] = _entry(d, False, "unregistered", [])
                continue
            # Only a registered peer is worth the detail round trip (user agent, contact, expiry).
            detail = _sip_show_peer(d["extension"])
            if detail:
                contact = _sip_contact_from_detail(detail) or contact
            out[d["extension"]] = _entry(d, True, contact["status"], [contact])
    return [out[d["extension"]] for d in devices]


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
