"""The AMI baseline: one event-list round trip on a plain socket, no library.

Send the action, read until the message carrying ``EventList: Complete`` for our
ActionID, split the bytes into messages of ``Key: Value`` headers. That is the
least any AMI client must do to answer /state or /registrations.
"""
from __future__ import annotations

import itertools
import socket
import time
from typing import Dict, List, Sequence, Tuple

Headers = Sequence[Tuple[str, str]]


class RawAmi:
    def __init__(self, host: str, port: int, user: str, secret: str, timeout: float = 30.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0
        self.ids = itertools.count(1)
        self.pos = self._read_until(b"\r\n") + 2  # banner
        resp, _ = self.round_trip([("Action", "Login"), ("Username", user), ("Secret", secret), ("Events", "off")])
        if resp.get("Response") != "Success":
            raise RuntimeError("AMI login refused")

    def _read_until(self, marker: bytes) -> int:
        """Index of ``marker`` at or after self.pos, reading more as needed."""
        start = self.pos
        while True:
            i = self.buf.find(marker, start)
            if i >= 0:
                return i
            start = max(self.pos, len(self.buf) - len(marker))
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError("AMI connection closed")
            if self.pos > (1 << 20):  # drop what was consumed (rarely: no quadratic copying)
                self.buf, start = self.buf[self.pos:], start - self.pos
                self.pos = 0
            self.buf += data

    def _next_message(self) -> bytes:
        end = self._read_until(b"\r\n\r\n")
        msg, self.pos = self.buf[self.pos:end], end + 4
        return msg

    @staticmethod
    def parse(msg: bytes) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for line in msg.decode("utf-8", "replace").split("\r\n"):
            k, sep, v = line.partition(":")
            if sep and k not in out:
                out[k] = v.strip()
        return out

    def round_trip(self, headers: Headers) -> Tuple[Dict[str, str], List[Dict[str, str]]]:
        """(response, list events) of one action; events empty for a plain action."""
        aid = "bench-%d" % next(self.ids)
        wire = "".join("%s: %s\r\n" % (k, v) for k, v in headers if k.lower() != "actionid")
        self.sock.sendall((wire + "ActionID: %s\r\n\r\n" % aid).encode("utf-8"))
        resp = None
        events: List[Dict[str, str]] = []
        while True:
            m = self.parse(self._next_message())
            if m.get("ActionID") != aid:
                continue  # an unsolicited event (Events: off should mean none)
            if resp is None:
                resp = m
                if m.get("EventList") != "start":
                    return resp, events
                continue
            if m.get("EventList") == "Complete":
                return resp, events
            events.append(m)

    def timed(self, actions: Sequence[Headers]) -> Tuple[float, int]:
        """Seconds for the given actions one after another, and the number of list events."""
        t0 = time.perf_counter()
        n = 0
        for h in actions:
            n += len(self.round_trip(h)[1])
        return time.perf_counter() - t0, n

    def close(self) -> None:
        try:
            self.round_trip([("Action", "Logoff")])
        except (OSError, ConnectionError):
            pass
        self.sock.close()
