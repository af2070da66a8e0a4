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

import socket
import threading
from typing import List, Optional, Tuple

COM_QUERY = 0x03


class SqlSpy:
    def __init__(self, target: Tuple[str, int]):
        self.target = target
        self.port: Optional[int] = None
        self._ls: Optional[socket.socket] = None
        self._lock = threading.Lock()
        self._statements: List[str] = []
        self._socks: List[socket.socket] = []
        self.connections = 0

    def start(self) -> "SqlSpy":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", 0))
        ls.listen(16)
        self.port = ls.getsockname()[1]
        self._ls = ls
        threading.Thread(target=self._accept, name="sqlspy", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._ls is not None:
            try:
                self._ls.close()
            except OSError:
                pass
            self._ls = None
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    @property
    def statements(self) -> List[str]:
        with self._lock:
            return list(self._statements)

    def clear(self) -> None:
        with self._lock:
            self._statements.clear()

    def _accept(self) -> None:
        ls = self._ls
        while ls is not None:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._socks += [client, upstream]
                self.connections += 1
            threading.Thread(target=self._client_to_server, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client), daemon=True).start()

    def _client_to_server(self, src: socket.socket, dst: socket.socket) -> None:
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                buf += data
                while len(buf) >= 4:
                    length = int.from_bytes(buf[:3], "little")
                    if len(buf) < 4 + length:
                        break
                    seq, payload = buf[3], buf[4:4 + length]
                    buf = buf[4 + length:]
                    if seq == 0 and payload[:1] == bytes([COM_QUERY]):
                        with self._lock:
                            self._statements.append(payload[1:].decode("utf-8", "replace"))
        except OSError:
            pass
        self._close(src, dst)

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        SqlSpy._close(src, dst)

    @staticmethod
    def _close(*socks: socket.socket) -> None:
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
