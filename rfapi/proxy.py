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
from typing import Dict, Iterable, Optional


def normalise(addr: str) -> Optional[str]:
    """One spelling per address: ``::ffff:10.0.0.1`` is 10.0.0.1, IPv6 in lower
    case and zero-compressed (``2001:DB8:0::1`` is ``2001:db8::1``), no zone
    (``%eth0``). None if it is not an IP address. The failed-login lock-out and
    the logs key on this, so another spelling of the same address is the same
    client."""
    try:
        ip = ipaddress.ip_address(addr.strip().split("%")[0])
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 on a dual-stack socket
    return str(mapped if mapped is not None else ip)


class TrustedProxy:
    def __init__(self, app, hops: int = 1, trusted: Iterable[str] = ("127.0.0.0/8", "::1/128")):
        self.app = app
        self.hops = hops
        self.nets = [ipaddress.ip_network(n, strict=False) for n in trusted]
        self._seen: Dict[str, bool] = {}
        self._spelling: Dict[str, Optional[str]] = {}

    def _normal(self, addr: str) -> Optional[str]:
        # As _trusted: parsing is slow next to a small request, and few clients repeat.
        try:
            return self._spelling[addr]
        except KeyError:
            norm = normalise(addr)
            if len(self._spelling) > 1024:
                self._spelling.clear()
            self._spelling[addr] = norm
            return norm

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
        norm = normalise(addr)
        if norm is None:
            return False
        ip = ipaddress.ip_address(norm)
        return any(ip.version == n.version and ip in n for n in self.nets)

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        environ["rfapi.peer_addr"] = peer
        if peer:  # the client address as rfapi counts and logs it: one spelling per address
            norm = self._normal(peer)
            if norm is not None:
                environ["REMOTE_ADDR"] = norm
        if self.hops > 0 and self._trusted(peer):
            xff = environ.get("HTTP_X_FORWARDED_FOR", "")
            hops = [h.strip() for h in xff.split(",") if h.strip()]
            if len(hops) >= self.hops:
                candidate = self._normal(hops[-self.hops])
                if candidate is not None:
                    environ["REMOTE_ADDR"] = candidate
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


class BodyLimit:
    """Refuse a body over the cap, announced (Content-Length) or not (chunked).

    Flask's MAX_CONTENT_LENGTH turns an announced oversize body into 413, but a
    chunked one is silently cut at the cap and parsed — trailing fields would
    vanish and defaults apply. Here such a body is read up to cap+1 bytes: over
    the cap → 413, else it is handed on with its real Content-Length. ``paths``
    gives some paths a cap of their own (a bulk import is bigger than any other
    request); an announced body over its path's cap is refused unread."""

    METHODS = ("POST", "PUT", "PATCH", "DELETE")
    TOO_LARGE = b'{"status":413,"message":"Payload Too Large: the request body is over the limit","data":null}'

    def __init__(self, app, max_bytes: int, paths=None):
        self.app = app
        self.max_bytes = max_bytes
        self.paths = dict(paths or {})

    def _too_large(self, start_response):
        body = self.TOO_LARGE
        start_response("413 REQUEST ENTITY TOO LARGE", [("Content-Type", "application/json"),
                                                         ("Content-Length", str(len(body))),
                                                         ("Connection", "close")])
        return [body]

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in self.METHODS:
            return self.app(environ, start_response)
        cap = self.paths.get((environ.get("PATH_INFO") or "").rstrip("/"), self.max_bytes)
        announced = environ.get("CONTENT_LENGTH")
        if announced:
            try:
                if int(announced) > cap:
                    return self._too_large(start_response)
            except ValueError:
                pass  # werkzeug answers a malformed Content-Length itself
        elif environ.get("wsgi.input_terminated") or "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            stream = environ["wsgi.input"]
            buf = bytearray()
            while len(buf) <= cap:
                chunk = stream.read(min(65536, cap + 1 - len(buf)))
                if not chunk:
                    break
                buf += chunk
            if len(buf) > cap:
                return self._too_large(start_response)
            import io

            environ["wsgi.input"] = io.BytesIO(bytes(buf))
            environ["CONTENT_LENGTH"] = str(len(buf))
        return self.app(environ, start_response)
