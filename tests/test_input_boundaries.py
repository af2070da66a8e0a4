"""Boundaries of what a request may carry, each one proven here:

1. every control character (TAB included) refused in parameters and path segments;
2. one spelling per client address (X-Forwarded-For ::ffff:a.b.c.d is a.b.c.d) for the lock-out and logs;
3. 401 before anything else (405, 501, 404) for every request without valid credentials;
4. exact lookups against MariaDB's PAD SPACE / _ci collations on every user-given key;
5. over-long request targets and header fields: the JSON envelope with X-Request-Id
   (real gunicorn, and the real Apache in front of it);
6. click-to-call dials external numbers and extensions only, feature codes only when configured.
"""
from __future__ import annotations

import pytest

from rfapi import config as config_mod
from tests.support import office
from tests.support.procs import free_port
from tests.support.world import API_PASSWORD, API_USER, basic, body, without_need_reload
from tests.test_apache import SNIPPET_MODULES, Apache, render_snippet, shared_dir, stack  # noqa: F401 (fixture)
from tests.test_gunicorn import (AUTH, access_lines, processes, request,  # noqa: F401 (fixture)
                                 start_gunicorn, wait_until)

ADMIN = next(u for u in office.AMPUSERS if u["username"] == "admin")
SECRET_101 = office.EXTENSIONS_BY_NUMBER["101"]["secret"]
CONTROLS = ["\t", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f", "\u2028", "\u2029"]


def limit(pbx, n=3, cooldown=600):
    pbx.ini.write_text(pbx.ini.read_text().replace(
        "[api]\n", "[api]\nauth_fail_limit = %d\nauth_fail_window = 60\nauth_fail_cooldown = %d\n" % (n, cooldown), 1))


def xff(addr, headers=None):
    h = {"X-Forwarded-For": addr}
    h.update(headers or {})
    return h


def originates(peer):
    return [a for a in peer.actions if a.name == "Originate"]


# -- 1. control characters ----------------------------------------------------------------------
@pytest.mark.parametrize("char", CONTROLS, ids=[hex(ord(c)) for c in CONTROLS])
def test_every_control_character_in_a_parameter_is_400_and_nothing_is_stored(pbx_rw, char):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("did/add", data={"did": "5551239999", "description": "d" + char})
    assert r.status_code == 400, body(r)
    assert body(r)["data"] == {"errors": {"description": "must not contain control characters (CR, LF, NUL, ...)"}}
    assert pbx_rw.snapshot() == before
    assert pbx_rw.sql("SELECT * FROM incoming WHERE extension = '5551239999'") == []


def test_tab_in_a_query_parameter_and_in_path_segments_is_400(pbx):
    r = pbx.get("/api/v1/cdr?src=1%09")
    assert r.status_code == 400
    assert body(r)["data"] == {"errors": {"src": "must not contain control characters (CR, LF, NUL, ...)"}}
    for path, field in (("extensions/101%09", "extension"), ("dids/5551230100%09", "did"),
                        ("ampusers/admin%09", "username"), ("recordings/Welcome%20Greeting%09", "name")):
        r = pbx.get(path)
        assert r.status_code == 400, (path, body(r))
        assert body(r)["data"] == {"errors": {field: "must not contain control characters"}}, path
    # JSON bodies too: a TAB inside a JSON string is still a TAB.
    r = pbx.post("call", json={"ext": "101", "secret": SECRET_101, "dest": "2125550147\t"})
    assert r.status_code == 400 and list(body(r)["data"]["errors"]) == ["dest"]
    assert originates(pbx.peer) == []


# -- 2. one spelling per address ------------------------------------------------------------------
@pytest.mark.parametrize("spellings,logged", [
    (["10.60.82.1", "::ffff:10.60.82.1", "::FFFF:10.60.82.1", "0:0:0:0:0:ffff:a3c:5201"], "10.60.82.1"),
    (["2001:db8::1", "2001:DB8:0:0::1", "2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8:0::0:1"],
     "2001:db8::1"),
])
def test_another_spelling_of_a_locked_out_address_is_still_locked_out(pbx, caplog, spellings, logged):
    caplog.set_level("WARNING", logger="rfapi.auth")
    limit(pbx, 3)
    for addr in spellings[:3]:
        assert pbx.get("test", auth=False, headers=xff(addr, basic(API_USER, "wrong"))).status_code == 401
    # The right credentials from any spelling of that address: still cooling down.
    for addr in spellings:
        r = pbx.get("test", auth=False, headers=xff(addr, basic(API_USER, API_PASSWORD)))
        assert r.status_code == 429, (addr, body(r))
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "rfapi.auth"]
    assert lines == ["rfapi auth failure from %s user=api reason=bad credentials" % logged] * 3
    # Another address is not affected.
    assert pbx.get("test", auth=False, headers=xff("10.60.82.2", basic(API_USER, API_PASSWORD))).status_code == 200


