"""The real-Asterisk tier: one private Asterisk 20 per test session, run from
the installation $RFAPI_REAL_ASTERISK names, a FreePBX-shaped world over a
throwaway MariaDB, and rfapi under gunicorn with deploy/gunicorn.conf.py (as
shipped) in front of both.

The tier is opt-in: it is collected only where $RFAPI_REAL_ASTERISK is set,
under CI too, so the README's test command passes on a plain clone (no outside
software is ever committed to the repository). Where it is set, an installation
that lacks what the tier needs fails the tier's first test, naming what is missing."""
from __future__ import annotations

import base64
import http.client
import json
import os
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest

from tests.realpbx import freepbx
from tests.realpbx.amiclient import AmiClient
from tests.realpbx.asterisk import RealAsterisk, realpbx_dir
from tests.support import dbworld, office, world
from tests.support.tcprelay import TcpRelay

HERE = Path(__file__).resolve().parent
INSTALLATION = realpbx_dir()

if INSTALLATION is None:
    collect_ignore_glob = ["test_*.py"]


class Api:
    """HTTP to rfapi under gunicorn (Basic auth as the [api] user)."""

    def __init__(self, port: int):
        self.port = port
        self.auth = "Basic " + base64.b64encode(
            ("%s:%s" % (world.API_USER, world.API_PASSWORD)).encode()).decode()

    def call(self, method: str, path: str, params: Optional[Dict[str, Any]] = None, timeout: float = 60,
             auth: bool = True):
        params = {k: str(v) for k, v in (params or {}).items()}
        url = "/api/v1/" + path.lstrip("/")
        headers = {"Authorization": self.auth} if auth else {}
        body = None
        if method in ("GET", "DELETE") and params:
            url += "?" + urllib.parse.urlencode(params)
        elif params:
            body = urllib.parse.urlencode(params)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, url, body=body, headers=headers)
            r = conn.getresponse()
            raw = r.read()
            ctype = r.getheader("Content-Type", "")
            return Reply(r.status, ctype, raw)
        finally:
            conn.close()

    def get(self, path, **params):
        return self.call("GET", path, params)

    def post(self, path, **params):
        return self.call("POST", path, params)

    def delete(self, path, **params):
        return self.call("DELETE", path, params)


class Reply:
    def __init__(self, status: int, ctype: str, raw: bytes):
        self.status, self.ctype, self.raw = status, ctype, raw

    @property
    def json(self):
        return json.loads(self.raw.decode())

    @property
    def data(self):
        return self.json["data"]

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:400])


class AmiSpy(TcpRelay):
    """The tier's rfapi reaches Asterisk's AMI through this relay, which counts the
    actions rfapi sends (the real Asterisk has no such counter)."""

    def __init__(self, port: int):
        super().__init__("127.0.0.1", port)
        self._actions: List[str] = []

    @property
    def actions(self) -> List[str]:
        with self._lock:
            return list(self._actions)

    def clear(self) -> None:
        with self._lock:
            self._actions.clear()

    def _client_tap(self):
        buf = bytearray()

        def tap(data: bytes) -> None:
            buf.extend(data)
            while b"\r\n" in buf:
                line, _, rest = bytes(buf).partition(b"\r\n")
                buf[:] = rest
                if line.startswith(b"Action: "):
                    with self._lock:
                        self._actions.append(line[8:].decode("utf-8", "replace"))
        return tap


