"""gunicorn settings for rfapi on a PBX (used by the systemd unit and the tests).

Knobs come from the environment so one file serves every box; the unit sets
them from /etc/rfapi/rfapi.env (optional, kept on upgrade):

  RFAPI_BIND     unix:/run/rfapi/rfapi.sock (default) or 127.0.0.1:<port>.
                 Only a unix socket or a loopback address is accepted here: the
                 API is published by the PBX's Apache, never by gunicorn itself.
  RFAPI_WORKERS  worker processes (default 2)
  RFAPI_THREADS  threads per worker for ordinary requests (default 4)
  RFAPI_EVENT_STREAMS  GET /events streams per worker (default 128): the box
                 serves RFAPI_WORKERS x RFAPI_EVENT_STREAMS streams (256 by default),
                 counted over every worker, whichever worker each one lands on;
                 each holds a thread while it listens, so every worker's pool is
                 RFAPI_THREADS + that capacity; rfapi answers 503 (Retry-After) beyond it

Works with gunicorn 20.1 and later, Python 3.9 and later.
"""
from __future__ import annotations

import ipaddress
import os

DEFAULT_BIND = "unix:/run/rfapi/rfapi.sock"


def _local_only(addr):
    """Refuse anything that is not a unix socket or a loopback address."""
    if addr.startswith("unix:") or addr.startswith("fd://"):
        return addr
    host = addr.rsplit(":", 1)[0] if ":" in addr else addr
    host = host.strip("[]")
    if host == "localhost":
        return addr
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = False
    if not ok:
        raise RuntimeError("rfapi: RFAPI_BIND=%r is not a unix socket or a loopback address; "
                           "the API must only be reachable through the local Apache" % addr)
    return addr


def _int(name, default, minimum=1):
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return max(minimum, int(raw))
    except ValueError:
        raise RuntimeError("rfapi: %s=%r is not a number" % (name, raw))


bind = [_local_only(os.environ.get("RFAPI_BIND", "").strip() or DEFAULT_BIND)]
# The unix socket gets mode 0770: reachable by the service user and its group
# (on FreePBX, Apache runs as asterisk), not by other local users.
umask = 0o007

# A PBX is a small box (1-4 cores, shared with Asterisk and MariaDB). Most
# requests wait on MariaDB or AMI, so threads are cheaper than processes:
# 2 x 4 = 8 requests in flight, about 2 x 50 MB of memory.
worker_class = "gthread"
workers = _int("RFAPI_WORKERS", 2)
# Server-Sent Events (GET /events): a subscriber holds its pool thread while it
# listens, waiting on a condition (no CPU), and no database connection (those are
# pooled per request: rfapi.adapters.dbpool). The kernel does not spread connections
# evenly over the workers, so the limit is for the box (workers x RFAPI_EVENT_STREAMS,
# counted across workers in the cache directory) and every worker's pool has room for
# all of them on top of the request threads: streams never take the request threads,
# and the capacity holds whatever the spread.
# ThreadPoolExecutor starts threads only when all are busy: idle room costs nothing.
# (gevent was the other candidate: mysqlclient's C calls would block every
# greenlet of a worker; a separate async server would need its own auth and socket.)
event_streams = _int("RFAPI_EVENT_STREAMS", 128)
event_capacity = workers * event_streams
os.environ["RFAPI_EVENT_STREAMS"] = str(event_streams)
os.environ["RFAPI_EVENT_CAPACITY"] = str(event_capacity)  # the box-wide limit the workers apply
threads = _int("RFAPI_THREADS", 4) + event_capacity

# gthread workers heartbeat from their main loop, so a long request (an
# fwconsole reload may take its full 300 s) is not killed by this timeout; it
# only catches a wedged worker.
timeout = 60
# On HUP (`systemctl reload rfapi`) and on stop, old workers get this long to
# finish in-flight requests, i.e. a running reload (the unit's TimeoutStopSec
# is longer still).
graceful_timeout = 330
keepalive = 5
# Recycle workers now and then (bounded memory); the jitter keeps them from
# restarting together.
max_requests = 100000
max_requests_jitter = 10000
# No preload: a HUP starts workers that import the code afresh, so an upgrade
# followed by `systemctl reload rfapi` serves the new version.
preload_app = False

# Logging: the app writes one JSON line per request to stdout (rfapi.access),
# so gunicorn's own access log stays off (no duplicate lines, and its default
# format could be configured to print headers). Errors go to stderr; systemd
# puts both in the journal.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("RFAPI_LOG_LEVEL", "info")
capture_output = False
proc_name = "rfapi"
# gunicorn 25.1+ opens a control socket ($HOME/.gunicorn/gunicorn.ctl) by
# default: a second management interface nobody asked for, shared by every
# instance of the user. systemd manages this service; older gunicorns ignore
# the unknown setting.
control_socket_disable = True

# X-Forwarded-For is handled by rfapi.proxy.TrustedProxy. gunicorn itself only
# looks at X-Forwarded-Proto for the URL scheme; the other scheme headers are
# dropped from its list so a client cannot send contradictory ones to get a 400.
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
forwarded_allow_ips = "127.0.0.1,::1"

# Size limits: rfapi answers an over-long request target (414) or header field
# (431) itself, as its JSON envelope with X-Request-Id (rfapi.app.RequestLimits:
# 4094 bytes of path + query, 8190 bytes per header field). gunicorn's own
# answers are HTML without a request id, so its limits sit above the app's:
# the request line at gunicorn's maximum (8190, which is also Apache's default
# LimitRequestLine), a header field at 64 KiB (Apache's LimitRequestFieldSize
# is raised to 65000 in apache/rfapi.conf.in, so Apache refuses first anything
# gunicorn would).
# Header count: Apache's LimitRequestFields is 100 and it adds its own
# X-Forwarded-* fields, so gunicorn allows more than Apache can send.
limit_request_line = 8190
limit_request_field_size = 65536
limit_request_fields = 200

def post_worker_init(worker):
    """A stopping worker (SIGTERM: `systemctl reload/stop`) ends its event streams at
    once with a final event, instead of holding the old worker for graceful_timeout;
    clients reconnect to a new worker (Last-Event-ID there means resync)."""
    import signal

    previous = signal.getsignal(signal.SIGTERM)

    def on_term(sig, frame):
        try:
            from rfapi.services import events

            events.close_all()
        finally:
            if callable(previous):
                previous(sig, frame)

    signal.signal(signal.SIGTERM, on_term)
