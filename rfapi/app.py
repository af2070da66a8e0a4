"""The app factory: ``rfapi:create_app()``."""
from __future__ import annotations

import atexit
import logging
import os
import random
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

from flask import Flask, g, request
from werkzeug.exceptions import HTTPException

from . import config as config_mod
from .adapters.ami import AmiError, AmiInputError, AmiTimeout, AmiUnavailable
from .adapters.db import DatabaseBusy, DatabaseTimeout, DatabaseUnavailable
from .adapters.files import LockTimeout, UnsafePath
from .adapters.fwconsole import FwconsoleMissing, FwconsoleTimeout
from .adapters.tokenstore import TokenStore
from .auth import AdminCache, FailureTracker, authenticate, make_auth
from .http import ApiError, BadRequest, error_response, reason, reply, to_json
from .proxy import BodyLimit, TrustedProxy
from .routing import LazyBuilderRule
from .runtime import PerProcess, Runtime
from .services import events, livestate
from .services.tokens import Tokens

PREFIX = "/api/v1"
access_log = logging.getLogger("rfapi.access")
error_log = logging.getLogger("rfapi.error")


def _setup_logging() -> None:
    root = logging.getLogger("rfapi")
    if not root.handlers:
        h = logging.StreamHandler(sys.stdout)
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(h)
        root.setLevel(logging.INFO)
        root.propagate = True  # pytest caplog and any site logging config still see it
    access = logging.getLogger("rfapi.access")
    access.propagate = False  # written by _access() itself unless a site adds handlers


class RfapiFlask(Flask):
    """Flask, minus costs rfapi does not need.

    Flask runs every view and before/after-request function through
    ``ensure_sync``, which inspects the function for ``async def`` on every
    call (four inspections per request here). rfapi has no async functions, so
    the answer is kept per function. URL rules compile their ``url_for``
    builders on first use (routing.LazyBuilderRule)."""

    url_rule_class = LazyBuilderRule

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._sync: Dict[Callable, Callable] = {}

    def ensure_sync(self, func: Callable) -> Callable:
        try:
            return self._sync[func]
        except (KeyError, TypeError):  # TypeError: an unhashable callable, never kept
            wrapped = super().ensure_sync(func)
            try:
                self._sync[func] = wrapped
            except TypeError:
                pass
            return wrapped


def create_app(config_path: Optional[str] = None) -> Flask:
    """Build the app from the INI file (``config_path``, else $RFAPI_CONFIG, else
    /etc/rfapi/rfapi.ini). A bad config raises ConfigError (a SystemExit with
    one clear line naming the file and key)."""
    _setup_logging()
    try:
        cfg = config_mod.load(config_path)
    except config_mod.ConfigError as exc:
        print("rfapi: configuration error: %s" % exc, file=sys.stderr, flush=True)
        raise

    app = RfapiFlask(__name__)
    # The largest body any route takes; BodyLimit (below) applies each route's own cap first.
    app.config["MAX_CONTENT_LENGTH"] = max(cfg.max_body_bytes, cfg.max_import_bytes)
    app.config["JSON_SORT_KEYS"] = False
    app.url_map.strict_slashes = False
    rt = Runtime(cfg)
    app.extensions["rfapi"] = rt
    app.extensions["rfapi.auth"] = make_auth()
    app.extensions["rfapi.admin_cache"] = rt.admin_cache = AdminCache(_cache_file(cfg, "ampusers.generation"))
    # Objects with threads of their own, built once in each worker process that uses them.
    rt.live = PerProcess(lambda: livestate.build(rt.ami))
    rt.events = PerProcess(lambda: events.build(rt))
    app.extensions["rfapi.failures"] = FailureTracker(_cache_file(cfg, "auth-failures.sqlite"))
    app.extensions["rfapi.tokens"] = Tokens(TokenStore(cfg.paths.state))

    from . import resources

    for res in resources.load():
        app.register_blueprint(res.blueprint, url_prefix=PREFIX)

    _install_handlers(app)
    app.wsgi_app = TrustedProxy(RequestLimits(BodyLimit(app.wsgi_app, cfg.max_body_bytes, {
        PREFIX + "/extensions/import": max(cfg.max_body_bytes, cfg.max_import_bytes)})),
                                hops=cfg.trusted_proxies, trusted=cfg.trusted_proxy_networks)
    return app


