"""Trust X-Forwarded-For/-Proto only from the local reverse proxy.

werkzeug's ProxyFix believes whoever connects; gunicorn listens on loopback or
a unix socket, but another local process could still forge the header. Here
the header is honoured only when the TCP peer is a trusted proxy address
(``[api] trusted_proxy_networks``, loopback by default, or a unix socket), and
only its last ``hops`` entries (the ones our own Apache appended) are used.

With a TCP bind on loopback any local process counts as "the proxy"; the
installer therefore binds gunicorn to a unix socket only Apache's group can
open. With ``hops`` > 1 the earlier hops are believed without checking that
each was itself a trusted proxy (like werkzeug's ProxyFix): only set it when
every path to rfapi goes through that chain."""
from __future__ import annotations

import ipaddress
from typing import Iterable


class TrustedProxy:
    def __init__(self, app, hops: int = 1, trusted: Iterable[str] = ("127.0.0.0/8", "::1/128")):
        self.app = app
        self.hops = hops
        self.nets = [ipaddress.ip_network(n, strict=False) for n in trusted]
        self._seen = {}

    def _trusted(self, addr: str) -> bool:
        # Parsing an address is slow next to a small request: remember the few peers seen.
        hit = self._seen.get(addr)
        if hit is None:
            hit = self._check(addr)
            if len(self._seen) > 256:
                self._seen.clear()
            self._seen[addr] = hit
        return hit

    def _check(self, addr: str) -> bool:
        if not addr:  # unix socket: only local processes with file access
            return True
        try:
            ip = ipaddress.ip_address(addr.split("%")[0])
        except ValueError:
            return False
        if getattr(ip, "ipv4_mapped", None) is not None:  # ::ffff:127.0.0.1 on a dual-stack socket
            ip = ip.ipv4_mapped
        return any(ip.version == n.version and ip in n for n in self.nets)

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        environ["rfapi.peer_addr"] = peer
        if self.hops > 0 and self._trusted(peer):
            xff = environ.get("HTTP_X_FORWARDED_FOR", "")
            hops = [h.strip() for h in xff.split(",") if h.strip()]
            if len(hops) >= self.hops:
                candidate = hops[-self.hops]
                try:
                    ipaddress.ip_address(candidate)
                    environ["REMOTE_ADDR"] = candidate
                except ValueError:
                    pass
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)
