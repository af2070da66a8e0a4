"""A small Server-Sent Events client for the tests: one socket, a reader thread that
parses frames (id / event / data / comments) into a queue."""
from __future__ import annotations

import base64
import json
import queue
import socket
import threading
import time
from typing import Any, Dict, List, Optional, Tuple

from werkzeug.serving import make_server


class Frame:
    def __init__(self, fields: List[Tuple[str, str]], at: float):
        self.fields = fields
        self.at = at  # time.monotonic() when the frame was complete

    @property
    def comments(self) -> List[str]:
        return [v for k, v in self.fields if k == ""]

    def get(self, key: str) -> Optional[str]:
        for k, v in self.fields:
            if k == key:
                return v
        return None

    @property
    def id(self) -> Optional[str]:
        return self.get("id")

    @property
    def event(self) -> Optional[str]:
        return self.get("event")

    @property
    def data(self) -> Any:
        d = self.get("data")
        return json.loads(d) if d is not None else None

    def __repr__(self) -> str:
        return "Frame(%r)" % (self.fields,)


class Stream:
    """``GET path`` on ``target`` ((host, port) or a unix socket path), kept open."""

    def __init__(self, target, path: str, auth: Optional[Tuple[str, str]] = None,
                 headers: Optional[Dict[str, str]] = None, timeout: float = 15.0):
        if isinstance(target, str):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(target)
        else:
            self.sock = socket.create_connection(target, timeout=timeout)
        h = {"Host": "localhost", "Accept": "text/event-stream"}
        if auth:
            h["Authorization"] = "Basic " + base64.b64encode(("%s:%s" % auth).encode()).decode()
        h.update(headers or {})
        req = "GET %s HTTP/1.1\r\n%s\r\n" % (path, "".join("%s: %s\r\n" % kv for kv in h.items()))
        self.sock.sendall(req.encode())
        self.frames: "queue.Queue[Optional[Frame]]" = queue.Queue()
        self.status = 0
        self.headers: Dict[str, str] = {}
        self.body = b""            # a non-stream answer (errors)
        self.raw = bytearray()     # every byte of the stream body (after de-chunking)
        self._ready = threading.Event()
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise AssertionError("no answer headers for %s" % path)

    def _read(self) -> None:
        buf = b""
        try:
            while b"\r\n\r\n" not in buf:
                d = self.sock.recv(65536)
                if not d:
                    raise EOFError
                buf += d
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            for line in lines[1:]:
                k, _, v = line.partition(":")
                self.headers[k.strip().lower()] = v.strip()
            chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
            if self.status != 200:
                n = int(self.headers.get("content-length", "0") or 0)
                while len(buf) < n:
                    d = self.sock.recv(65536)
                    if not d:
                        break
                    buf += d
                self.body = buf[:n] if n else buf
                return
            self._ready.set()
            text = b""
            while True:
                if chunked:
                    while b"\r\n" not in buf:
                        d = self.sock.recv(65536)
                        if not d:
                            raise EOFError
                        buf += d
                    size_line, _, buf = buf.partition(b"\r\n")
                    size = int(size_line.split(b";")[0], 16)
                    while len(buf) < size + 2:
                        d = self.sock.recv(65536)
                        if not d:
                            raise EOFError
                        buf += d
                    data, buf = buf[:size], buf[size + 2:]
                    if size == 0:
                        return
                else:
                    data = buf or self.sock.recv(65536)
                    buf = b""
                    if not data:
                        return
                self.raw += data
                text += data
                while b"\n\n" in text:
                    block, _, text = text.partition(b"\n\n")
                    fields = []
                    for line in block.decode("utf-8").split("\n"):
                        if line.startswith(":"):
                            fields.append(("", line[1:].strip()))
                        else:
                            k, _, v = line.partition(":")
                            fields.append((k, v[1:] if v.startswith(" ") else v))
                    self.frames.put(Frame(fields, time.monotonic()))
        except (OSError, EOFError, ValueError):
            pass
        finally:
            self._ready.set()
            self.closed.set()
            self.frames.put(None)

    def next(self, timeout: float = 10.0) -> Optional[Frame]:
        """The next frame (None: the stream ended); AssertionError after ``timeout``."""
        try:
            return self.frames.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no frame within %.0f s" % timeout) from None

    def events(self, n: int, timeout: float = 10.0, event: Optional[str] = None) -> List[Frame]:
        """The next ``n`` frames that are events (not comments), optionally of one type."""
        out: List[Frame] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            f = self.next(max(0.01, deadline - time.monotonic()))
            if f is None:
                raise AssertionError("stream ended after %r" % out)
            if f.event is not None and (event is None or f.event == event):
                out.append(f)
        return out

    def first_of_each(self, *preds, timeout: float = 10.0) -> List[Frame]:
        """For each predicate, the first event frame it accepts, whatever order they come in
        (a write's config event and the state event Asterisk reports race each other)."""
        deadline = time.monotonic() + timeout
        found: List[Optional[Frame]] = [None] * len(preds)
        seen = []
        while any(f is None for f in found):
            f = self.next(max(0.01, deadline - time.monotonic()))
            if f is None:
                raise AssertionError("stream ended; saw %r" % seen)
            seen.append(f)
            for i, pred in enumerate(preds):
                if found[i] is None and f.event is not None and pred(f):
                    found[i] = f
                    break
        return found  # type: ignore[return-value]

    def until(self, pred, timeout: float = 10.0) -> Frame:
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            f = self.next(max(0.01, deadline - time.monotonic()))
            if f is None:
                raise AssertionError("stream ended; saw %r" % seen)
            if f.event is not None and pred(f):
                return f
            seen.append(f)

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class Server:
    """The app on a real socket: werkzeug's threaded server in a daemon thread."""

    def __init__(self, app):
        self._srv = make_server("127.0.0.1", 0, app, threaded=True)
        self.addr = ("127.0.0.1", self._srv.server_port)
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(5)
