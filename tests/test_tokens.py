"""Scoped API tokens: created, listed and revoked with Basic credentials, used as
``Authorization: Bearer``; each route needs the scope its route-table entry names."""
from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading

import pytest

from rfapi import create_app
from rfapi.resources import all_specs
from rfapi.routing import BASIC_ONLY
from rfapi.services.tokens import SCOPES
from tests.support import office
from tests.support.sse import Server, Stream
from tests.support.world import body
from tests.test_security import concrete

SECRET_101 = office.EXTENSIONS_BY_NUMBER["101"]["secret"]
BEARER_CHALLENGE = 'Bearer realm="PBX API", error="invalid_token"'


def make_token(pbx, *scopes, name="client"):
    r = pbx.post("tokens", json={"name": name, "scopes": list(scopes)})
    assert r.status_code == 201, body(r)
    return body(r)["data"]


def bearer(token):
    return {"Authorization": "Bearer " + (token["token"] if isinstance(token, dict) else token)}


def limit(pbx, n, cooldown=600):
    pbx.ini.write_text(pbx.ini.read_text().replace(
        "[api]\n", "[api]\nauth_fail_limit = %d\nauth_fail_window = 60\nauth_fail_cooldown = %d\n" % (n, cooldown), 1))


# -- managing tokens ------------------------------------------------------------------------------
def test_created_token_is_shown_once_and_listed_without_its_secret(pbx):
    made = make_token(pbx, "events", "read", name="Wallboard (lobby)")
    assert set(made) == {"id", "name", "scopes", "created", "last_used", "token"}
    assert re.fullmatch(r"[0-9a-f]{16}", made["id"])
    assert re.fullmatch(r"rfapi_%s_[A-Za-z0-9_-]{43}" % made["id"], made["token"])
    assert made["name"] == "Wallboard (lobby)" and made["scopes"] == ["read", "events"]
    assert made["last_used"] is None
    secret = made["token"].split("_", 2)[2]
    listed = body(pbx.get("tokens"))["data"]
    assert listed == [{k: v for k, v in made.items() if k != "token"}]
    # Used once: last_used is set; the list never shows a secret or its digest.
    assert pbx.get("extensions", auth=False, headers=bearer(made)).status_code == 200
    listed = pbx.get("tokens").get_data(as_text=True)
    assert json.loads(listed)["data"][0]["last_used"] is not None
    assert secret not in listed and "digest" not in listed
    # On disk: a SHA-256 digest, never the secret.
    db = pbx.root / "state" / "tokens.sqlite"
    assert oct(db.stat().st_mode & 0o777) == oct(0o600)
    rows = sqlite3.connect(str(db)).execute("SELECT id, name, scopes, digest FROM token").fetchall()
    assert rows == [(made["id"], "Wallboard (lobby)", "read,events", hashlib.sha256(secret.encode()).hexdigest())]
    assert all(secret.encode() not in p.read_bytes() for p in (pbx.root / "state").iterdir())


def test_revoked_token_is_refused_at_once(pbx):
    made = make_token(pbx, "read")
    assert pbx.get("test", auth=False, headers=bearer(made)).status_code == 200
    r = pbx.delete("tokens/" + made["id"])
    assert r.status_code == 200 and body(r)["data"]["id"] == made["id"] and "token" not in body(r)["data"]
    r = pbx.get("test", auth=False, headers=bearer(made))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == BEARER_CHALLENGE
    assert body(pbx.get("tokens"))["data"] == []
    r = pbx.delete("tokens/" + made["id"])
    assert r.status_code == 404 and made["id"] in body(r)["message"]


