"""HTTP Basic auth — the config API user and FreePBX admins (ampusers)."""
from __future__ import annotations

import hashlib

from tests.support import office
from tests.support.world import API_PASSWORD, API_USER, basic, body


def _ampuser(sections_all: bool):
    for u in office.AMPUSERS:
        secs = u["sections"] if isinstance(u["sections"], str) else ";".join(u["sections"])
        if ("*" in secs.split(";")) == sections_all:
            return u
    raise AssertionError("the office has no such admin")


def test_missing_credentials_is_401_with_realm(pbx):
    r = pbx.get("test", auth=False)
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == 'Basic realm="PBX API"'
    assert body(r) == {"status": 401, "message": "Unauthorized", "data": None}


def test_wrong_password_is_401(pbx):
    r = pbx.get("test", auth=False, headers=basic(API_USER, API_PASSWORD + "x"))
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="PBX API"'
    r = pbx.get("test", auth=False, headers={"Authorization": "Basic !!!notbase64"})
    assert r.status_code == 401
    r = pbx.get("test", auth=False, headers={"Authorization": "Bearer abc"})
    assert r.status_code == 401


def test_api_user_from_config(pbx):
    r = pbx.get("test", auth=False, headers=basic(API_USER, API_PASSWORD))
    assert r.status_code == 200


def test_freepbx_admin_with_all_sections(pbx):
    admin = _ampuser(True)
    r = pbx.get("test", auth=False, headers=basic(admin["username"], admin["password"]))
    assert r.status_code == 200, body(r)
    r = pbx.get("test", auth=False, headers=basic(admin["username"], admin["password"] + "x"))
    assert r.status_code == 401


def test_admin_without_all_sections_is_403(pbx):
    limited = _ampuser(False)
    r = pbx.get("test", auth=False, headers=basic(limited["username"], limited["password"]))
    assert r.status_code == 403
    assert body(r)["status"] == 403 and "ALL SECTIONS" in body(r)["message"]


def test_api_user_needs_no_database(pbx):
    """The config user is checked without touching MariaDB: it works with the database gone."""
    text = pbx.ini.read_text().replace("port = 3306", "port = 1")
    pbx.ini.write_text(text)
    r = pbx.get("test")
    assert r.status_code == 200
    admin = _ampuser(True)
    r = pbx.get("test", auth=False, headers=basic(admin["username"], admin["password"]))
    assert r.status_code == 503
    assert body(r)["message"].startswith("Service Unavailable")


def test_admin_lookup_cached_briefly_and_failures_never(pbx_rw):
    admin = _ampuser(True)
    good = basic(admin["username"], admin["password"])
    assert pbx_rw.get("test", auth=False, headers=good).status_code == 200
    # Change the password behind the API's back: the cached success holds for a few seconds...
    pbx_rw.sql("UPDATE ampusers SET password_sha1 = %s WHERE username = %s",
               (hashlib.sha1(b"n3w-passw0rd").hexdigest(), admin["username"]))
    assert pbx_rw.get("test", auth=False, headers=good).status_code == 200
    # ...but the new password is checked against the database at once (a miss is never cached).
    new = basic(admin["username"], "n3w-passw0rd")
    assert pbx_rw.get("test", auth=False, headers=new).status_code == 200
    # A failure followed by the right password: the failure was not cached as anything.
    bad = basic(admin["username"], "wrong")
    assert pbx_rw.get("test", auth=False, headers=bad).status_code == 401
    assert pbx_rw.get("test", auth=False, headers=new).status_code == 200


def test_failed_logins_logged_for_fail2ban(pbx, caplog):
    caplog.set_level("WARNING", logger="rfapi.auth")
    pbx.get("test", auth=False, headers=basic("mallory", "guess"))
    lines = [r.getMessage() for r in caplog.records if r.name == "rfapi.auth"]
    assert lines == ["rfapi auth failure from 127.0.0.1 user=mallory reason=bad credentials"]
    assert "guess" not in caplog.text


def test_admin_cache_cleared_in_every_worker(pbx_rw):
    """A change to ampusers clears the positive cache of every worker (two apps here)."""
    from rfapi import create_app

    admin = _ampuser(True)
    good = basic(admin["username"], admin["password"])
    other = create_app(str(pbx_rw.ini))
    assert pbx_rw.get("test", auth=False, headers=good).status_code == 200
    assert other.test_client().get("/api/v1/test", headers=good).status_code == 200
    pbx_rw.sql("UPDATE ampusers SET sections = %s WHERE username = %s", (b"cdr", admin["username"]))
    # Cached in both workers for now...
    assert other.test_client().get("/api/v1/test", headers=good).status_code == 200
    # ...until one worker clears its cache (as every ampusers write does): all workers re-check.
    pbx_rw.app.extensions["rfapi.admin_cache"].clear()
    assert other.test_client().get("/api/v1/test", headers=good).status_code == 403
    assert pbx_rw.get("test", auth=False, headers=good).status_code == 403