def test_normalise():
    from rfapi.proxy import normalise

    assert normalise("::ffff:192.0.2.1") == "192.0.2.1"
    assert normalise(" 2001:DB8::0:1 ") == "2001:db8::1"
    assert normalise("fe80::1%eth0") == "fe80::1"
    assert normalise("192.0.2.1") == "192.0.2.1"
    assert normalise("not-an-address") is None
    assert normalise("192.0.2.1:80") is None


# -- 3. 401 first ------------------------------------------------------------------------------------
UNAUTHENTICATED = [
    ("PUT", "/api/v1/extension/101"),      # planned today (501 with credentials), a route in another branch
    ("DELETE", "/api/v1/extensions"),      # a route that does not allow the method (405 with credentials)
    ("PATCH", "/api/v1/test"),
    ("OPTIONS", "/api/v1/test"),
    ("POST", "/api/v1/openapi.json"),      # the public document is public for GET only
    ("GET", "/api/v1/nope"),               # unknown paths (404 with credentials)
    ("GET", "/api/v1/extensions/101/secret"),
    ("GET", "/api/v1"),
    ("GET", "/"),
    ("DELETE", "/api/v2/anything"),
]


@pytest.mark.parametrize("method,path", UNAUTHENTICATED)
def test_without_credentials_every_method_and_path_is_401(pbx, method, path):
    for i, headers in enumerate(({}, basic(API_USER, "wrong"), {"Authorization": "Bearer x"})):
        r = pbx.client.open(path, method=method, headers=xff("192.0.2.%d" % (i + 10), headers))
        assert r.status_code == 401, (method, path, r.status_code)
        assert body(r) == {"status": 401, "message": "Unauthorized", "data": None}
        # A refused API token is told so (RFC 6750); anything else gets the Basic challenge.
        assert r.headers["WWW-Authenticate"] == (
            'Bearer realm="PBX API", error="invalid_token"'
            if headers.get("Authorization", "").startswith("Bearer ") else 'Basic realm="PBX API"')
        assert "Allow" not in r.headers
        assert len(r.headers["X-Request-Id"]) == 16


def test_with_credentials_the_same_requests_get_405_and_404(pbx):
    limit(pbx, 2)
    r = pbx.delete("extensions")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    assert body(r) == {"status": 405, "message": "Method Not Allowed", "data": None}
    r = pbx.get("nope")
    assert r.status_code == 404 and body(r) == {"status": 404, "message": "Not Found", "data": None}
    # A wrong password on an unknown path is a failed login like any other.
    for _ in range(2):
        assert pbx.get("nope", auth=False, headers=xff("192.0.2.99", basic(API_USER, "x"))).status_code == 401
    assert pbx.get("test", auth=False, headers=xff("192.0.2.99", basic(API_USER, API_PASSWORD))).status_code == 429


def test_openapi_document_needs_no_credentials(pbx):
    r = pbx.get("/api/v1/openapi.json", auth=False)
    assert r.status_code == 200 and body(r)["openapi"].startswith("3.")
    assert pbx.get("/api/v1/openapi.json/", auth=False).status_code == 200


# -- 4. exact lookups ----------------------------------------------------------------------------
PADDED = ["%20", "%20%20", "%E2%80%8B"]   # trailing space(s), a zero-width space (ignorable in unicode_ci)


@pytest.mark.parametrize("pad", PADDED)
def test_admin_lookups_are_exact(pbx_rw, pad):
    before = pbx_rw.snapshot()
    for method in ("get", "delete"):
        r = getattr(pbx_rw, method)("ampusers/admin" + pad)
        assert r.status_code == 404, (method, body(r))
    r = pbx_rw.put("ampusers/admin" + pad, data={"password": "Other-Pass-123", "sections": '["*"]'})
    assert r.status_code == 404
    r = pbx_rw.put("ampusers/helpdesk" + pad, data={"password": "Other-Pass-123", "sections": '["cdr"]'})
    assert r.status_code == 404
    assert pbx_rw.snapshot() == before