def test_revoke_reaches_every_worker_that_already_used_the_token(pbx):
    """Two app instances (two gunicorn workers) over one state dir: both have the
    token in memory; a revoke through one is refused by the other on its next request."""
    other = create_app(str(pbx.ini)).test_client()
    made = make_token(pbx, "read")
    for _ in range(2):
        assert other.get("/api/v1/test", headers=bearer(made)).status_code == 200
        assert pbx.get("test", auth=False, headers=bearer(made)).status_code == 200
    assert pbx.delete("tokens/" + made["id"]).status_code == 200
    assert other.get("/api/v1/test", headers=bearer(made)).status_code == 401
    # And a token created in one worker works in the other at once.
    fresh = make_token(pbx, "read")
    assert other.get("/api/v1/test", headers=bearer(fresh)).status_code == 200


def test_concurrent_creates_and_revokes_from_two_workers(pbx):
    """Two app instances (two workers), four threads each, creating and revoking at
    once: every create lands, every revoke holds, no token is lost or doubled."""
    apps = [pbx.app, create_app(str(pbx.ini))]
    made, errors = [], []

    def work(app, k):
        client = app.test_client()
        try:
            for i in range(10):
                r = client.post("/api/v1/tokens", headers=pbx.auth, json={"name": "w%d-%d" % (k, i),
                                                                           "scopes": ["read"]})
                assert r.status_code == 201, body(r)
                t = body(r)["data"]
                if i % 2:
                    assert client.delete("/api/v1/tokens/" + t["id"], headers=pbx.auth).status_code == 200
                else:
                    made.append(t)
        except AssertionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(apps[k % 2], k)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    listed = body(pbx.get("tokens"))["data"]
    assert sorted(t["id"] for t in listed) == sorted(t["id"] for t in made) and len(made) == 40
    assert sorted(t["name"] for t in listed) == sorted("w%d-%d" % (k, i) for k in range(8) for i in range(0, 10, 2))
    assert all(apps[1].test_client().get("/api/v1/test", headers=bearer(t)).status_code == 200 for t in made[:5])


def test_tokens_survive_a_restart(pbx):
    made = make_token(pbx, "read")
    restarted = create_app(str(pbx.ini)).test_client()
    assert restarted.get("/api/v1/extensions", headers=bearer(made)).status_code == 200
    assert [t["id"] for t in body(restarted.get("/api/v1/tokens", headers=pbx.auth))["data"]] == [made["id"]]


def test_a_token_cannot_manage_tokens(pbx):
    mine = make_token(pbx, *SCOPES)
    for method, path in (("POST", "tokens"), ("GET", "tokens"), ("DELETE", "tokens/" + mine["id"])):
        r = pbx.call(method, path, auth=False, headers=bearer(mine), json={"name": "x", "scopes": ["read"]})
        assert r.status_code == 403, (method, path)
        assert body(r)["message"] == "Forbidden: an API token cannot manage tokens; use Basic credentials"
    assert [t["id"] for t in body(pbx.get("tokens"))["data"]] == [mine["id"]]


@pytest.mark.parametrize("sent,field,why", [
    ({"scopes": ["read"]}, "name", "is required"),
    ({"name": "", "scopes": ["read"]}, "name", "is required"),
    ({"name": "n" * 65, "scopes": ["read"]}, "name", "must be at most 64 characters"),
    ({"name": "bell\x07", "scopes": ["read"]}, "name", "must not contain control characters"),
    ({"name": "line\nbreak", "scopes": ["read"]}, "name", "must not contain control characters"),
    ({"name": " padded", "scopes": ["read"]}, "name", "must be printable characters"),
    ({"name": "zero\u200bwidth", "scopes": ["read"]}, "name", "must be printable characters"),
    ({"name": "crm"}, "scopes", "is required"),
    ({"name": "crm", "scopes": []}, "scopes", "must not be empty"),
    ({"name": "crm", "scopes": ["read", "admin"]}, "scopes", "unknown scope 'admin'"),
    ({"name": "crm", "scopes": ["READ"]}, "scopes", "unknown scope 'READ'"),
])
def test_token_create_validation_names_the_field(pbx, sent, field, why):
    r = pbx.post("tokens", json=sent)
    assert r.status_code == 400, body(r)
    assert set(body(r)["data"]["errors"]) == {field}
    assert body(r)["data"]["errors"][field].startswith(why)
    assert body(pbx.get("tokens"))["data"] == []


