"""A MariaDB wire tap: a loopback TCP relay that records every statement a client sends.

Used to learn the exact SQL rfapi runs for a request (to EXPLAIN it, to replay
it as the raw baseline, and to count the statements of /extdump) without
touching rfapi or the shared server's global state (general_log and
performance_schema are server-wide; this is per connection).

mysqlclient interpolates parameters on the client, so each statement arrives
as one COM_QUERY packet (command byte 0x03) holding the final SQL text. A
command packet always has sequence number 0; handshake and auth packets do
not, so they are skipped. The server must not negotiate TLS on loopback
(MariaDB's have_ssl is DISABLED here; a TLS session would show no queries and
``statements`` would stay empty, which the benchmark reports).
"""
from __future__ import annotations

from typing import Callable, List, Tuple

from tests.support.tcprelay import TcpRelay

COM_QUERY = 0x03


class SqlSpy(TcpRelay):
    def __init__(self, target: Tuple[str, int]):
        super().__init__(*target)
        self._statements: List[str] = []

    @property
    def statements(self) -> List[str]:
        with self._lock:
            return list(self._statements)

    def clear(self) -> None:
        with self._lock:
            self._statements.clear()

    def _client_tap(self) -> Callable[[bytes], None]:
        buf = bytearray()

        def tap(data: bytes) -> None:
            buf.extend(data)
            while len(buf) >= 4:
                length = int.from_bytes(buf[:3], "little")
                if len(buf) < 4 + length:
                    break
                seq, payload = buf[3], bytes(buf[4:4 + length])
                del buf[:4 + length]
                if seq == 0 and payload[:1] == bytes([COM_QUERY]):
                    with self._lock:
                        self._statements.append(payload[1:].decode("utf-8", "replace"))
        return tap
