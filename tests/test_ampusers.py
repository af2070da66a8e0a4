"""FreePBX administrators: GET /ampusers[/<name>], POST /ampusers/add,
PUT/DELETE /ampusers/<name>; rows as Core::addAMPUser writes them (WRITES.md §4)."""
from __future__ import annotations

import hashlib
import json
import threading

import pytest

from tests.support import office
from tests.support.world import basic, body, need_reload


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def row(pbx, username):
    rows = pbx.sql("SELECT username, email, extension, password_sha1, extension_low, extension_high, deptname, "
                   "sections FROM ampusers WHERE username = %s", (username,))
    return rows[0] if rows else None


def login(pbx, user, password):
    return pbx.get("test", auth=False, headers=basic(user, password)).status_code


def public(u):
    sections = u["sections"].split(";")
    return {"username": u["username"], "sections": sections, "full_access": "*" in sections,
            "extension_low": u["extension_low"], "extension_high": u["extension_high"], "deptname": u["deptname"],
            "email": u["email"], "extension": u["extension"]}


# -- reads --------------------------------------------------------------------------
def test_list_admins_without_hashes(pbx):
    r = pbx.get("ampusers")
    assert r.status_code == 200
    assert body(r)["data"] == [public(u) for u in sorted(office.AMPUSERS, key=lambda u: u["username"])]
    text = r.get_data(as_text=True)
    assert "password" not in text
    for u in office.AMPUSERS:
        assert u["password_sha1"] not in text


def test_get_on_the_add_route_lists_admins(pbx):
    r = pbx.get("ampusers/add")
    assert r.status_code == 200
    assert body(r)["data"] == body(pbx.get("ampusers"))["data"]
    assert pbx.post("ampusers/admin").status_code == 405


def test_get_one_admin(pbx):
    r = pbx.get("ampusers/helpdesk")
    assert r.status_code == 200
    assert body(r)["data"] == public(next(u for u in office.AMPUSERS if u["username"] == "helpdesk"))
    assert "password" not in r.get_data(as_text=True)
    r = pbx.get("ampusers/nobody")
    assert r.status_code == 404 and body(r)["message"] == "Administrator nobody not found"


# -- add -------------------------------------------------------------------------------
def test_add_full_admin_exact_row_and_login(pbx_rw):
    r = pbx_rw.post("ampusers/add", data={"username": "ops1", "password": "Op$-Secret-1", "sections": '["*"]'})
    assert r.status_code == 201, body(r)
    assert body(r)["message"] == "Created"
    assert body(r)["data"] == {"username": "ops1", "sections": ["*"], "full_access": True, "extension_low": "",
                               "extension_high": "", "deptname": "", "email": "", "extension": ""}
    assert row(pbx_rw, "ops1") == {"username": "ops1", "email": "", "extension": "",
                                   "password_sha1": sha1("Op$-Secret-1"), "extension_low": "",
                                   "extension_high": "", "deptname": "", "sections": b"*"}
    assert "Op$-Secret-1" not in r.get_data(as_text=True) and sha1("Op$-Secret-1") not in r.get_data(as_text=True)
    assert login(pbx_rw, "ops1", "Op$-Secret-1") == 200
    assert login(pbx_rw, "ops1", "wrong") == 401
    assert need_reload(pbx_rw) == "false"  # FreePBX's Administrators page does not call needreload()


def test_add_partial_admin_is_forbidden_on_the_api(pbx_rw):
    r = pbx_rw.post("ampusers/add", json={"username": "frontdesk2", "password": "Fd-2024!",
                                          "sections": '["extensions", "did", "99", "did"]'})
    assert r.status_code == 201, body(r)
    assert body(r)["data"]["sections"] == ["extensions", "did", "99"]
    assert body(r)["data"]["full_access"] is False
    assert row(pbx_rw, "frontdesk2")["sections"] == b"extensions;did;99"
    assert row(pbx_rw, "frontdesk2")["password_sha1"] == sha1("Fd-2024!")
    assert login(pbx_rw, "frontdesk2", "Fd-2024!") == 403


def test_sections_accept_a_real_json_array_too(pbx_rw):
    r = pbx_rw.post("ampusers/add", json={"username": "ops2", "password": "x", "sections": ["cdr", "99"]})
    assert r.status_code == 201, body(r)
    assert row(pbx_rw, "ops2")["sections"] == b"cdr;99"


def test_forty_hex_password_is_hashed_not_taken_as_a_hash(pbx_rw):
    password = "0123456789abcdef0123456789abcdef01234567"
    r = pbx_rw.post("ampusers/add", data={"username": "hexy", "password": password, "sections": '["*"]'})
    assert r.status_code == 201
    assert row(pbx_rw, "hexy")["password_sha1"] == sha1(password)
    assert login(pbx_rw, "hexy", password) == 200