def test_token_create_takes_a_form_and_dedupes_scopes(pbx):
    r = pbx.post("tokens", data={"name": "n" * 64, "scopes": ["write", "read", "write"]})
    assert r.status_code == 201 and body(r)["data"]["scopes"] == ["read", "write"]


# -- scopes --------------------------------------------------------------------------------
def test_read_events_token_reads_extensions_and_may_not_change_one(pbx_rw):
    made = make_token(pbx_rw, "read", "events", name="wallboard")
    r = pbx_rw.get("extensions", auth=False, headers=bearer(made))
    assert r.status_code == 200
    assert "101" in [e["extension"] for e in body(r)["data"]]
    before = pbx_rw.snapshot()
    r = pbx_rw.put("extension/101", auth=False, headers=bearer(made), data={"displayname": "Mallory"})
    assert r.status_code == 403
    assert body(r) == {"status": 403, "message": "Forbidden: this token needs the scope 'write'",
                       "data": {"scope": "write"}}
    assert pbx_rw.snapshot() == before


def test_every_route_refuses_a_token_without_its_scope(pbx_rw):
    """For each route: a token holding every scope but the route's own gets 403
    naming that scope, before the route runs (nothing changes, nothing reaches
    Asterisk or fwconsole)."""
    before = pbx_rw.snapshot()
    n = len(pbx_rw.peer.actions)
    tokens = {}
    checked = 0
    for spec in all_specs():
        if not spec.auth:
            continue
        held = tuple(s for s in SCOPES if s != spec.scope)
        if held not in tokens:
            tokens[held] = make_token(pbx_rw, *held)
        r = pbx_rw.client.open("/api/v1" + concrete(spec.rule), method=spec.method, headers=bearer(tokens[held]))
        assert r.status_code == 403, (spec.method, spec.rule, r.status_code)
        assert body(r)["data"] == {"scope": None if spec.scope == BASIC_ONLY else spec.scope}, spec.rule
        if spec.scope != BASIC_ONLY:
            assert ("'%s'" % spec.scope) in body(r)["message"]
        checked += 1
    assert checked > 50
    assert pbx_rw.snapshot() == before
    assert pbx_rw.peer.actions[n:] == []
    assert pbx_rw.fwconsole_calls() == []


def test_scope_of_each_kind_of_route(pbx_rw):
    calls = make_token(pbx_rw, "calls", name="crm")
    write = make_token(pbx_rw, "write", name="billing")
    read = make_token(pbx_rw, "read", name="reports")
    call = {"ext": "101", "secret": SECRET_101, "dest": "2125550147"}
    # POST /call needs calls, not write; a calls token reads nothing.
    r = pbx_rw.post("call", auth=False, headers=bearer(write), data=call)
    assert r.status_code == 403 and body(r)["data"] == {"scope": "calls"}
    assert [a for a in pbx_rw.peer.actions if a.name == "Originate"] == []
    assert pbx_rw.post("call", auth=False, headers=bearer(calls), data=call).status_code == 200
    assert len([a for a in pbx_rw.peer.actions if a.name == "Originate"]) == 1
    for path, scope in (("extensions", "read"), ("events", "events"), ("cdr", "read")):
        r = pbx_rw.get(path, auth=False, headers=bearer(calls))
        assert r.status_code == 403 and body(r)["data"] == {"scope": scope}, path
    # The GETs that reload the PBX are writes.
    for path in ("pbx/framework/reload", "pbx/asterisk/reload"):
        r = pbx_rw.get(path, auth=False, headers=bearer(read))
        assert r.status_code == 403 and body(r)["data"] == {"scope": "write"}, path
    assert pbx_rw.fwconsole_calls() == []
    # Any method but GET is a write; the liveness echo included.
    assert pbx_rw.get("test", auth=False, headers=bearer(read)).status_code == 200
    r = pbx_rw.post("test", auth=False, headers=bearer(read))
    assert r.status_code == 403 and body(r)["data"] == {"scope": "write"}
    assert pbx_rw.post("test", auth=False, headers=bearer(write)).status_code == 200
    r = pbx_rw.get("test", auth=False, headers=bearer(write))
    assert r.status_code == 403 and body(r)["data"] == {"scope": "read"}