def test_admin_names_still_compare_without_case_but_nothing_else(pbx):
    """FreePBX compares user names without case (the column's collation); rfapi keeps
    that, and nothing else the collation would ignore (padding, accents, ignorables)."""
    r = pbx.get("ampusers/ADMIN")
    assert r.status_code == 200 and body(r)["data"]["username"] == "admin"
    for name in ("adm%C3%ADn", "%C3%A1dmin", "admin%E2%80%8B"):
        assert pbx.get("ampusers/" + name).status_code == 404, name


@pytest.mark.parametrize("name", ["admin ", "admin  ", "Admin ", "admin\u00a0"])
def test_a_login_with_a_padded_admin_name_fails(pbx, name, caplog):
    caplog.set_level("WARNING", logger="rfapi.auth")
    r = pbx.get("test", auth=False, headers=xff("192.0.2.60", basic(name, ADMIN["password"])))
    assert r.status_code == 401, name
    assert len([rec for rec in caplog.records if rec.name == "rfapi.auth"]) == 1
    r = pbx.get("test", auth=False, headers=xff("192.0.2.61", basic("ADMIN", ADMIN["password"])))
    assert r.status_code == 200


def test_a_padded_admin_login_is_not_served_from_the_cache(pbx):
    assert pbx.get("test", auth=False, headers=basic("admin", ADMIN["password"])).status_code == 200
    assert pbx.get("test", auth=False, headers=xff("192.0.2.62", basic("admin ", ADMIN["password"]))).status_code == 401


@pytest.mark.parametrize("pad", PADDED)
def test_did_lookups_are_exact(pbx_rw, pad):
    before = pbx_rw.snapshot()
    r = pbx_rw.get("dids/%s%s" % (office.MAIN_DID, pad))
    assert r.status_code == 404, body(r)
    r = pbx_rw.delete("did/%s%s" % (office.MAIN_DID, pad))
    assert r.status_code == 404, body(r)
    assert pbx_rw.snapshot() == before
    assert pbx_rw.get("dids/" + office.MAIN_DID).status_code == 200


@pytest.mark.parametrize("pad", PADDED)
def test_extension_family_lookups_are_exact(pbx_rw, pad):
    """Extensions, their dump, follow-me, voicemail, state, registrations, recordings, call."""
    before = pbx_rw.snapshot()
    for path in ("extensions/101", "extdump/101", "followme/101", "followme/101/status", "voicemail/101",
                 "state/101", "registrations/101", "recordings/Welcome%20Greeting"):
        r = pbx_rw.get(path + pad)
        assert r.status_code in (400, 404), (path, r.status_code, body(r))
        assert pbx_rw.get(path).status_code == 200, path
    for method, path, data in (("delete", "extension/101", None),
                               ("post", "followme/101", {"action": "enable"}),
                               ("post", "voicemail/101", {"messages": '["msg0000"]'}),
                               ("delete", "voicemail/101/msg0000", None)):
        r = getattr(pbx_rw, method)(path + pad, data=data)
        assert r.status_code in (400, 404), (method, path, r.status_code, body(r))
    r = pbx_rw.post("call", data={"ext": "101 ", "secret": SECRET_101, "dest": "2125550147"})
    assert r.status_code == 400 and list(body(r)["data"]["errors"]) == ["ext"]
    assert originates(pbx_rw.peer) == []
    assert without_need_reload(pbx_rw.snapshot()) == without_need_reload(before)


def test_the_exact_helper():
    from rfapi.dao import exact

    rows = [{"k": "102"}, {"k": b"102 "}, {"k": "102\u200b"}, {"k": "Admin"}]
    assert exact(rows, "k", "102") == [{"k": "102"}]
    assert exact(rows, "k", "102 ") == [{"k": b"102 "}]
    assert exact(rows, "k", "admin") == []
    assert exact(rows, "k", "admin", fold_case=True) == [{"k": "Admin"}]


