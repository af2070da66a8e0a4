"""Real gunicorn with deploy/gunicorn.conf.py in front of the test world: bind
rules, the request log (one JSON line, no duplicate gunicorn access line, no
secret), the auth-failure line fail2ban reads, errors with the request id,
graceful reload on HUP.

The process helpers here are shared with tests/test_apache.py."""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

from tests.support import world
from tests.support.procs import free_port

REPO = Path(__file__).resolve().parents[1]
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"
F2B_FILTER = REPO / "deploy" / "fail2ban" / "filter.d" / "rfapi.conf"
AUTH = world.basic(world.API_USER, world.API_PASSWORD)


# -- plumbing shared with test_apache.py -------------------------------------------------
def nonlocal_address() -> str:
    """An IPv4 address of this machine outside 127.0.0.0/8 (rfapi does not trust it
    as a proxy), read from the kernel's routing table."""
    text = Path("/proc/net/fib_trie").read_text()
    found = []
    prev = None
    for line in text.splitlines():
        m = re.match(r"^\s*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$", line)
        if m:
            prev = m.group(1)
            continue
        if prev and "/32 host LOCAL" in line and not prev.startswith("127."):
            found.append(prev)
        prev = None if "LOCAL" in line else prev
    assert found, "this machine has no non-loopback IPv4 address (needed for the direct-client test)"
    return sorted(set(found))[0]


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self._path)


class Answer:
    def __init__(self, status: int, headers: Dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))


def request(target, method: str, path: str, headers: Optional[Dict[str, str]] = None,
            source: Optional[str] = None, timeout: float = 30, host_header: Optional[str] = None,
            conn: Optional[http.client.HTTPConnection] = None) -> Answer:
    """``target`` is (host, port) or a unix socket path; ``source`` the client address to bind."""
    if conn is None:
        if isinstance(target, (str, Path)):
            conn = UnixHTTPConnection(str(target), timeout=timeout)
        else:
            conn = http.client.HTTPConnection(target[0], target[1], timeout=timeout,
                                              source_address=(source, 0) if source else None)
    h = dict(headers or {})
    if host_header:
        h["Host"] = host_header
    try:
        conn.request(method, path, headers=h)
        resp = conn.getresponse()
        body = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def wait_until(predicate, timeout: float, what: str, proc: Optional[subprocess.Popen] = None,
               log: Optional[Path] = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
    raise AssertionError("%s did not happen within %.0f s (exit %s)\n%s" % (
        what, timeout, proc.poll() if proc else None, tail))


def can_connect(target) -> bool:
    try:
        if isinstance(target, (str, Path)):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(0.5)
            s.connect(str(target))
        else:
            s = socket.create_connection(target, timeout=0.5)
        s.close()
        return True
    except OSError:
        return False


class Process:
    """A child in its own session; stop() ends it and everything it started."""

    def __init__(self, argv: List[str], log: Path, env: Optional[Dict[str, str]] = None,
                 cwd: Optional[Path] = None):
        self.argv = argv
        self.log_path = log
        self._log = open(log, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, cwd=str(cwd) if cwd else None, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15) -> Optional[int]:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        # Whatever is left of the group (workers, a hung child): kill it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()
        return self.proc.returncode


def gunicorn_env(ini: Path, bind: str, **extra: str) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({"RFAPI_CONFIG": str(ini), "RFAPI_BIND": bind, "PYTHONPATH": str(REPO),
                "PYTHONUNBUFFERED": "1", "RFAPI_WORKERS": "2", "RFAPI_THREADS": "4"})
    env.update(extra)
    return env


def start_gunicorn(ini: Path, log: Path, bind: str, cli_binds: Tuple[str, ...] = (), wait_for=None,
                   **env_extra: str) -> Process:
    """gunicorn exactly as the unit runs it (``--config deploy/gunicorn.conf.py``);
    ``cli_binds`` replace the config file's bind the way an operator's --bind would."""
    argv = [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF)]
    for b in cli_binds:
        argv += ["--bind", b]
    argv.append("rfapi:create_app()")
    p = Process(argv, log, env=gunicorn_env(ini, bind, **env_extra), cwd=REPO)
    target = wait_for
    if target is None:
        target = bind[len("unix:"):] if bind.startswith("unix:") else _hostport(bind)
    try:
        wait_until(lambda: can_connect(target) and _booted(p), 30, "gunicorn listening on %s" % (target,),
                   proc=p.proc, log=log)
    except BaseException:
        p.stop()
        raise
    return p


def _booted(p: Process) -> bool:
    return "Booting worker" in p.log()


def _hostport(bind: str) -> Tuple[str, int]:
    host, port = bind.rsplit(":", 1)
    return host.strip("[]"), int(port)


