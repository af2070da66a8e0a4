"""Extension writes are all-or-nothing: an AMI failure in the middle leaves no
rows, no AstDB keys and voicemail.conf byte-identical; concurrent creates of
one number give exactly one 201."""
from __future__ import annotations

import http.client
import json
import threading
from urllib.parse import urlencode

import pytest
from werkzeug.serving import make_server

from tests.support import amipeer
from tests.support.world import API_PASSWORD, API_USER, basic, body
from tests.test_extensions_helpers import astdb_of, state

FULL = {"extension": "150", "exttype": "pjsip", "voicemail": "yes", "voicemailpassword": "2580",
        "email": "dana@bayviewdental.example", "followme": "yes", "secret": "Str0ng-Secret-150x"}


def fail_nth(peer, action: str, nth: int, mode: str, then=None):
    """Make the peer's nth `action` fail: drop the connection, never answer, or answer Error.
    (The peer is the fake Asterisk; the rfapi adapter is untouched.)"""
    orig = peer._handlers[action]
    seen = {"n": 0}

    def handler(conn, act, aid):
        seen["n"] += 1
        if seen["n"] == nth:
            if then:
                then()
            if mode == "drop":
                return False
            if mode == "stall":
                return True
            conn.send(amipeer.error(aid, "Failed to update entry"))
            return True
        return orig(conn, act, aid)

    peer._handlers[action] = handler
    return seen


@pytest.mark.parametrize("mode,status,nth", [("drop", 503, 12), ("error", 502, 30), ("drop", 503, 1),
                                             ("stall", 504, 20)])
def test_ami_failure_mid_create_leaves_nothing(pbx_rw, mode, status, nth):
    before = pbx_rw.snapshot()
    fail_nth(pbx_rw.peer, "dbput", nth, mode)
    r = pbx_rw.post("extension/add", data=FULL)
    assert r.status_code == status, body(r)
    b = body(r)
    assert b["message"].endswith("nothing was created")
    assert b["data"] == {"undone": True}
    after = pbx_rw.snapshot()
    assert after == before  # no SQL rows (need_reload rolled back too), no AstDB key, same voicemail.conf bytes
    assert state(pbx_rw, "150") == {"users": [], "devices": [], "sip": [], "findmefollow": [], "astdb": {}, "vm": []}


def test_ami_failure_restores_keys_that_existed_before(pbx_rw):
    # Leftovers of an old extension 150 that FreePBX did not clean up: they must come back exactly.
    with pbx_rw.peer.lock:
        pbx_rw.peer.astdb.update({"/AMPUSER/150/screen": "memory", "/AMPUSER/150/cidname": "Old Name",
                                  "/CF/150": "5552220000", "/DEVICE/150/emergency_cid": "5552230000"})
    before = pbx_rw.snapshot()
    fail_nth(pbx_rw.peer, "dbput", 40, "drop")
    r = pbx_rw.post("extension/add", data=FULL)
    assert r.status_code == 503
    assert pbx_rw.snapshot() == before


def test_peer_down_before_create_is_503_and_nothing_written(pbx_rw):
    before = pbx_rw.snapshot()
    pbx_rw.peer.stop()
    r = pbx_rw.post("extension/add", data=FULL)
    assert r.status_code == 503
    assert pbx_rw.snapshot()["db"] == before["db"]
    assert pbx_rw.voicemail_conf.read_bytes() == before["voicemail_conf"]


def test_undo_that_cannot_finish_is_reported_and_sql_rolled_back(pbx_rw):
    before = pbx_rw.snapshot()

    def refuse():
        pbx_rw.peer.refuse_login = True

    fail_nth(pbx_rw.peer, "dbput", 10, "drop", then=refuse)
    r = pbx_rw.post("extension/add", data=FULL)
    assert r.status_code == 503
    b = body(r)
    assert "the undo was incomplete" in b["message"]
    assert b["data"]["undone"] is False
    left = astdb_of(pbx_rw, "150")
    # What could not be restored is named (best-effort part); the keys in AstDB are among them.
    assert set(left) <= set(b["data"]["not_restored"]) and left
    # SQL and voicemail.conf are back regardless.
    assert pbx_rw.snapshot()["db"] == before["db"]
    assert pbx_rw.voicemail_conf.read_bytes() == before["voicemail_conf"]