class RequestLimits:
    """414 for a request target (path + query string) over MAX_TARGET bytes and
    431 for a header field over MAX_FIELD bytes, as the JSON envelope with
    X-Request-Id and an access line, before anything else runs.

    gunicorn's own 414/431 are HTML pages without a request id, so
    deploy/gunicorn.conf.py sets gunicorn's limits above these (and Apache's
    are above them too, apache/rfapi.conf.in): the app answers first. The
    numbers are gunicorn's defaults, which rfapi's routes were built under."""

    MAX_TARGET = 4094   # bytes of path + "?" + query string
    MAX_FIELD = 8190    # bytes of "Name: value" of one header field

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        status = None
        target = len(environ.get("PATH_INFO", "")) + len(environ.get("QUERY_STRING", "")) + 1
        if target > self.MAX_TARGET:
            status, message = 414, "URI Too Long: the path and query string are over %d bytes" % self.MAX_TARGET
        else:
            # A first pass over the values only (a header name is short, and no other
            # string in the environ is near this size once the target is checked):
            # one loop of C calls per request, the exact check only for a long value.
            rough = self.MAX_FIELD - 2 - 256
            for value in environ.values():
                if value.__class__ is str and len(value) > rough:
                    status, message = self._header_check(environ)
                    break
        if status is None:
            return self.app(environ, start_response)
        rid = request_id()
        body = to_json({"status": status, "message": message, "data": None}).encode("utf-8")
        start_response("%d %s" % (status, reason(status)),
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                        ("X-Request-Id", rid), ("Connection", "close")])
        _access(to_json({"time": _now_text(), "request_id": rid, "client": environ.get("REMOTE_ADDR") or "unix",
                         "user": None, "method": environ.get("REQUEST_METHOD", "")[:16],
                         "path": environ.get("PATH_INFO", "")[:200], "status": status, "duration_ms": 0.0}))
        return [body]


    def _header_check(self, environ):
        limit = self.MAX_FIELD - 2  # "Name: value" is name + 2 + value
        for key, value in environ.items():
            if key[:5] == "HTTP_" and len(key) - 5 + len(value) > limit:
                return 431, ("Request Header Fields Too Large: %s is over %d bytes"
                             % (_header_name(key), self.MAX_FIELD))
        return None, None


def _header_name(key: str) -> str:
    name = "-".join(part.capitalize() for part in key[5:].split("_"))
    return name[:64] if name.isprintable() else "a header"


def _cache_file(cfg, name: str) -> Optional[str]:
    """A file in the cache dir shared by every worker (None if the dir is unusable:
    then that state stays per process)."""
    try:
        os.makedirs(cfg.paths.cache, exist_ok=True)
    except OSError:
        return None
    return os.path.join(cfg.paths.cache, name)


class _AccessLines:
    """The access lines of this process, written to stdout in batches.

    One write (and, under systemd, one journal message) per request is a system
    call and a GIL hand-off per request: a measurable share of a small request
    at high concurrency. Lines are queued and a daemon thread writes whatever
    is queued every FLUSH_EVERY seconds (at once when MAX_PENDING lines wait),
    and at exit. A line therefore appears at most ~0.2 s late; a worker killed
    with SIGKILL loses at most that much (as nginx's ``access_log ... flush=``)."""

    FLUSH_EVERY = 0.2
    MAX_PENDING = 256

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: List[str] = []
        self._pid: Optional[int] = None
        self._wake = threading.Event()

    def add(self, line: str) -> None:
        with self._lock:
            if self._pid != os.getpid():  # first line in this process (or a forked child)
                self._pid = os.getpid()
                self._pending = []    # a parent's queued lines are the parent's to write
                self._wake = threading.Event()
                threading.Thread(target=self._run, args=(self._wake,), name="rfapi-access", daemon=True).start()
            self._pending.append(line)
            full = len(self._pending) >= self.MAX_PENDING
        if full:
            self._wake.set()

    def _run(self, wake: threading.Event) -> None:
        while True:
            wake.wait(self.FLUSH_EVERY)
            wake.clear()
            self.flush()

    def flush(self) -> None:
        with self._lock:
            if self._pid != os.getpid():
                return
            lines, self._pending = self._pending, []
        if lines:
            try:
                sys.stdout.write("\n".join(lines) + "\n")
                sys.stdout.flush()
            except (OSError, ValueError):
                pass


_access_lines = _AccessLines()
atexit.register(_access_lines.flush)


def _access(line: str) -> None:
    """One JSON line per request on stdout (the journal under systemd).

    Not through ``logging`` (a LogRecord per request is a measurable share of a
    small request) unless a site configures handlers on the ``rfapi.access``
    logger: then the line goes there instead."""
    if access_log.handlers:
        access_log.info(line)
        return
    _access_lines.add(line)


def request_id() -> str:
    """16 hex digits naming one request in the access line, logs and X-Request-Id.
    Not a secret: the process's own PRNG (reseeded in every forked worker) instead
    of a getrandom() system call per request."""
    return "%016x" % random.getrandbits(64)


_clock = (-1, "")  # (second, its text): one reference, replaced whole


def _now_text() -> str:
    """Local time for the access line, formatted once per second."""
    global _clock
    now = int(time.time())
    second, text = _clock
    if second != now:
        text = time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(now))
        _clock = (now, text)
    return text


_ACCESS_LINE = ('{"time":"%s","request_id":"%s","client":%s,"user":%s,"method":%s,"path":%s,"status":%d,'
                '"duration_ms":%s}')