def test_password_is_redacted_in_the_audit_log(pbx_rw):
    r = pbx_rw.post("ampusers/add", data={"username": "audited", "password": "Very-Secret-77", "sections": '["*"]'})
    assert r.status_code == 201
    log = (pbx_rw.root / "audit.log").read_text()
    line = json.loads(log.strip().splitlines()[-1])
    assert line["action"] == "ampusers.add"
    assert line["params"]["password"] == "***"
    assert "Very-Secret-77" not in log and sha1("Very-Secret-77") not in log


@pytest.mark.parametrize("data,field", [
    ({"password": "x", "sections": '["*"]'}, "username"),
    ({"username": "1abc", "password": "x", "sections": '["*"]'}, "username"),
    ({"username": "ab_c", "password": "x", "sections": '["*"]'}, "username"),
    ({"username": "a b", "password": "x", "sections": '["*"]'}, "username"),
    ({"username": "a" * 191, "password": "x", "sections": '["*"]'}, "username"),
    ({"username": "okname", "sections": '["*"]'}, "password"),
    ({"username": "okname", "password": "", "sections": '["*"]'}, "password"),
    ({"username": "okname", "password": "a\nb", "sections": '["*"]'}, "password"),
    ({"username": "okname", "password": "x"}, "sections"),
    ({"username": "okname", "password": "x", "sections": "[]"}, "sections"),
    ({"username": "okname", "password": "x", "sections": '["*'}, "sections"),
    ({"username": "okname", "password": "x", "sections": '["a;b"]'}, "sections"),
    ({"username": "okname", "password": "x", "sections": '[""]'}, "sections"),
    ({"username": "okname", "password": "x", "sections": '[{"a": 1}]'}, "sections"),
    ({"username": "okname", "password": "x", "sections": '["*"]', "deptname": "x"}, "deptname"),
])
def test_add_validation_failure_writes_nothing(pbx_rw, data, field):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("ampusers/add", data=data)
    assert r.status_code == 400, body(r)
    assert field in body(r)["data"]["errors"]
    assert pbx_rw.snapshot() == before


def test_duplicate_username_is_409(pbx_rw):
    before = pbx_rw.snapshot()
    for name in ("admin", "Admin", "HELPDESK"):
        r = pbx_rw.post("ampusers/add", data={"username": name, "password": "x", "sections": '["*"]'})
        assert r.status_code == 409
        assert body(r)["message"] == "Administrator %s already exists" % name
    assert pbx_rw.snapshot() == before
    assert login(pbx_rw, "admin", "Bayv1ew!Admin") == 200  # untouched


# -- update ---------------------------------------------------------------------------
def test_put_replaces_password_and_sections_and_drops_cached_login(pbx_rw):
    r = pbx_rw.post("ampusers/add", data={"username": "ops3", "password": "first-pass", "sections": '["*"]'})
    assert r.status_code == 201
    assert login(pbx_rw, "ops3", "first-pass") == 200  # now cached by the auth layer
    r = pbx_rw.put("ampusers/ops3", data={"password": "second-pass", "sections": '["cdr"]'})
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == {"username": "ops3", "sections": ["cdr"], "full_access": False,
                               "extension_low": "", "extension_high": "", "deptname": "", "email": "",
                               "extension": ""}
    assert row(pbx_rw, "ops3")["password_sha1"] == sha1("second-pass")
    assert row(pbx_rw, "ops3")["sections"] == b"cdr"
    assert login(pbx_rw, "ops3", "first-pass") == 401  # not served from the cache
    assert login(pbx_rw, "ops3", "second-pass") == 403  # demoted at once


def test_put_keeps_the_other_columns(pbx_rw):
    r = pbx_rw.put("ampusers/helpdesk", data={"password": "New-Help-1", "sections": '["extensions"]'})
    assert r.status_code == 200
    assert row(pbx_rw, "helpdesk") == {"username": "helpdesk", "email": "helpdesk@" + office.DOMAIN,
                                       "extension": "109", "password_sha1": sha1("New-Help-1"),
                                       "extension_low": "100", "extension_high": "199", "deptname": "",
                                       "sections": b"extensions"}