@pytest.mark.parametrize("action,nth", [("dbdeltree", 2), ("dbdel", 3)])
def test_ami_failure_mid_delete_restores_everything(pbx_rw, action, nth):
    before = pbx_rw.snapshot()
    fail_nth(pbx_rw.peer, action, nth, "drop")
    r = pbx_rw.delete("extension/101", data={"deletevoicemail": "yes"})
    assert r.status_code == 503, body(r)
    assert body(r)["message"].endswith("nothing was deleted")
    after = pbx_rw.snapshot()
    assert after == before  # rows, AstDB (incl. follow-me), voicemail.conf and the spool folder are back


# -- concurrency over a real HTTP server -------------------------------------------------

class Server:
    def __init__(self, app):
        self.srv = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.srv.server_port
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.srv.shutdown()
        self.thread.join(5)

    def request(self, method, path, params=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = dict(basic(API_USER, API_PASSWORD))
        data = None
        if params is not None:
            data = urlencode(params)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            conn.request(method, "/api/v1/" + path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read().decode())
        finally:
            conn.close()


def _race(server, jobs):
    results = [None] * len(jobs)
    start = threading.Barrier(len(jobs), timeout=30)

    def run(i, method, path, params):
        start.wait()
        results[i] = server.request(method, path, params)

    threads = [threading.Thread(target=run, args=(i,) + job) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def test_twenty_concurrent_creates_of_one_number_give_one_201(pbx_rw):
    with Server(pbx_rw.app) as srv:
        results = _race(srv, [("POST", "extension/add", FULL)] * 20)
    statuses = sorted(s for s, _ in results)
    assert statuses == [201] + [409] * 19, [b["message"] for _, b in results]
    assert all(b["message"] == "Number 150 is already used by an extension" for s, b in results if s == 409)
    st = state(pbx_rw, "150")
    assert len(st["users"]) == 1 and len(st["devices"]) == 1 and len(st["sip"]) == 54
    assert len(st["findmefollow"]) == 1
    assert st["vm"] == ["150=2580,150,dana@bayviewdental.example,,attach=no|saycid=no|envelope=no|delete=no",
                        "150@device=150@default"]


def test_concurrent_creates_of_different_numbers_keep_voicemail_conf_whole(pbx_rw):
    jobs = [("POST", "extension/add", {"extension": str(170 + i), "exttype": "virtual", "voicemail": "yes",
                                        "voicemailpassword": "1%03d" % i}) for i in range(10)]
    jobs += [("DELETE", "extension/%s" % n, None) for n in ("102", "103")]
    before = pbx_rw.voicemail_conf.read_text()
    with Server(pbx_rw.app) as srv:
        results = _race(srv, jobs)
    assert [s for s, _ in results] == [201] * 10 + [200] * 2
    text = pbx_rw.voicemail_conf.read_text()
    for i in range(10):
        assert "\n%d=1%03d,%d,,,attach=no|saycid=no|envelope=no|delete=no\n" % (170 + i, i, 170 + i) in text
        assert "\n%d@device=%d@default\n" % (170 + i, 170 + i) in text
    kept = [l for l in before.splitlines() if not l.startswith(("102", "103"))]
    assert [l for l in text.splitlines() if not l.startswith(tuple(str(170 + i) for i in range(10)))] == kept


def test_voicemail_conf_write_failure_rolls_everything_back(pbx_rw):
    missing = pbx_rw.root / "missing" / "voicemail.conf"
    pbx_rw.ini.write_text(pbx_rw.ini.read_text().replace("voicemail_conf = %s\n" % pbx_rw.voicemail_conf,
                                                         "voicemail_conf = %s\n" % missing))
    before = pbx_rw.snapshot()
    r = pbx_rw.post("extension/add", data=FULL)
    assert r.status_code == 500
    assert body(r)["message"] == "Could not write voicemail.conf or the voicemail spool; nothing was created"
    assert pbx_rw.snapshot() == before
    # Without voicemail the missing file does not matter (it cannot hold a leftover mailbox).
    assert pbx_rw.post("extension/add", data={"extension": "151", "exttype": "pjsip"}).status_code == 201
