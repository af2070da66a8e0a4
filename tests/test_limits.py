"""Limits: the request body cap (with and without Content-Length), nesting
bombs, the CDR page cap, and a deadline on every outbound call (database,
AMI, fwconsole).

Timeout audit of the code (what bounds each outbound wait):

* MariaDB: ``connect_timeout`` (3 s) for connect + handshake, ``read_timeout`` /
  ``write_timeout`` (30 s) per statement (rfapi/adapters/db.py); a lock wait
  inside a transaction ends at read_timeout (InnoDB's own 50 s is longer);
  extensions' GET_LOCK waits 10 s.
* AMI: connect and banner min(timeout, 5 s), login and every action
  ``[ami] timeout`` (10 s), event lists share the action's deadline
  (rfapi/adapters/ami/); Originate-and-wait waits ring time + 5 s, at most
  60 s; Logoff 1 s.
* fwconsole: ``[fwconsole] timeout`` (300 s), then the whole process group is
  killed (rfapi/adapters/fwconsole.py).
* Voicemail folder lock (Asterisk's .lock): 5 s. Failed-login store (SQLite): 2 s.
* Not bounded by their own deadline (bounded only through what the holder
  waits on): ``files.locked()`` (flock on voicemail.conf.rfapi.lock blocks
  without a timeout) and the per-process AMI lock (requests queue behind one
  action at a time: N queued requests can wait N x the AMI timeout).
"""
from __future__ import annotations

import http.client
import json
import threading
import time

import pytest
from werkzeug.serving import make_server

from rfapi.services import cdr as cdr_svc
from tests.support import world
from tests.support.world import body


class Server:
    def __init__(self, app):
        self._srv = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self._srv.server_port
        self._t = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._t.start()

    def close(self):
        self._srv.shutdown()
        self._srv.server_close()
        self._t.join(5)


@pytest.fixture
def served(pbx_rw):
    srv = Server(pbx_rw.app)
    yield pbx_rw, srv
    srv.close()


def raw_post(port, path, body_iter, headers, chunked):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        c.request("POST", path, body=body_iter, headers=headers, encode_chunked=chunked)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_body_over_the_cap_with_content_length_is_413_before_anything_runs(served):
    pbx, srv = served
    before = pbx.snapshot()
    payload = b"did=5550001111&description=" + b"x" * (1024 * 1024)
    status, data = raw_post(srv.port, "/api/v1/did/add", payload,
                            dict(pbx.auth, **{"Content-Type": "application/x-www-form-urlencoded"}), chunked=False)
    assert status == 413
    assert json.loads(data) == {"status": 413, "message": "Payload Too Large: the request body is over the limit",
                                "data": None}
    assert pbx.snapshot() == before


def test_chunked_body_over_the_cap_is_413_not_truncated(served):
    pbx, srv = served
    before = pbx.snapshot()

    def chunks():
        yield b"did=5550001112&description=" + b"x" * 65536
        for _ in range(20):
            yield b"x" * 65536
        yield b"&mohclass=no-such-class"

    status, data = raw_post(srv.port, "/api/v1/did/add", chunks(),
                            dict(pbx.auth, **{"Content-Type": "application/x-www-form-urlencoded"}), chunked=True)
    assert len(data) < 4096  # never the body echoed back
    assert status == 413
    assert pbx.snapshot() == before


def test_chunked_body_under_the_cap_is_read_whole(served):
    pbx, srv = served

    def chunks():
        yield b"did=5550001113&"
        yield b"description=Chunked%20ok"

    status, data = raw_post(srv.port, "/api/v1/did/add", chunks(),
                            dict(pbx.auth, **{"Content-Type": "application/x-www-form-urlencoded"}), chunked=True)
    assert status == 201, data
    assert json.loads(data)["data"]["description"] == "Chunked ok"


@pytest.mark.parametrize("doc", ["[" * 200000, '{"did":' + "[" * 100000 + "]" * 100000 + "}"],
                         ids=["unclosed", "closed"])