def access_lines(text: str) -> List[dict]:
    out = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def access_line(text: str, request_id: str) -> dict:
    lines = [d for d in access_lines(text) if d.get("request_id") == request_id]
    assert len(lines) == 1, "expected one access line for %s, got %r" % (request_id, lines)
    return lines[0]


def wait_for_line(p: Process, request_id: str, timeout: float = 5) -> dict:
    wait_until(lambda: any(d.get("request_id") == request_id for d in access_lines(p.log())), timeout,
               "access line for %s" % request_id)
    return access_line(p.log(), request_id)


# -- fail2ban: the filter applied the way fail2ban does -----------------------------------
# fail2ban replaces <HOST> with its address/host-name pattern (IPv4, IPv6 or a DNS
# name) and searches each log line with the resulting expression.
_F2B_HOST = (r"(?:(?:::f{4,6}:)?(?P<ip4>(?:\d{1,3}\.){3}\d{1,3})"
             r"|\[?(?P<ip6>(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|(?<=:):))\]?"
             r"|(?P<dns>[\w\-.^_]*\w))")


def fail2ban_regex() -> "re.Pattern":
    text = F2B_FILTER.read_text()
    m = re.search(r"^failregex\s*=\s*(.+)$", text, re.M)
    assert m, "no failregex in %s" % F2B_FILTER
    return re.compile(m.group(1).strip().replace("<HOST>", _F2B_HOST))


def fail2ban_host(line: str) -> Optional[str]:
    m = fail2ban_regex().search(line)
    if not m:
        return None
    return m.group("ip4") or m.group("ip6") or m.group("dns")


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture
def processes():
    """Processes a test starts; all stopped at the end, even on failure."""
    started: List[Process] = []
    yield started
    for p in reversed(started):
        p.stop()


# -- tests ---------------------------------------------------------------------------------------
def test_serves_the_app_and_logs_one_json_line_without_secrets(pbx, tmp_path, processes):
    port = free_port()
    log = tmp_path / "gunicorn.log"
    g = start_gunicorn(pbx.ini, log, "127.0.0.1:%d" % port)
    processes.append(g)
    target = ("127.0.0.1", port)

    ok = request(target, "GET", "/api/v1/test", AUTH)
    assert ok.status == 200
    assert ok.json() == {"status": 200, "message": "OK", "data": {"method": "GET"}}
    assert ok.headers["content-type"] == "application/json"
    rid = ok.headers["x-request-id"]

    no_auth = request(target, "GET", "/api/v1/test")
    assert no_auth.status == 401
    assert no_auth.headers["www-authenticate"] == 'Basic realm="PBX API"'
    assert no_auth.json() == {"status": 401, "message": "Unauthorized", "data": None}

    wrong_password = "Wr0ng-Secret-Value-777"
    bad = request(target, "GET", "/api/v1/test", world.basic(world.API_USER, wrong_password))
    assert bad.status == 401

    # The request log: exactly one JSON line per request, with these fields.
    line = wait_for_line(g, rid)
    assert set(line) == {"time", "request_id", "client", "user", "method", "path", "status", "duration_ms"}
    assert (line["client"], line["user"], line["method"], line["path"], line["status"]) == \
        ("127.0.0.1", "api", "GET", "/api/v1/test", 200)
    assert isinstance(line["duration_ms"], (int, float))
    line401 = wait_for_line(g, no_auth.headers["x-request-id"])
    assert (line401["user"], line401["status"]) == (None, 401)
    wait_for_line(g, bad.headers["x-request-id"])

    text = g.log()
    assert "Control socket" not in text  # gunicorn 25.1+'s extra management socket is off
    # gunicorn's own access log is off: no second, differently formatted line.
    assert '"GET /api/v1/test HTTP/1.1"' not in text
    assert sum(1 for d in access_lines(text) if d["path"] == "/api/v1/test") == 3
    # No password, no Authorization header value, in any form.
    for secret in (world.API_PASSWORD, wrong_password, AUTH["Authorization"].split()[1],
                   base64.b64encode(("%s:%s" % (world.API_USER, wrong_password)).encode()).decode(),
                   world.AMI_SECRET):
        assert secret not in text
    assert "authorization" not in text.lower()

    # The failed login is the line fail2ban's filter reads, naming the client address.
    failures = [ln for ln in text.splitlines() if "rfapi auth failure" in ln]
    assert len(failures) == 1, failures
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING rfapi\.auth: "
                    r"rfapi auth failure from 127\.0\.0\.1 user=api reason=\S", failures[0]), failures[0]
    assert fail2ban_host(failures[0]) == "127.0.0.1"
    # As the journal shows it (fail2ban's systemd backend prefixes host and unit).
    assert fail2ban_host("pbx1 gunicorn[4242]: " + failures[0]) == "127.0.0.1"