class Real:
    """Everything the tier's tests touch."""

    def __init__(self, tmp: Path):
        from tests.test_gunicorn import free_port, start_gunicorn

        self.tmp = tmp
        # the installation is checked first: a wrong $RFAPI_REAL_ASTERISK fails at once
        self.ast = RealAsterisk(tmp / "asterisk", INSTALLATION)
        self.ast.prepare(office.voicemail_conf())
        self.db = dbworld.create_world()
        world.load_office(self.db)
        with self.dbconn() as conn:
            freepbx.write_all(conn, self.ast.etc)
        self.ast.start()
        # FreePBX's AstDB for the office, as on a box that has been running
        ami = AmiClient(self.ast.ami_port)
        ami.db_put_many(office.astdb())
        ami.close()
        # the tier's fwconsole: a real Apply Config against this Asterisk
        bindir = tmp / "bin"
        bindir.mkdir()
        self.fwconsole = bindir / "fwconsole"
        # run by the test interpreter (it has mysqlclient), like FreePBX's own php
        text = (HERE / "fwconsole").read_text().split("\n", 1)[1]
        self.fwconsole.write_text("#!%s\n%s" % (sys.executable, text))
        self.fwconsole.chmod(0o755)
        args = dbworld.server_args()
        (bindir / "fwconsole.control").write_text(json.dumps({
            "db": self.db.config_db, "db_host": args.get("host", "127.0.0.1"), "db_port": args.get("port", 3306),
            "db_user": args.get("user", "root"), "repo": str(HERE.parents[1]), "etc": str(self.ast.etc),
            "asterisk": str(self.ast.inst.binary), "env": {"LD_LIBRARY_PATH": self.ast.inst.env().get(
                "LD_LIBRARY_PATH", "")}}))
        cache = tmp / "cache"
        cache.mkdir()

        self.ami_spy = AmiSpy(self.ast.ami_port).start()

        class _Ami:
            host, port = "127.0.0.1", self.ami_spy.port

        self.ini = tmp / "rfapi.ini"
        self.ini.write_text(world.render_ini(self.db, _Ami, self.fwconsole, self.ast.spool / "voicemail",
                                             self.ast.sounds, self.ast.etc / "voicemail.conf", cache, tmp))
        self.port = free_port()
        self.gunicorn = start_gunicorn(self.ini, tmp / "gunicorn.log", "127.0.0.1:%d" % self.port)
        self.api = Api(self.port)
        self.sipp_dir = tmp / "sipp"
        self._next_port = 40000 + (os.getpid() % 500) * 40

    def dbconn(self):
        return _Conn(self.db.config_db)

    def sql(self, query: str, args=()):
        with self.dbconn() as conn:
            return freepbx._rows(conn, query, args)

    def sipp_port(self) -> int:
        """A loopback UDP port pair (SIP, media) for one SIPp phone."""
        import socket

        while True:
            self._next_port += 2
            p = self._next_port
            ok = True
            for q in (p, p + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                try:
                    s.bind(("127.0.0.1", q))
                except OSError:
                    ok = False
                finally:
                    s.close()
            if ok:
                return p

    def apply_config(self) -> None:
        """GET /pbx/framework/reload: the tier's fwconsole regenerates and reloads."""
        r = self.api.get("pbx/framework/reload")
        assert r.status == 200, r

    def ami(self, **kw) -> AmiClient:
        return AmiClient(self.ast.ami_port, **kw)

    def close(self) -> None:
        try:
            self.gunicorn.stop()
        finally:
            self.ami_spy.cut()
            self.ast.stop()
            dbworld.drop_world(self.db)


class _Conn:
    def __init__(self, dbname: str):
        self.dbname = dbname

    def __enter__(self):
        self.conn = world.connect(self.dbname)
        return self.conn

    def __exit__(self, *exc):
        self.conn.close()


def pytest_collection_modifyitems(config, items):
    """One Asterisk per test session: under pytest-xdist (--dist loadgroup) every
    test of the tier goes to the same worker, so only one Asterisk boots."""
    for item in items:
        if "tests/realpbx/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.xdist_group("realpbx"))


@pytest.fixture(scope="session")
def real(tmp_path_factory):
    r = Real(tmp_path_factory.mktemp("realpbx"))
    try:
        yield r
    finally:
        r.close()


def wait_for(predicate, timeout: float, what: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("%s did not happen within %.0f s (last: %r)" % (what, timeout, last))
