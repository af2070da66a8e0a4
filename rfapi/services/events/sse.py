"""One subscriber's Server-Sent Events body: heartbeats, filters, replay, probes when the box is full."""
from __future__ import annotations

import threading
import time
from typing import Callable, FrozenSet, Iterator, Optional

from . import slots as eventslots

from .hub import Hub
from .model import CONTROL

def stream(h: Hub, types: FrozenSet[str], exts: Optional[FrozenSet[str]], last_id: Optional[str],
           heartbeat: float, max_seconds: float, on_close: Callable[[], None],
           gone: Optional[threading.Event] = None) -> Iterator[bytes]:
    """The SSE body of one subscriber (``h.open()`` was called; ``on_close`` runs at the end;
    ``gone`` is set when the client closed the connection: the stream ends at once)."""
    try:
        cursor, resync = h.start(last_id)
        # The first bytes go out at once: headers flushed, the client knows it is connected.
        first = b"retry: 3000\n: rfapi events %s\n\n" % h.origin.encode()
        if resync:
            first += h.control("resync", "Last-Event-ID is unknown here or older than the buffer: re-read /state "
                                         "and /registrations")
        yield first
        started = last_write = time.monotonic()
        probes, probe_again = h.probes, None
        while True:
            now = time.monotonic()
            if max_seconds and now - started >= max_seconds:
                return
            wait = heartbeat - (now - last_write)
            if max_seconds:
                wait = min(wait, max_seconds - (now - started))
            if probe_again is not None:
                wait = min(wait, probe_again - now)
            events, cursor, dropped = h.wait(cursor, max(0.0, wait))
            if gone is not None and gone.is_set():
                return
            if h.probes != probes or (probe_again is not None and time.monotonic() >= probe_again):
                # The box is full: show whether our client is still there. The first write after a
                # client left may still be accepted (its RST comes back), the second fails.
                again = h.probes != probes
                probes = h.probes
                probe_again = time.monotonic() + eventslots.PROBE_AGAIN if again else None
                yield eventslots.PROBE
            h.feed.touch()
            if dropped:
                yield h.control("dropped", dropped)
                return
            out = [e.text for e in events
                   if (e.type in types and (exts is None or (e.exts & exts))) or e.type in CONTROL]
            if out:
                yield b"".join(out)
                last_write = time.monotonic()
            elif time.monotonic() - last_write >= heartbeat:
                yield b": heartbeat\n\n"
                last_write = time.monotonic()
    finally:
        on_close()