def test_put_validation_and_missing_admin(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("ampusers/helpdesk", data={"password": "x"})
    assert r.status_code == 400 and "sections" in body(r)["data"]["errors"]
    r = pbx_rw.put("ampusers/helpdesk", data={"sections": '["*"]'})
    assert r.status_code == 400 and "password" in body(r)["data"]["errors"]
    r = pbx_rw.put("ampusers/helpdesk", data={"password": "x", "sections": '["*"]', "username": "other"})
    assert r.status_code == 400 and "username" in body(r)["data"]["errors"]
    r = pbx_rw.put("ampusers/nobody", data={"password": "x", "sections": '["*"]'})
    assert r.status_code == 404 and body(r)["message"] == "Administrator nobody not found"
    assert pbx_rw.snapshot() == before


def test_last_full_admin_cannot_be_demoted(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("ampusers/admin", data={"password": "x", "sections": '["extensions"]'})
    assert r.status_code == 409
    assert body(r)["message"] == "admin is the last administrator with ALL SECTIONS (*); it cannot lose them"
    assert pbx_rw.snapshot() == before
    # Keeping ALL SECTIONS is fine, and a second full admin makes demotion possible.
    assert pbx_rw.put("ampusers/admin", data={"password": "Bayv1ew!Admin", "sections": '["*"]'}).status_code == 200
    assert pbx_rw.post("ampusers/add", data={"username": "second", "password": "x",
                                             "sections": '["*"]'}).status_code == 201
    assert pbx_rw.put("ampusers/admin", data={"password": "x", "sections": '["cdr"]'}).status_code == 200
    r = pbx_rw.put("ampusers/second", data={"password": "x", "sections": '["cdr"]'})
    assert r.status_code == 409


# -- delete ---------------------------------------------------------------------------
def test_delete_returns_removed_admin_and_revokes_cached_login(pbx_rw):
    assert login(pbx_rw, "auditor", "Aud1t-Only") == 403
    r = pbx_rw.post("ampusers/add", data={"username": "temp", "password": "Temp-1", "sections": '["*"]'})
    assert r.status_code == 201
    assert login(pbx_rw, "temp", "Temp-1") == 200  # cached now
    r = pbx_rw.delete("ampusers/temp")
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["username"] == "temp" and body(r)["data"]["full_access"] is True
    assert row(pbx_rw, "temp") is None
    assert login(pbx_rw, "temp", "Temp-1") == 401
    r = pbx_rw.delete("ampusers/temp")
    assert r.status_code == 404


def test_last_full_admin_cannot_be_deleted(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.delete("ampusers/admin")
    assert r.status_code == 409
    assert body(r)["message"] == "admin is the last administrator with ALL SECTIONS (*); it cannot be deleted"
    assert pbx_rw.snapshot() == before
    # Partial admins can go.
    assert pbx_rw.delete("ampusers/auditor").status_code == 200


def test_create_then_delete_restores_everything(pbx_rw):
    before = pbx_rw.snapshot()
    assert pbx_rw.post("ampusers/add", data={"username": "ghost", "password": "g", "sections": '["*"]'}
                       ).status_code == 201
    assert pbx_rw.delete("ampusers/ghost").status_code == 200
    assert pbx_rw.snapshot() == before


def _concurrently(pbx, calls):
    """Run [(method, path, data)] at the same moment from threads; status codes in order."""
    results = [None] * len(calls)
    barrier = threading.Barrier(len(calls), timeout=30)

    def worker(i, method, path, data):
        client = pbx.app.test_client()
        barrier.wait()
        r = getattr(client, method)("/api/v1/" + path, data=data, headers=pbx.auth)
        results[i] = r.status_code

    threads = [threading.Thread(target=worker, args=(i,) + c) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_deletes_of_the_last_two_full_admins(pbx_rw):
    for round_ in range(5):
        name = "backup%d" % round_
        assert pbx_rw.post("ampusers/add", data={"username": name, "password": "x",
                                                 "sections": '["*"]'}).status_code == 201
        full = [r["username"] for r in pbx_rw.sql("SELECT username, sections FROM ampusers")
                if "*" in r["sections"].decode().split(";")]
        assert len(full) == 2
        codes = _concurrently(pbx_rw, [("delete", "ampusers/" + full[0], None),
                                       ("delete", "ampusers/" + full[1], None)])
        assert sorted(codes) == [200, 409]
        left = [r["username"] for r in pbx_rw.sql("SELECT username, sections FROM ampusers")
                if "*" in r["sections"].decode().split(";")]
        assert len(left) == 1


def test_concurrent_demote_and_delete_keep_one_full_admin(pbx_rw):
    assert pbx_rw.post("ampusers/add", data={"username": "backup", "password": "x",
                                             "sections": '["*"]'}).status_code == 201
    codes = _concurrently(pbx_rw, [("put", "ampusers/admin", {"password": "x", "sections": '["cdr"]'}),
                                   ("delete", "ampusers/backup", None)])
    assert sorted(codes) == [200, 409]
    full = [r["username"] for r in pbx_rw.sql("SELECT username, sections FROM ampusers")
            if "*" in r["sections"].decode().split(";")]
    assert len(full) == 1