# -- 5. size limits under real gunicorn and Apache ----------------------------------------------
LONG_QUERY = "/api/v1/cdr?src=" + "1" * 5000
BIG_HEADER = {"X-Big": "a" * (60 * 1024)}


def _assert_envelope(answer, status, message_start):
    assert answer.status == status, (answer.status, answer.body[:300])
    assert answer.headers["content-type"] == "application/json"
    data = answer.json()
    assert data["status"] == status and data["data"] is None
    assert data["message"].startswith(message_start), data
    assert len(answer.headers["x-request-id"]) == 16
    return answer.headers["x-request-id"]


def test_oversize_target_and_header_get_the_envelope_from_gunicorn(pbx, tmp_path, processes):
    port = free_port()
    g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", "127.0.0.1:%d" % port)
    processes.append(g)
    target = ("127.0.0.1", port)
    ids = [_assert_envelope(request(target, "GET", LONG_QUERY, AUTH), 414, "URI Too Long"),
           _assert_envelope(request(target, "GET", "/api/v1/test", dict(AUTH, **BIG_HEADER)), 431,
                            "Request Header Fields Too Large: X-Big is over 8190 bytes"),
           # Also without credentials: size limits come before auth, like 413.
           _assert_envelope(request(target, "GET", LONG_QUERY), 414, "URI Too Long")]
    # Just under the limits, the request is served.
    ok = request(target, "GET", "/api/v1/test?" + "a" * 100, dict(AUTH, **{"X-Big": "a" * 8000}))
    assert ok.status == 400 and ok.json()["data"]["errors"] == {"a" * 64 + "...": "unknown parameter"}
    wait_until(lambda: all(any(d.get("request_id") == i for d in access_lines(g.log())) for i in ids), 5,
               "access lines of the refused requests")
    assert sorted(d["status"] for d in access_lines(g.log()) if d["request_id"] in ids) == [414, 414, 431]
    assert "<html" not in g.log().lower()


def test_oversize_target_and_header_get_the_envelope_through_apache(pbx, tmp_path, stack):
    sdir = shared_dir()
    stack.append(sdir)
    sock = sdir / "rfapi.sock"
    bind = "unix:%s" % sock
    g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", bind, wait_for=str(sock))
    stack.append(g)
    port = free_port()
    apache = Apache(tmp_path / "apache", sdir / "htdocs", ["127.0.0.1:%d" % port], render_snippet(bind),
                    modules=SNIPPET_MODULES)
    stack.append(apache.start())
    via = ("127.0.0.1", port)
    _assert_envelope(request(via, "GET", LONG_QUERY, AUTH), 414, "URI Too Long")
    _assert_envelope(request(via, "GET", "/api/v1/test", dict(AUTH, **BIG_HEADER)), 431,
                     "Request Header Fields Too Large: X-Big is over 8190 bytes")
    assert request(via, "GET", "/api/v1/test", AUTH).status == 200
    # Documented: beyond Apache's own limits (request line 8190, header field 65000) Apache
    # answers itself, before rfapi is asked; rfapi never sees such a request.
    assert request(via, "GET", "/api/v1/cdr?src=" + "1" * 9000, AUTH).status == 414
    assert request(via, "GET", "/api/v1/test", dict(AUTH, **{"X-Big": "a" * 70000})).status == 400


# -- 6. click-to-call destinations ------------------------------------------------------------------
REFUSED = ["*98", "*21101", "200#", "#", "1" * 21, "1" * 40, "12", "+12", "99", "*", "**"]


@pytest.mark.parametrize("dest", REFUSED)
def test_call_refuses_feature_codes_and_odd_numbers_by_default(pbx, dest):
    pbx.peer.dialplan_patterns.extend(["*98", "*21101", "200#", "_X.", "#"])
    r = pbx.post("call", data={"ext": "101", "secret": SECRET_101, "dest": dest})
    assert r.status_code == 400, (dest, body(r))
    assert list(body(r)["data"]["errors"]) == ["dest"]
    assert originates(pbx.peer) == []


@pytest.mark.parametrize("dest", ["2125550147", "+442071234567", "101", "911", "1" * 20])
def test_call_dials_external_numbers_and_extensions(pbx, dest):
    pbx.peer.dialplan_patterns.extend(["_X.", "_+X."])
    r = pbx.post("call", data={"ext": "102", "secret": office.EXTENSIONS_BY_NUMBER["102"]["secret"], "dest": dest})
    assert r.status_code == 200, (dest, body(r))
    assert [a.get("Exten") for a in originates(pbx.peer)] == [dest]


