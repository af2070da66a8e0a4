"""One client connection of the peer and the manager user it logged in as: the
read/write classes that decide which actions it may send and which events it
gets, and the send lock that keeps a message or list from interleaving with
an event from another thread.
"""
from __future__ import annotations

import socket
import threading
import time
from typing import Any, Optional

from .constants import ALL_CLASSES, FALSE_WORDS, TRUE_WORDS


class ManagerUser:
    __slots__ = ("name", "secret", "read", "write")

    def __init__(self, name: str, spec: Any) -> None:
        self.name = name
        if isinstance(spec, dict):
            self.secret = str(spec.get("secret", ""))
            self.read = classes_of(spec.get("read", "all"))
            self.write = classes_of(spec.get("write", "all"))
        else:
            self.secret = str(spec)
            self.read = self.write = ALL_CLASSES


def classes_of(value: Any) -> frozenset:
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [str(v).strip().lower() for v in value]
    else:
        items = [v.strip().lower() for v in str(value).split(",")]
    if "all" in items:
        return ALL_CLASSES
    return frozenset(i for i in items if i)


def event_mask(value: str) -> Optional[frozenset]:
    """The Events/EventMask header -> enabled classes (None = invalid)."""
    v = value.strip().lower()
    if v in ("on",) + TRUE_WORDS:
        return ALL_CLASSES
    if v in ("off",) + FALSE_WORDS or v == "":
        return frozenset()
    if v.isdigit():
        return ALL_CLASSES if int(v) else frozenset()
    classes = classes_of(v)
    return classes if classes else None


class PeerConn:
    """One client connection.  Writes go through ``send`` so that a whole
    message (or a whole event list) is never interleaved with an event from
    another thread."""

    def __init__(self, sock: socket.socket, conn_id: int, addr: Any) -> None:
        self.sock = sock
        self.id = conn_id
        self.addr = addr
        self.user: Optional[str] = None
        self.read: frozenset = frozenset()
        self.write: frozenset = frozenset()
        self.events: frozenset = frozenset()
        self.send_lock = threading.Lock()
        self.closed = threading.Event()
        self.thread: Optional[threading.Thread] = None

    def wants(self, privilege: str) -> bool:
        if self.user is None or self.closed.is_set():
            return False
        classes = {c.strip().lower() for c in privilege.split(",")} - {"all"}
        return bool(classes & self.events & self.read)

    def send(self, data: bytes) -> bool:
        if not data or self.closed.is_set():
            return False
        with self.send_lock:
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                self.shutdown()
                return False

    def shutdown(self) -> None:
        """Abrupt end (drop_connections/stop): wake the reader; the reader
        thread closes the socket itself."""
        self.closed.set()
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self) -> None:
        """Orderly end after Goodbye / Authentication failed: send FIN after
        the reply and drain what the client already sent, so that closing
        does not turn into an RST that could discard the reply in flight."""
        with self.send_lock:
            self.closed.set()
            try:
                self.sock.shutdown(socket.SHUT_WR)
                self.sock.setblocking(False)
                while self.sock.recv(65536):
                    pass
            except OSError:
                pass

    def pause(self, seconds: float, stopping: threading.Event) -> bool:
        """Sleep; True if the connection or the peer went away meanwhile."""
        deadline = time.monotonic() + seconds
        while True:
            if self.closed.is_set() or stopping.is_set():
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            stopping.wait(min(left, 0.05))
