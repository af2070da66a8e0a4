"""Hints, device and presence states: Asterisk's aggregation of device states
into an extension state, ExtensionState(List), DeviceStateList,
PresenceState(List), and Setvar of DEVICE_STATE(Custom:...) (the live-state
feed's probe).
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Tuple

from .conn import PeerConn
from .constants import EXTENSION_STATE_TEXT
from .wire import Action, Headers, ack, error, event_list, response


class StateHandlers:
    """Hint, device-state and presence actions of ``AmiPeer`` (a mixin)."""

    def _a_setvar(self, conn: PeerConn, act: Action, aid: str) -> bool:
        """Setvar without a channel: only DEVICE_STATE(Custom:<name>) is modelled (the
        state feed's probe): "Variable Set", then DeviceStateChange when the state
        changed (tests/data/ami/setvar-device-state.txt) and ExtensionStatus of hints on it."""
        var, value = act.get("Variable", "") or "", (act.get("Value", "") or "").strip().upper()
        m = re.fullmatch(r"DEVICE_STATE\((Custom:[^)]+)\)", var.strip())
        if not m:
            conn.send(error(aid, "Setvar: only DEVICE_STATE(Custom:...) is modelled by the peer"))
            return True
        device = m.group(1)
        with self.lock:
            changed = self.device_states.get(device) != value
            self.device_states[device] = value
        conn.send(ack(aid, "Variable Set"))
        if changed:
            self._emit_device_change(device)
        return True

    def _device_state(self, device: str) -> str:
        """Device state name of one device (lock held by caller)."""
        if device in self.device_states:
            return self.device_states[device]
        tech, _, res = device.partition("/")
        if tech.upper() == "PJSIP":
            ep = self.pjsip_endpoints.get(res)
            if ep is None:
                return "INVALID"
            return "NOT_INUSE" if self._contacts_for(self._aor_name(res)) else "UNAVAILABLE"
        if tech.upper() == "SIP":
            peer = self.sip_peers.get(res)
            if peer is None:
                return "INVALID"
            return "UNAVAILABLE" if peer.get("ip", "-none-") in ("-none-", "", None) else "NOT_INUSE"
        return "UNKNOWN"

    @staticmethod
    def _hint_devices(hint: str) -> List[str]:
        # "PJSIP/103&Custom:DND103,CustomPresence:103": devices before the comma.
        return [d for d in hint.split(",", 1)[0].split("&") if d]

    @staticmethod
    def _aggregate(states: List[str]) -> int:
        """Extension state from device states, after Asterisk's aggregation:
        ringing and in-use combine, any free device makes the hint Idle
        unless another is busy/in use, all unavailable -> Unavailable."""
        if not states:
            return -1
        s = set(states)
        ring = bool(s & {"RINGING", "RINGINUSE"})
        inuse = bool(s & {"INUSE", "RINGINUSE"})
        if ring and (inuse or "BUSY" in s or "ONHOLD" in s):
            return 9
        if ring:
            return 8
        if "BUSY" in s:
            return 2
        if inuse:
            return 17 if "ONHOLD" in s else 1
        if "ONHOLD" in s:
            return 16
        if "NOT_INUSE" in s:
            return 0
        if s <= {"UNAVAILABLE", "INVALID"}:
            return 4
        return 0

    def _hint_status(self, hint: Dict[str, Any], override: Optional[Dict[str, str]] = None) -> int:
        if override is None and "status" in hint:
            return int(hint["status"])
        devices = self._hint_devices(hint.get("hint", ""))
        return self._aggregate([(override or {}).get(d) or self._device_state(d) for d in devices])

    def _extension_status_fields(self, exten: str, hint: Dict[str, Any],
                                 override: Optional[Dict[str, str]] = None) -> Headers:
        status = self._hint_status(hint, override)
        return [("Exten", exten), ("Context", hint.get("context", "from-internal")),
                ("Hint", hint.get("hint", "")), ("Status", str(status)),
                ("StatusText", EXTENSION_STATE_TEXT.get(status, "Unknown"))]

    def _hints_for_device(self, device: str) -> List[Tuple[str, Dict[str, Any]]]:
        return [(e, dict(h)) for e, h in self.hints.items()
                if device in self._hint_devices(h.get("hint", ""))]

    def _a_extensionstate(self, conn: PeerConn, act: Action, aid: str) -> bool:
        exten = act.get("Exten", "") or ""
        context = act.get("Context", "") or "default"
        with self.lock:
            hint = self.hints.get(exten)
            if hint is not None and hint.get("context", "from-internal") == context:
                status = self._hint_status(hint)
                text = hint.get("hint", "")
            else:
                status, text = -1, ""
        conn.send(response("Success", aid, [
            ("Message", "Extension Status"), ("Exten", exten), ("Context", context),
            ("Hint", text), ("Status", str(status)),
            ("StatusText", EXTENSION_STATE_TEXT.get(status, "Unknown")),
        ]))
        return True

    def _a_extensionstatelist(self, conn: PeerConn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [self._extension_status_fields(e, h) for e, h in self.hints.items()]
        conn.send(event_list(aid, "Extension Statuses will follow", "ExtensionStatus", items,
                              "ExtensionStateListComplete"))
        return True

    def _a_devicestatelist(self, conn: PeerConn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [[("Device", d), ("State", s)] for d, s in self.device_states.items()]
        conn.send(event_list(aid, "Device State Changes will follow", "DeviceStateChange", items,
                              "DeviceStateListComplete"))
        return True

    def _a_presencestate(self, conn: PeerConn, act: Action, aid: str) -> bool:
        provider = act.get("Provider", "") or ""
        if not provider:
            conn.send(error(aid, "No provider specified"))
            return True
        if not provider.lower().startswith("custompresence:"):
            conn.send(error(aid, "Invalid provider %s or provider in invalid state" % provider))
            return True
        with self.lock:
            p = dict(self.presence.get(provider) or {})
        fields = [("Message", "Presence State"), ("State", str(p.get("state", "not_set")).lower())]
        if p.get("subtype"):
            fields.append(("Subtype", p["subtype"]))
        if p.get("message"):
            # Asterisk really repeats Message: here (AMI.md), then PresenceMessage.
            fields += [("Message", p["message"]), ("PresenceMessage", p["message"])]
        conn.send(response("Success", aid, fields))
        return True

    def _a_presencestatelist(self, conn: PeerConn, act: Action, aid: str) -> bool:
        with self.lock:
            items = [[("Presentity", name), ("Status", str(p.get("state", "not_set")).lower()),
                      ("Subtype", p.get("subtype", "")), ("Message", p.get("message", ""))]
                     for name, p in self.presence.items()]
        conn.send(event_list(aid, "Presence State Changes will follow", "PresenceStateChange", items,
                              "PresenceStateListComplete"))
        return True