def _install_handlers(app: Flask) -> None:
    db = app.extensions["rfapi"].db

    @app.before_request
    def _start():
        gg = g._get_current_object()
        gg.rfapi_request_id = request_id()
        gg.rfapi_t0 = time.monotonic()
        req = request._get_current_object()
        if req.routing_exception is not None:
            # An unknown path or a method the route does not allow (also POST
            # /openapi.json): credentials first (401), so a client without them
            # learns nothing about which paths and methods exist. Known routes
            # authenticate in their view (the OpenAPI document needs none).
            authenticate()

    @app.after_request
    def _finish(resp):
        gg = g._get_current_object()
        req = request._get_current_object()
        rid = getattr(gg, "rfapi_request_id", None) or request_id()
        resp.headers["X-Request-Id"] = rid
        # Downloads (recordings, voicemail, CSV) are sent as their declared type, never sniffed
        # into a page a browser would render.
        resp.headers["X-Content-Type-Options"] = "nosniff"
        user = getattr(gg, "rfapi_user", None)
        t0 = getattr(gg, "rfapi_t0", None)
        # The JSON line written as text (half the cost of encoding a dict); every value a
        # client can influence still goes through the encoder.
        _access(_ACCESS_LINE % (_now_text(), rid, to_json(req.remote_addr or "unix"),
                                to_json(user.name) if user else "null", to_json(req.method), to_json(req.path),
                                resp.status_code,
                                "%.2f" % ((time.monotonic() - t0) * 1000) if t0 else "null"))
        return resp

    @app.teardown_request
    def _release(exc):
        # Connections are taken per statement, transaction or named lock; whatever a
        # request left behind (an error between GET_LOCK and RELEASE_LOCK) ends here.
        db.release()

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        headers = {}
        if status == 405:
            allowed = sorted(m for m in (exc.valid_methods or []) if m not in ("OPTIONS",))
            headers["Allow"] = ", ".join(allowed)
        message = reason(status)
        if status == 413:
            message = "Payload Too Large: the request body is over the limit"
        if status == 400:  # werkzeug's own (e.g. a malformed multipart body)
            return error_response(BadRequest({"body": "could not be parsed"}))
        return reply(None, status, message, headers)

    @app.errorhandler(DatabaseUnavailable)
    def _db_down(exc):
        error_log.error("request %s: %s", g.get("rfapi_request_id"), exc)
        if isinstance(exc, DatabaseBusy):
            return reply(None, 503, "Service Unavailable: every database connection of this worker is busy; "
                                    "try again", {"Retry-After": "1"})
        if isinstance(exc, DatabaseTimeout):
            return reply(None, 504, "Gateway Timeout: the database did not answer in time")
        return reply(None, 503, "Service Unavailable: the PBX database is unreachable")

    @app.errorhandler(AmiUnavailable)
    def _ami_down(exc):
        error_log.error("request %s: %s", g.get("rfapi_request_id"), exc)
        return reply(None, 503, "Service Unavailable: Asterisk (AMI) is unreachable")

    @app.errorhandler(AmiTimeout)
    def _ami_slow(exc):
        error_log.error("request %s: %s", g.get("rfapi_request_id"), exc)
        return reply(None, 504, "Gateway Timeout: Asterisk did not answer in time")

    @app.errorhandler(AmiError)
    def _ami_refused(exc):
        # Asterisk answered, but refused (e.g. a DBPut error): not our fault, not theirs.
        error_log.error("request %s: %s", g.get("rfapi_request_id"), exc)
        return reply(None, 502, "Bad Gateway: Asterisk refused the request")

    @app.errorhandler(AmiInputError)
    def _ami_input(exc):
        return error_response(BadRequest({exc.field: "contains a forbidden character"}))

    @app.errorhandler(LockTimeout)
    def _busy(exc):
        error_log.error("request %s: %s", g.get("rfapi_request_id"), exc)
        return reply(None, 503, "Service Unavailable: %s; try again" % exc, {"Retry-After": "5"})

    @app.errorhandler(UnsafePath)
    def _unsafe(exc):
        return reply(None, 404, "Not Found")

    @app.errorhandler(FwconsoleTimeout)
    def _fw_timeout(exc):
        error_log.error("request %s: %s", g.get("rfapi_request_id"), exc)
        return reply({"output": exc.output.splitlines()[-20:]}, 504,
                     "Gateway Timeout: fwconsole did not finish in time")

    @app.errorhandler(FwconsoleMissing)
    def _fw_missing(exc):
        error_log.error("request %s: %s", g.get("rfapi_request_id"), exc)
        return reply(None, 503, "Service Unavailable: fwconsole is not available")

    @app.errorhandler(Exception)
    def _crash(exc):
        # Full traceback to the log with the request id; never to the client.
        error_log.exception("request %s: unhandled %s", g.get("rfapi_request_id"), type(exc).__name__)
        return reply(None, 500, "Internal Server Error (request id %s)" % g.get("rfapi_request_id"))