def test_a_short_extension_is_dialable_a_short_unknown_number_is_not(pbx_rw):
    pbx_rw.sql("INSERT INTO users (extension, name, voicemail) VALUES ('42', 'Short', 'novm')")
    pbx_rw.peer.dialplan_patterns.append("42")
    r = pbx_rw.post("call", data={"ext": "101", "secret": SECRET_101, "dest": "43"})
    assert r.status_code == 400 and list(body(r)["data"]["errors"]) == ["dest"]
    assert originates(pbx_rw.peer) == []
    r = pbx_rw.post("call", data={"ext": "101", "secret": SECRET_101, "dest": "42"})
    assert r.status_code == 200, body(r)
    assert [a.get("Exten") for a in originates(pbx_rw.peer)] == ["42"]


def test_feature_codes_when_the_config_allows_them(pbx):
    pbx.ini.write_text(pbx.ini.read_text() + "[call]\nallow_feature_codes = yes\n")
    pbx.peer.dialplan_patterns.extend(["*98", "200#"])
    for dest in ("*98", "200#"):
        r = pbx.post("call", data={"ext": "101", "secret": SECRET_101, "dest": dest})
        assert r.status_code == 200, (dest, body(r))
    assert [a.get("Exten") for a in originates(pbx.peer)] == ["*98", "200#"]
    for dest in ("1" * 40, "*" * 21, "12+34"):
        r = pbx.post("call", data={"ext": "101", "secret": SECRET_101, "dest": dest})
        assert r.status_code == 400 and list(body(r)["data"]["errors"]) == ["dest"], dest
    assert len(originates(pbx.peer)) == 2


def test_call_config_key_is_checked(tmp_path):
    ini = tmp_path / "rfapi.ini"
    ini.write_text("[api]\npassword = x\n[call]\nallow_feature_codes = no\n")
    assert config_mod.load(str(ini)).call_allow_feature_codes is False
    ini.write_text("[api]\npassword = x\n")
    assert config_mod.load(str(ini)).call_allow_feature_codes is False
    ini.write_text("[api]\npassword = x\n[call]\nallow_feature_codes = On\n")
    assert config_mod.load(str(ini)).call_allow_feature_codes is True
    for text, needle in (("[call]\nallow_feature_codes = maybe\n",
                          "[call] allow_feature_codes = 'maybe' is not yes or no"),
                         ("[call]\nallow_features = yes\n", "unknown key [call] allow_features")):
        ini.write_text("[api]\npassword = x\n" + text)
        with pytest.raises(config_mod.ConfigError) as err:
            config_mod.load(str(ini))
        assert needle in str(err.value)


# -- the envelope's encoder (orjson when installed) ---------------------------------------------------
def test_to_json_is_the_json_encoders_text_byte_for_byte():
    import datetime
    import decimal

    from rfapi import encoding as http

    payloads = [
        {"status": 200, "message": "OK", "data": {"method": "GET"}},
        {"rows": [{"calldate": datetime.datetime(2026, 1, 2, 3, 4, 5, 120), "clid": '"Bob" <2125550147>',
                   "duration": decimal.Decimal("125"), "rate": decimal.Decimal("1.50"), "raw": b"bytes",
                   "text": "tab\tnl\nq\"bs\\ \x00\x1f\x7f \u2028 \u00e9 \U0001f600", "day": datetime.date(2026, 1, 2),
                   "took": datetime.timedelta(seconds=3), "tags": {"b", "a"}, 1: None, "f": 1.1, "big": 2 ** 63}]},
        [None, True, False, 0, -1, 1e100, "", [], {}],
    ]
    for p in payloads:
        assert http.to_json(p) == http._ENCODER.encode(p)
        assert http.to_json_bytes(p) == http._ENCODER.encode(p).encode("utf-8")
    # What orjson refuses, the json encoder answers (or refuses) as before.
    for p in ({"n": 2 ** 70}, {"s": "lone \ud800 surrogate"}):
        assert http.to_json(p) == http._ENCODER.encode(p)
    with pytest.raises(TypeError):
        http.to_json({"x": object()})
    assert http._orjson is not None  # installed with the package (setup.cfg)