def test_secrets_need_their_own_scope(pbx):
    read = make_token(pbx, "read")
    for path in ("extensions?secrets=yes", "extensions/101?secrets=yes", "extdump/101?secrets=yes",
                 "extensions/export?secrets=yes"):
        r = pbx.get(path, auth=False, headers=bearer(read))
        assert r.status_code == 403, path
        assert body(r) == {"status": 403, "data": {"scope": "secrets"},
                           "message": "Forbidden: this token needs the scope 'secrets' for secrets=yes"}
    r = pbx.get("extensions/101", auth=False, headers=bearer(read))
    assert r.status_code == 200 and body(r)["data"]["secret"] is None
    both = make_token(pbx, "read", "secrets")
    r = pbx.get("extensions/101?secrets=yes", auth=False, headers=bearer(both))
    assert r.status_code == 200 and body(r)["data"]["secret"] == SECRET_101


def test_writes_by_a_token_are_audited_with_its_id_and_name(pbx_rw, caplog):
    caplog.set_level("DEBUG")
    made = make_token(pbx_rw, "write", name="billing job")
    r = pbx_rw.post("pbx/framework/needreload", auth=False, headers=bearer(made))
    assert r.status_code == 200
    lines = [json.loads(x) for x in (pbx_rw.root / "audit.log").read_text().splitlines()]
    assert [a["action"] for a in lines] == ["tokens.create", "needreload"]
    assert lines[0]["user"] == "api" and lines[0]["result"]["id"] == made["id"] and "token" not in lines[0]
    assert lines[1]["user"] == "token:" + made["id"]
    assert lines[1]["token"] == {"id": made["id"], "name": "billing job"}
    secret = made["token"].split("_", 2)[2]
    assert secret not in caplog.text and secret not in (pbx_rw.root / "audit.log").read_text()


