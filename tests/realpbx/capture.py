"""Record an AMI exchange with the real Asterisk in the transcript format of
tests/data/ami (AMI.md "Transcript file format"): ``>>> sent`` / ``<<< received``
markers with a time offset and the exact byte count, then the bytes."""
from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import List, Tuple

DATA = Path(__file__).resolve().parents[1] / "data" / "ami"


class Recorder:
    def __init__(self, ast, comment: str):
        """``ast``: the tier's RealAsterisk (its AMI port; its version heads the file)."""
        self.asterisk_version = ast.inst.version()
        self.t0 = time.monotonic()
        self.sock = socket.create_connection(("127.0.0.1", ast.ami_port), timeout=10)
        self.parts: List[Tuple[str, float, bytes]] = [("===", 0.0, b"connect")]
        self.comment = comment

    def _t(self) -> float:
        return time.monotonic() - self.t0

    def send(self, text: str) -> None:
        data = text.replace("\n", "\r\n").encode() + b"\r\n"
        self.sock.sendall(data)
        self.parts.append((">>> sent", self._t(), data))

    def recv_until(self, needle: bytes, timeout: float = 10) -> bytes:
        """Receive (recording each chunk) until ``needle`` was seen or the server closed."""
        got = b""
        self.sock.settimeout(timeout)
        while needle not in got:
            chunk = self.sock.recv(65536)
            if not chunk:
                self.parts.append(("===", self._t(), b"closed by server"))
                break
            got += chunk
            self.parts.append(("<<< received", self._t(), chunk))
        return got

    def text(self) -> bytes:
        banner = b"".join(d for w, _, d in self.parts if w != "===").split(b"\r\n", 1)[0]
        ami = banner.decode(errors="replace").rpartition("/")[2] or "?"
        out = [("# Asterisk %s (AMI %s)\n" % (self.asterisk_version, ami) + "".join("# %s\n" % l for l in self.comment.splitlines())).encode()]
        for what, t, data in self.parts:
            if what == "===":
                out.append(b"=== %s t=+%.3fs\n" % (data, t))
            else:
                out.append(b"%s t=+%.3fs len=%d\n" % (what.encode(), t, len(data)) + data)
        return b"".join(out)

    def save(self, name: str) -> Path:
        p = DATA / name
        p.write_bytes(self.text())
        return p
