"""The AMI peer of the benchmark: tests.support.amipeer.AmiPeer with indexed AOR lookups.

AmiPeer finds the endpoint of an AOR (and the list of AOR names) by scanning
every endpoint, so a PJSIPShowContacts over 1,000 contacts costs it about
0.5 s of Python - the fake Asterisk, not rfapi, would be what the benchmark
measures. FastPeer answers the same two questions from a map built once per
endpoint-set (rebuilt if endpoints are added or removed); every byte on the
wire is produced by AmiPeer's own handlers, unchanged. The smoke test checks
that both peers send identical bytes for the list actions the benchmark uses.

One behaviour differs: AmiPeer bounds the sendall of a whole reply by its 5 s
socket timeout, so a client that reads an 11 MB DBGetTree (AMPUSER of 5,000
extensions) more slowly than that is disconnected mid-list. Asterisk's manager
applies its write timeout to each write, so FastPeer sends in 64 KiB writes,
each bounded by that timeout.
"""
from __future__ import annotations

import threading
import time
import types
from typing import Dict, List, Tuple

from tests.support.amipeer import AmiPeer


class FastPeer(AmiPeer):
    """AmiPeer with indexed AOR lookups, per-write send timeouts and a clock per action."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.busy: Dict[str, List[float]] = {}  # action name -> [count, seconds spent answering]
        self._busy_lock = threading.Lock()

    def _dispatch(self, conn, raw: bytes) -> bool:
        t0 = time.perf_counter()
        try:
            return super()._dispatch(conn, raw)
        finally:
            dt = time.perf_counter() - t0
            with self.lock:
                name = self._actions[-1].name if self._actions else "?"
            with self._busy_lock:
                entry = self.busy.setdefault(name, [0, 0.0])
                entry[0] += 1
                entry[1] += dt

    def clear_busy(self) -> None:
        with self._busy_lock:
            self.busy = {}

    def _aor_maps(self) -> Tuple[List[str], Dict[str, str]]:
        eps = self.pjsip_endpoints
        key = (id(eps), len(eps), next(reversed(eps), None) if eps else None)
        cached = getattr(self, "_bench_aor_cache", None)
        if cached is None or cached[0] != key:
            names: List[str] = []
            owner: Dict[str, str] = {}
            for ep in eps:
                aor = AmiPeer._aor_name(self, ep)
                if aor not in owner:  # first endpoint naming an AOR owns it, as AmiPeer's scan finds it
                    owner[aor] = ep
                    names.append(aor)
            cached = self._bench_aor_cache = (key, names, owner)
        return cached[1], cached[2]

    def _conn_loop(self, conn) -> None:
        conn.send = types.MethodType(_send_in_writes, conn)
        super()._conn_loop(conn)

    def _aor_names(self) -> List[str]:
        return list(self._aor_maps()[0])

    def _aor_endpoint(self, aor: str) -> str:
        return self._aor_maps()[1].get(aor, aor)


def _send_in_writes(self, data: bytes) -> bool:
    """_Conn.send, but the socket timeout bounds each 64 KiB write rather than the whole
    buffer (Asterisk's manager ``writetimeout`` is per write: a client that keeps
    reading a long event list is never cut off, one that stops reading is)."""
    if not data or self.closed.is_set():
        return False
    with self.send_lock:
        try:
            view = memoryview(data)
            for i in range(0, len(view), 65536):
                self.sock.sendall(view[i:i + 65536])
            return True
        except OSError:
            self.shutdown()
            return False