# -- refused tokens ----------------------------------------------------------------------------
def test_malformed_or_wrong_bearer_is_401_and_counts_toward_the_lockout(pbx, caplog):
    caplog.set_level("WARNING", logger="rfapi.auth")
    limit(pbx, 7)  # the seven refused attempts below
    made = make_token(pbx, "read")
    good = made["token"]
    other_id = "0123456789abcdef" if made["id"] != "0123456789abcdef" else "fedcba9876543210"
    attempts = [
        ({"Authorization": "Bearer"}, "malformed token"),
        ({"Authorization": "Bearer "}, "malformed token"),
        ({"Authorization": "Bearer " + good.replace("rfapi_", "rfapx_", 1)}, "malformed token"),
        ({"Authorization": "Bearer " + good[:-1]}, "malformed token"),
        ({"Authorization": "Bearer " + good.replace(made["id"], other_id)}, "unknown token"),
        ({"Authorization": "Bearer " + good[:-1] + ("A" if good[-1] != "A" else "B")}, "wrong token secret"),
    ]
    for headers, _ in attempts:
        r = pbx.get("test", auth=False, headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["WWW-Authenticate"] == BEARER_CHALLENGE
        assert body(r) == {"status": 401, "message": "Unauthorized", "data": None}
    # CR/LF inside the header value (a raw WSGI environ: HTTP clients refuse to send it).
    r = pbx.get("test", auth=False, environ_overrides={"HTTP_AUTHORIZATION": "Bearer " + good + "\r\nX-Admin: 1"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == BEARER_CHALLENGE
    # That was the limit: now the right token is refused from this address too.
    r = pbx.get("test", auth=False, headers=bearer(good))
    assert r.status_code == 429
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "rfapi.auth"]
    expected = ["rfapi auth failure from 127.0.0.1 user=token reason=%s" % why for _, why in attempts[:4]]
    expected += ["rfapi auth failure from 127.0.0.1 user=token:%s reason=unknown token" % other_id,
                 "rfapi auth failure from 127.0.0.1 user=token:%s reason=wrong token secret" % made["id"],
                 "rfapi auth failure from 127.0.0.1 user=token reason=malformed token"]
    assert lines == expected
    assert good.split("_", 2)[2] not in caplog.text


# -- /events ---------------------------------------------------------------------------------------
def test_events_scope_opens_the_stream_by_header_or_access_token(pbx):
    wall = make_token(pbx, "read", "events", name="wallboard")
    read = make_token(pbx, "read")
    srv = Server(pbx.app)
    streams = []
    try:
        def open_stream(query="", headers=None):
            s = Stream(srv.addr, "/api/v1/events" + query, headers=headers)
            streams.append(s)
            return s

        s = open_stream(headers=bearer(wall))
        assert s.status == 200 and s.headers["content-type"].startswith("text/event-stream")
        f = s.next()
        assert f is not None and f.comments[0].startswith("rfapi events ")
        s = open_stream("?types=state&access_token=" + wall["token"])
        assert s.status == 200
        assert s.next() is not None
        s = open_stream(headers=bearer(read))
        assert s.status == 403 and json.loads(s.body)["data"] == {"scope": "events"}
        s = open_stream("?access_token=" + read["token"])
        assert s.status == 403
        s = open_stream("?access_token=rfapi_nonsense")
        assert s.status == 401 and s.headers["www-authenticate"] == BEARER_CHALLENGE
    finally:
        for s in streams:
            s.close()
        srv.close()
    # Only /events takes the token from the query string.
    r = pbx.get("extensions?access_token=" + wall["token"], auth=False)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="PBX API"'


# -- the document -------------------------------------------------------------------------------
def test_openapi_shows_bearer_and_each_operations_scope(pbx):
    doc = body(pbx.get("openapi.json", auth=False))
    assert doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert doc["components"]["securitySchemes"]["basic"] == {"type": "http", "scheme": "basic"}
    ops = doc["paths"]
    want = {("/api/v1/extensions", "get"): "read", ("/api/v1/extension/{extension}", "put"): "write",
            ("/api/v1/call", "post"): "calls", ("/api/v1/events", "get"): "events",
            ("/api/v1/pbx/framework/reload", "get"): "write", ("/api/v1/tokens", "post"): None,
            ("/api/v1/tokens/{token_id}", "delete"): None}
    for (path, method), scope in want.items():
        op = ops[path][method]
        assert op["x-rfapi-scope"] == scope, path
        assert op["security"] == ([{"basic": []}] if scope is None else [{"basic": []}, {"bearer": []}])
    assert "API token scope: read. With secrets=yes also: secrets." in ops["/api/v1/extensions"]["get"]["description"]
    assert "x-rfapi-scope" not in ops["/api/v1/openapi.json"]["get"]


def test_unusable_state_dir_is_503_for_tokens_and_basic_still_works(pbx, caplog):
    blocker = pbx.root / "not-a-dir"
    blocker.write_text("a file where the state directory should be")
    pbx.ini.write_text(re.sub(r"(?m)^state = .*$", "state = %s" % (blocker / "rfapi"), pbx.ini.read_text()))
    r = pbx.post("tokens", json={"name": "crm", "scopes": ["read"]})
    assert r.status_code == 503
    assert body(r)["message"].startswith("Service Unavailable: the token store cannot be used")
    r = pbx.get("test", auth=False, headers={"Authorization": "Bearer rfapi_0123456789abcdef_" + "A" * 43})
    assert r.status_code == 503 and str(blocker) not in r.get_data(as_text=True)
    assert str(blocker) in caplog.text  # the operator learns where
    assert pbx.get("test").status_code == 200