def test_fail2ban_filter_cannot_be_steered_by_the_user_name(pbx, tmp_path, processes):
    port = free_port()
    g = start_gunicorn(pbx.ini, tmp_path / "g.log", "127.0.0.1:%d" % port)
    processes.append(g)
    r = request(("127.0.0.1", port), "GET", "/api/v1/test",
                world.basic("x from 6.6.6.6 user=y reason=z", "nope"))
    assert r.status == 401
    wait_for_line(g, r.headers["x-request-id"])
    failures = [ln for ln in g.log().splitlines() if "rfapi auth failure" in ln]
    assert len(failures) == 1
    assert fail2ban_host(failures[0]) == "127.0.0.1"
    # Lines that are not auth failures never match.
    assert fail2ban_host('{"client":"6.6.6.6","path":"/api/v1/test","status":401}') is None
    assert fail2ban_host("2025-01-01 00:00:00,000 INFO rfapi.audit: rfapi auth failure from 6.6.6.6") is None


def test_unix_socket_is_group_only(pbx, tmp_path, processes):
    sock = tmp_path / "run" / "rfapi.sock"
    sock.parent.mkdir()
    g = start_gunicorn(pbx.ini, tmp_path / "g.log", "unix:%s" % sock)
    processes.append(g)
    assert oct(sock.stat().st_mode & 0o777) == oct(0o770)
    r = request(sock, "GET", "/api/v1/test", AUTH)
    assert r.status == 200 and r.json()["data"] == {"method": "GET"}
    # No proxy in front: the client of a unix socket is logged as "unix".
    assert wait_for_line(g, r.headers["x-request-id"])["client"] == "unix"


@pytest.mark.parametrize("bind", ["0.0.0.0:%d", "192.0.2.10:%d", "[::]:%d"])
def test_config_refuses_a_public_bind(pbx, tmp_path, bind):
    env = gunicorn_env(pbx.ini, bind % free_port())
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONF), "rfapi:create_app()"],
                          env=env, cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    assert proc.returncode != 0
    assert b"is not a unix socket or a loopback address" in proc.stdout


def test_errors_are_logged_with_the_request_id(pbx, tmp_path, processes):
    # A database that refuses connections: the route answers 503 and the error
    # log line carries the request id the client got.
    dead = free_port()
    pbx.ini.write_text(re.sub(r"(?m)^port = \d+$", "port = %d" % dead, pbx.ini.read_text(), count=1))
    port = free_port()
    g = start_gunicorn(pbx.ini, tmp_path / "g.log", "127.0.0.1:%d" % port)
    processes.append(g)
    r = request(("127.0.0.1", port), "GET", "/api/v1/pbx/framework/needreload", AUTH)
    assert r.status == 503
    assert r.json()["message"] == "Service Unavailable: the PBX database is unreachable"
    rid = r.headers["x-request-id"]
    wait_for_line(g, rid)
    errors = [ln for ln in g.log().splitlines() if "ERROR rfapi.error" in ln]
    assert any("request %s:" % rid in ln for ln in errors), errors


def _children(pid: int) -> List[int]:
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            kids.append(int(d))
    return sorted(kids)


def test_hup_replaces_the_workers_and_keeps_serving(pbx, tmp_path, processes):
    """`systemctl reload rfapi` sends HUP: new workers (fresh code and config), same master."""
    port = free_port()
    g = start_gunicorn(pbx.ini, tmp_path / "g.log", "127.0.0.1:%d" % port)
    processes.append(g)
    wait_until(lambda: len(_children(g.pid)) == 2, 15, "two workers")
    before = _children(g.pid)
    os.kill(g.pid, signal.SIGHUP)
    wait_until(lambda: len(_children(g.pid)) == 2 and not set(_children(g.pid)) & set(before), 30,
               "workers replaced after HUP", proc=g.proc, log=g.log_path)
    r = request(("127.0.0.1", port), "GET", "/api/v1/test", AUTH)
    assert r.status == 200
    assert g.proc.poll() is None


def test_queued_access_lines_are_written_when_the_workers_stop(pbx, tmp_path, processes):
    """Access lines are written in batches (at most ~0.2 s late): a graceful stop right after
    a burst of requests must not lose any of them."""
    port = free_port()
    log = tmp_path / "gunicorn.log"
    g = start_gunicorn(pbx.ini, log, "127.0.0.1:%d" % port)
    processes.append(g)
    ids = [request(("127.0.0.1", port), "GET", "/api/v1/test", AUTH).headers["x-request-id"] for _ in range(30)]
    os.kill(g.pid, signal.SIGTERM)  # graceful: the master stops its workers at once
    g.proc.wait(30)
    got = [d.get("request_id") for d in access_lines(g.log())]
    assert sorted(i for i in got if i in ids) == sorted(ids)
