"""Unsolicited events the peer sends: single events to every connection whose
event mask and read classes want them, captured event sequences replayed byte
for byte (fresh Uniqueids each time), and phone (un)registrations with the
events a real PJSIP registration produces.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Tuple

from .wire import render_message


class EventEmission:
    """Event emission of ``AmiPeer`` (a mixin)."""

    def emit_event(self, name: str, fields: Iterable[Tuple[str, Any]],
                   privilege: str = "call,all") -> None:
        """Send an unsolicited event to every connection whose Events
        setting and read classes include one of ``privilege``'s classes."""
        data = render_message([("Event", name), ("Privilege", privilege)] + list(fields))
        with self.lock:
            conns = list(self._conns.values())
        for c in conns:
            if c.wants(privilege):
                c.send(data)

    _ID_HEADERS = (b"Uniqueid", b"Linkedid", b"DestUniqueid", b"DestLinkedid")

    def replay_events(self, capture: str, pace: float = 0.0) -> List[str]:
        """Send the unsolicited events of a captured transcript (``tests/data/ami/<capture>.txt``,
        e.g. ``events-call-internal``) to every connection that wants them, byte for byte as
        the real Asterisk sent them, in order, except that the Uniqueid/Linkedid values
        (also Dest*) are renumbered so a capture can be played again and again. ``pace``
        scales the captured gaps (0: at once). Returns the new Linkedids in order."""
        path = Path(__file__).resolve().parents[2] / "data" / "ami" / ("%s.txt" % capture)
        data = path.read_bytes()
        blocks, times = [], []
        marker = re.compile(rb"^<<< \S+ t=\+([0-9.]+)s len=(\d+)$", re.M)
        for m in marker.finditer(data):
            payload = data[m.end() + 1:m.end() + 1 + int(m.group(2))]
            if payload.startswith(b"Event: ") and b"\r\nActionID: " not in payload \
                    and not payload.startswith(b"Event: FullyBooted"):
                blocks.append(payload)
                times.append(float(m.group(1)))
        ids: Dict[bytes, bytes] = {}
        links: List[str] = []
        with self.lock:
            now = int(time.time())

            def fresh(old: bytes) -> bytes:
                if old not in ids:
                    ids[old] = b"%d.%d" % (now, self._uid_seq)
                    self._uid_seq += 1
                return ids[old]

            out = []
            for b in blocks:
                lines = b.split(b"\r\n")
                for i, line in enumerate(lines):
                    k, sep, v = line.partition(b": ")
                    if sep and k in self._ID_HEADERS and re.fullmatch(rb"[0-9]+\.[0-9]+", v):
                        lines[i] = k + sep + fresh(v)
                        if k == b"Linkedid" and fresh(v).decode() not in links:
                            links.append(fresh(v).decode())
                priv = re.search(rb"\r\nPrivilege: ([^\r]*)", b)
                out.append((b"\r\n".join(lines), priv.group(1).decode() if priv else "call,all"))
        last = times[0] if times else 0.0
        for (payload, privilege), t in zip(out, times):
            if pace and t > last:
                self._stopping.wait((t - last) * pace)
            last = t
            with self.lock:
                conns = list(self._conns.values())
            for c in conns:
                if c.wants(privilege):
                    c.send(payload)
        return links

    def pjsip_register(self, endpoint: str, uri: Optional[str] = None,
                       user_agent: str = "SIPp/3.6.1 test-phone", roundtrip_usec: int = 1134,
                       expires: int = 300) -> None:
        """Simulate a phone REGISTERing to endpoint/AOR ``endpoint``: updates
        contacts and device state and sends the events of events-registration.txt."""
        uri = uri or "sip:%s@127.0.0.1:5062" % endpoint
        m = re.match(r"sips?:[^@]*@([^:;>]+)(?::(\d+))?", uri)
        host, port = (m.group(1), int(m.group(2) or 5060)) if m else ("127.0.0.1", 5060)
        contact = {"uri": uri, "via_addr": host, "via_port": port, "user_agent": user_agent,
                   "status": "Reachable", "roundtrip_usec": roundtrip_usec,
                   "expiration_time": int(time.time()) + expires,
                   "call_id": "%x@%s" % (int(time.time() * 1000), host)}
        with self.lock:
            aor = self._aor_name(endpoint)
            self.pjsip_contacts[aor] = [contact]
            self.device_states["PJSIP/%s" % endpoint] = "NOT_INUSE"
        base = [("URI", uri)]
        tail = [("AOR", aor), ("EndpointName", endpoint)]
        self.emit_event("ContactStatus", base + [("ContactStatus", "NonQualified")] + tail
                        + [("RoundtripUsec", "0")], "system,all")
        self.emit_event("PeerStatus", [("ChannelType", "PJSIP"), ("Peer", "PJSIP/%s" % endpoint),
                                       ("PeerStatus", "Reachable")], "system,all")
        self.emit_event("ContactStatus", base + [("ContactStatus", "Reachable")] + tail
                        + [("RoundtripUsec", str(roundtrip_usec))], "system,all")
        self._emit_device_change("PJSIP/%s" % endpoint)

    def pjsip_unregister(self, endpoint: str) -> None:
        """Simulate the phone's un-REGISTER (Expires: 0)."""
        with self.lock:
            aor = self._aor_name(endpoint)
            contacts = self.pjsip_contacts.pop(aor, [])
            self.device_states["PJSIP/%s" % endpoint] = "UNAVAILABLE"
        self.emit_event("PeerStatus", [("ChannelType", "PJSIP"), ("Peer", "PJSIP/%s" % endpoint),
                                       ("PeerStatus", "Unreachable")], "system,all")
        for c in contacts:
            self.emit_event("ContactStatus", [("URI", c.get("uri", "")), ("ContactStatus", "Removed"),
                                              ("AOR", aor), ("EndpointName", endpoint),
                                              ("RoundtripUsec", "0")], "system,all")
        self._emit_device_change("PJSIP/%s" % endpoint)

    def _emit_device_change(self, device: str) -> None:
        with self.lock:
            state = self._device_state(device)
            hints = self._hints_for_device(device)
        self.emit_event("DeviceStateChange", [("Device", device), ("State", state)])
        for exten, hint in hints:
            self.emit_event("ExtensionStatus", self._extension_status_fields(exten, hint))
