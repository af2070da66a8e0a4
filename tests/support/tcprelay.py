"""A TCP relay on 127.0.0.1 in front of a real server (MariaDB), which a test
can cut (every connection dropped, new ones refused) and restore — an outage
of the real server as the API sees it, without stopping the shared MariaDB."""
from __future__ import annotations

import socket
import threading
from typing import Callable, List, Optional


class TcpRelay:
    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, int(target_port))
        self.port: Optional[int] = None
        self._listener: Optional[socket.socket] = None
        self._socks: List[socket.socket] = []
        self._lock = threading.Lock()
        self._up = False
        self.connections = 0

    def _client_tap(self) -> Optional[Callable[[bytes], None]]:
        """Per connection: what sees each chunk the client sends (a subclass's hook)."""
        return None

    def start(self) -> "TcpRelay":
        ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port or 0))
        ls.listen(64)
        self.port = ls.getsockname()[1]
        self._listener = ls
        self._up = True
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()
        return self

    def _accept(self, ls: socket.socket) -> None:
        while True:
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
            for a, b, tap in ((client, upstream, self._client_tap()), (upstream, client, None)):
                threading.Thread(target=self._pipe, args=(a, b, tap), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket, tap: Optional[Callable[[bytes], None]] = None) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if tap is not None:
                    tap(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self) -> None:
        """Outage: stop listening (connects are refused) and drop every connection."""
        self._up = False
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would
            # leave the kernel socket listening until that accept returns.
            try:
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def restore(self) -> None:
        """The server is back, on the same port."""
        self.start()

    stop = cut
