"""Capacity of ``GET /events`` for the whole box, and noticing a client that left.

* ``BoxSlots``: streams are counted across every worker process of the box, in one
  small file in the cache directory (a line ``<pid>:<hub> <count>`` per hub, changed
  under an exclusive flock; lines of processes that no longer exist are ignored and
  dropped). The kernel hands a new connection to whichever worker accepts first, so
  a per-worker limit would refuse streams well below the box's capacity whenever
  the spread is uneven; with one count for the box, and room in every worker's
  thread pool for the whole capacity (deploy/gunicorn.conf.py), the capacity holds
  whatever the spread.
* ``SocketWatch``: one thread per process waits (epoll) on the sockets of every open
  stream. A stream's thread sleeps until an event or the next heartbeat; without
  this it would notice a client that closed only when that write fails, up to a
  heartbeat (15 s) later, and keep the client's slot meanwhile. The watch sees the
  end of the stream (the socket becomes readable and reads as empty) at once, marks
  the stream gone and wakes it, so the slot is free again within milliseconds.
* Probes: behind Apache, rfapi's socket is Apache's, and Apache notices that its
  client left only when it next writes to it (mod_proxy_http does not watch the
  client while it waits for the backend). So when a new stream finds the box full,
  it bumps a shared counter; every worker's streams then write a probe (an empty
  comment, twice, PROBE_AGAIN apart); Apache's write to a departed client fails, it
  closes its connection to rfapi, the watch sees that, the slot is free; the new
  stream waits up to OPEN_WAIT s for one before answering 503.
"""
from __future__ import annotations

import fcntl
import logging
import os
import selectors
import socket
import threading
from typing import Callable, Dict, Optional, Tuple

log = logging.getLogger("rfapi.events")

SLOTS_FILE = "events.streams"
PROBE_COUNTER = "events.probe"
PROBE = b":\n\n"       # an empty SSE comment: EventSource dispatches nothing for it
PROBE_AGAIN = 0.2       # seconds between a stream's two probes
CLAIM_RETRY = 0.05      # seconds between a waiting open's looks for a freed slot
OPEN_WAIT = 1.5         # seconds a new stream waits for a slot when the box is full


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class BoxSlots:
    """How many ``/events`` streams are open on the box (every worker), bounded."""

    def __init__(self, directory: str, tag: str):
        self.path = os.path.join(directory, SLOTS_FILE)
        self.key = "%d:%s" % (os.getpid(), tag)
        self.mine = 0
        self._lock = threading.Lock()

    def _update(self, delta: int, limit: Optional[int]) -> Tuple[bool, int]:
        """Apply ``delta`` to this hub's count unless the box would go over ``limit``:
        (done, box total after)."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            raw = b""
            while True:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                raw += chunk
            counts: Dict[str, int] = {}
            for line in raw.decode("ascii", "replace").splitlines():
                key, _, num = line.partition(" ")
                pid = key.partition(":")[0]
                if pid.isdigit() and num.strip().isdigit() and _alive(int(pid)):
                    counts[key] = int(num)
            counts[self.key] = self.mine
            total = sum(counts.values())
            if limit is not None and delta > 0 and total + delta > limit:
                return False, total
            self.mine = max(0, self.mine + delta)
            counts[self.key] = self.mine
            text = "".join("%s %d\n" % kv for kv in counts.items() if kv[1] > 0).encode("ascii")
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, text)
            return True, sum(counts.values())
        finally:
            os.close(fd)

    def claim(self, limit: int) -> bool:
        with self._lock:
            try:
                return self._update(1, limit)[0]
            except OSError as exc:
                # Cache dir unusable: this process counts alone (never worse than a per-worker limit).
                log.error("events: cannot count streams in %s (%s); counting per process", self.path, exc)
                if self.mine >= limit:
                    return False
                self.mine += 1
                return True

    def release(self) -> None:
        with self._lock:
            try:
                self._update(-1, None)
            except OSError:
                self.mine = max(0, self.mine - 1)

    def total(self) -> int:
        """Streams open on the whole box right now."""
        with self._lock:
            try:
                return self._update(0, None)[1]
            except OSError:
                return self.mine


class SocketWatch:
    """Calls ``on_close`` soon after the peer of a watched socket closes it."""

    TICK = 0.5  # seconds: the loop also looks at newly added sockets this often

    def __init__(self):
        self._pid = os.getpid()
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None

    def watch(self, sock: socket.socket, on_close: Callable[[], None]) -> None:
        with self._lock:
            fd = sock.fileno()
            try:
                self._sel.unregister(fd)  # a stale entry of a socket closed without unwatch
            except (KeyError, ValueError, OSError):
                pass
            self._sel.register(fd, selectors.EVENT_READ, (sock, on_close))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="rfapi-events-watch", daemon=True)
                self._thread.start()

    def unwatch(self, sock: socket.socket) -> None:
        with self._lock:
            try:
                key = self._sel.get_key(sock.fileno())
            except (KeyError, ValueError, OSError):
                return
            if key.data[0] is sock:
                self._sel.unregister(key.fd)

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._sel.get_map():
                    self._thread = None
                    return
            try:
                ready = self._sel.select(self.TICK)
            except OSError:
                ready = []
            gone = []
            with self._lock:
                for key, _ in ready:
                    sock, on_close = key.data
                    try:
                        data = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        data = b""
                    try:
                        self._sel.unregister(key.fd)
                    except (KeyError, ValueError):
                        pass
                    if data == b"":  # end of stream: the client closed (or reset) the connection
                        gone.append(on_close)
                    # else the client sent bytes on an event stream: left alone, no longer watched
            for fn in gone:
                try:
                    fn()
                except Exception:
                    log.exception("events: closing a stream whose client left")


_WATCH: Optional[SocketWatch] = None
_WATCH_LOCK = threading.Lock()


def watch() -> SocketWatch:
    """This process's SocketWatch (a forked worker gets its own)."""
    global _WATCH
    w = _WATCH
    if w is None or w._pid != os.getpid():
        with _WATCH_LOCK:
            if _WATCH is None or _WATCH._pid != os.getpid():
                _WATCH = SocketWatch()
            w = _WATCH
    return w
