"""A minimal AMI client for the tier's own look at the real Asterisk (seeding
AstDB, MailboxCount, VoicemailUsersList, recording captures). It is the test's
independent view; rfapi's adapter is what is under test."""
from __future__ import annotations

import socket
import time
from typing import Dict, List, Optional, Tuple

Message = List[Tuple[str, str]]


class AmiClient:
    def __init__(self, port: int, user: str = "admin", secret: str = "amp111", events: str = "off",
                 host: str = "127.0.0.1", timeout: float = 10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""
        self.raw = bytearray()   # every byte received (for captures)
        self._n = 0
        self.banner = self._line()
        r = self.action("Login", Username=user, Secret=secret, Events=events)
        assert dict(r).get("Response") == "Success", r

    def _recv(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("AMI closed")
        self.raw += chunk
        self.buf += chunk

    def _line(self) -> str:
        while b"\r\n" not in self.buf:
            self._recv()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode()

    def read_message(self) -> Message:
        while b"\r\n\r\n" not in self.buf:
            self._recv()
        block, self.buf = self.buf.split(b"\r\n\r\n", 1)
        out = []
        for line in block.decode("utf-8", "replace").split("\r\n"):
            k, _, v = line.partition(":")
            out.append((k.strip(), v.strip()))
        return out

    def send(self, action: str, headers: Optional[List[Tuple[str, str]]] = None, **kw: str) -> str:
        self._n += 1
        aid = "t%d-%d" % (int(time.time()), self._n)
        items = [("Action", action), ("ActionID", aid)] + list(headers or []) + list(kw.items())
        self.sock.sendall("".join("%s: %s\r\n" % kv for kv in items).encode() + b"\r\n")
        return aid

    def action(self, action: str, headers=None, **kw) -> Message:
        aid = self.send(action, headers, **kw)
        while True:
            m = self.read_message()
            if dict(m).get("ActionID") == aid and "Response" in dict(m):
                return m

    def action_list(self, action: str, **kw) -> Tuple[Message, List[Message]]:
        aid = self.send(action, **kw)
        resp, events = None, []
        while True:
            m = self.read_message()
            d = dict(m)
            if d.get("ActionID") != aid:
                continue
            if "Response" in d:
                resp = m
                if d.get("Response") != "Success" or d.get("EventList") != "start":
                    return resp, events
                continue
            if d.get("EventList") == "Complete":
                return resp, events
            events.append(m)

    def db_put_many(self, items: Dict[str, str]) -> None:
        """Pipelined DBPut of {"/FAMILY/key/..": value}."""
        ids = []
        for path, value in items.items():
            fam, key = path.strip("/").split("/", 1)
            ids.append(self.send("DBPut", Family=fam, Key=key, Val=value))
        pending = set(ids)
        while pending:
            d = dict(self.read_message())
            if d.get("ActionID") in pending:
                assert d.get("Response") == "Success", d
                pending.discard(d["ActionID"])

    def close(self) -> None:
        try:
            self.action("Logoff")
        except Exception:
            pass
        self.sock.close()