def test_deeply_nested_json_is_400(pbx, doc):
    r = pbx.post("did/add", data=doc, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.status_code
    assert body(r)["data"]["errors"] == {"body": "is not valid JSON"}


def test_unknown_parameter_names_are_refused(pbx):
    r = pbx.post("did/add", data={"did": "5550001114", "k" * 200: "v"})
    assert r.status_code == 400
    # The echoed name is cut (a 1 MiB name must not make a 2 MiB answer).
    assert body(r)["data"]["errors"] == {"k" * 64 + "...": "unknown parameter"}


@pytest.mark.parametrize("value,why", [
    (str(cdr_svc.MAX_LIMIT + 1), "must be at most %d" % cdr_svc.MAX_LIMIT),
    ("0", "must be at least 1"), ("-5", "must be at least 1"), ("1e3", "must be a whole number"),
    ("99999999999999999999", "must be a whole number"),
])
def test_cdr_limit_is_capped(pbx, value, why):
    r = pbx.get("cdr", query_string={"limit": value})
    assert r.status_code == 400
    assert body(r)["data"]["errors"] == {"limit": why}


def test_cdr_limit_at_the_cap_is_accepted(pbx):
    r = pbx.get("cdr", query_string={"limit": str(cdr_svc.MAX_LIMIT)})
    assert r.status_code == 200
    data = body(r)["data"]
    n = pbx.sql("SELECT COUNT(*) AS n FROM cdr", which="cdr")[0]["n"]
    assert data["count"] == len(data["rows"]) <= n


def test_database_statement_deadline(pbx_rw):
    """A write blocked by a lock held elsewhere ends at read_timeout (1 s here),
    not at InnoDB's 50 s lock wait; nothing is written."""
    pbx_rw.ini.write_text(pbx_rw.ini.read_text().replace("[database]\n", "[database]\nread_timeout = 1\n", 1))
    holder = world.connect(pbx_rw.db.config_db)
    holder.autocommit(False)
    cur = holder.cursor()
    cur.execute("SELECT * FROM incoming FOR UPDATE")
    try:
        t0 = time.monotonic()
        r = pbx_rw.post("did/add", data={"did": "5550001115"})
        elapsed = time.monotonic() - t0
    finally:
        holder.rollback()
        holder.close()
    assert r.status_code in (503, 504), body(r)
    assert elapsed < 10
    assert pbx_rw.sql("SELECT * FROM incoming WHERE extension = '5550001115'") == []
    # The next request gets a fresh connection and succeeds.
    assert pbx_rw.post("did/add", data={"did": "5550001115"}).status_code == 201


def test_database_timeout_inside_a_transaction_is_504(pbx_rw):
    pbx_rw.ini.write_text(pbx_rw.ini.read_text().replace("[database]\n", "[database]\nread_timeout = 1\n", 1))
    holder = world.connect(pbx_rw.db.config_db)
    holder.autocommit(False)
    holder.cursor().execute("SELECT * FROM incoming FOR UPDATE")
    try:
        r = pbx_rw.post("did/add", data={"did": "5550001116"})
    finally:
        holder.rollback()
        holder.close()
    assert r.status_code == 504, body(r)


def test_ami_action_deadline(pbx):
    """Asterisk reads the action and never answers: 504 at [ami] timeout (1 s)."""
    pbx.ini.write_text(pbx.ini.read_text().replace("timeout = 3\n", "timeout = 1\n", 1))
    assert pbx.get("pbx/asterisk/reload").status_code == 200
    pbx.peer.stall = True
    try:
        t0 = time.monotonic()
        r = pbx.get("pbx/asterisk/reload")
        elapsed = time.monotonic() - t0
    finally:
        pbx.peer.stall = False
    assert r.status_code == 504
    assert body(r)["message"] == "Gateway Timeout: Asterisk did not answer in time"
    assert elapsed < 5
    # A fresh connection afterwards.
    assert pbx.get("pbx/asterisk/reload").status_code == 200


def test_configured_deadlines(pbx):
    rt = pbx.app.extensions["rfapi"]
    args = rt.db._args
    assert (args["connect_timeout"], args["read_timeout"], args["write_timeout"]) == (3, 30, 30)
    assert rt.ami.timeout == 3.0           # from the test ini; default 10
    assert rt.fwconsole.timeout == 10.0    # from the test ini; default 300
