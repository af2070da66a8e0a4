"""Follow Me: GET /followme/<ext>[/status|/<entry>], POST /followme/<ext> with action.

Rows and AstDB keys are compared with what findmefollow 17 writes
(Findmefollow::add, addSettingsById; WRITES.md §1.8, §5)."""
from __future__ import annotations

import threading
import time

import pytest
from tests.support.world import body, need_reload


FM_COLUMNS = ("grpnum", "strategy", "grptime", "grppre", "grplist", "annmsg_id", "postdest", "dring", "rvolume",
              "remotealert_id", "needsconf", "toolate_id", "pre_ring", "ringing", "calendar_enable", "calendar_id",
              "calendar_group_id", "calendar_match")


def fm_row(pbx, ext):
    rows = pbx.sql("SELECT %s FROM findmefollow WHERE grpnum = %%s" % ", ".join(FM_COLUMNS), (ext,))
    return rows[0] if rows else None


def fm_keys(pbx, ext):
    prefix = "/AMPUSER/%s/followme/" % ext
    with pbx.peer.lock:
        return {k[len(prefix):]: v for k, v in pbx.peer.astdb.items() if k.startswith(prefix)}


def astdb(pbx, key):
    with pbx.peer.lock:
        return pbx.peer.astdb.get(key)


def act(pbx, ext, **data):
    return pbx.post("followme/%s" % ext, data=data)


def default_row(ext, grplist, strategy="ringallv2-prim", grptime=20, pre_ring=7):
    return {"grpnum": ext, "strategy": strategy, "grptime": grptime, "grppre": "", "grplist": grplist,
            "annmsg_id": None, "postdest": "ext-local,%s,dest" % ext, "dring": "", "rvolume": "",
            "remotealert_id": None, "needsconf": "", "toolate_id": None, "pre_ring": pre_ring, "ringing": "Ring",
            "calendar_enable": 0, "calendar_id": "", "calendar_group_id": "", "calendar_match": "yes"}


def default_keys(ext, grplist, ddial, strategy="ringallv2-prim", grptime="20", prering="7"):
    # The 16 keys Findmefollow::add (17) puts, values of its defaults.
    return {"strategy": strategy, "prering": prering, "grptime": grptime, "grplist": grplist, "grppre": "",
            "rvolume": "", "dring": "", "annmsg": "", "remotealertmsg": "", "toolatemsg": "",
            "postdest": "ext-local,%s,dest" % ext, "ringing": "Ring", "grpconf": "DISABLED", "ddial": ddial,
            "changecid": "default", "fixedcid": ""}


# -- reads ------------------------------------------------------------------------
def test_list_of_configured_and_unconfigured_extensions(pbx):
    assert body(pbx.get("followme/101"))["data"] == ["101", "5558675309#"]
    assert body(pbx.get("followme/107"))["data"] == ["107", "102", "5552223333#"]
    assert body(pbx.get("followme/191"))["data"] == ["5554443333#"]
    r = pbx.get("followme/104")
    assert r.status_code == 200 and body(r)["data"] == []
    r = pbx.get("followme/999")
    assert r.status_code == 404 and body(r)["message"] == "Extension 999 not found"


def test_list_prefers_astdb_like_freepbx(pbx):
    with pbx.peer.lock:
        pbx.peer.astdb["/AMPUSER/101/followme/grplist"] = "101-5550001111#"
    assert body(pbx.get("followme/101"))["data"] == ["101", "5550001111#"]


def test_status(pbx):
    r = pbx.get("followme/107/status")
    assert r.status_code == 200
    assert body(r)["data"] == {"extension": "107", "configured": True, "enabled": True, "ddial": "DIRECT",
                               "grptime": 25, "prering": 5, "strategy": "hunt",
                               "grplist": ["107", "102", "5552223333#"]}
    d = body(pbx.get("followme/103/status"))["data"]
    assert (d["configured"], d["enabled"], d["ddial"]) == (True, False, "EXTENSION")
    assert body(pbx.get("followme/104/status"))["data"] == {
        "extension": "104", "configured": False, "enabled": False, "ddial": None, "grptime": None, "prering": None,
        "strategy": None, "grplist": []}
    assert pbx.get("followme/999/status").status_code == 404


def test_status_without_row_is_disabled_whatever_astdb_says(pbx):
    with pbx.peer.lock:
        pbx.peer.astdb["/AMPUSER/104/followme/ddial"] = "DIRECT"
        pbx.peer.astdb["/AMPUSER/104/followme/grplist"] = "104-5551234567#"
    d = body(pbx.get("followme/104/status"))["data"]
    assert d["enabled"] is False and d["configured"] is False and d["grplist"] == []


def test_entry_membership(pbx):
    assert body(pbx.get("followme/101/5558675309"))["data"] is True
    assert body(pbx.get("followme/101/5558675309%23"))["data"] is True
    assert body(pbx.get("followme/101/101"))["data"] is True
    assert body(pbx.get("followme/107/102"))["data"] is True
    assert body(pbx.get("followme/101/5550000000"))["data"] is False
    assert body(pbx.get("followme/104/104"))["data"] is False
    r = pbx.get("followme/101/abc")
    assert r.status_code == 400 and "entry" in body(r)["data"]["errors"]
    assert pbx.get("followme/999/101").status_code == 404


# -- add / remove ------------------------------------------------------------------
def test_add_external_to_existing_group(pbx_rw):
    keys_before = fm_keys(pbx_rw, "101")
    r = act(pbx_rw, "101", action="addExternal", number="(555) 111-2222")
    assert r.status_code == 200, body(r)
    d = body(r)["data"]
    assert d["grplist"] == ["101", "5558675309#", "5551112222#"] and d["created"] is False and d["enabled"]
    want_row = default_row("101", "101-5558675309#-5551112222#")
    assert fm_row(pbx_rw, "101") == want_row
    assert fm_keys(pbx_rw, "101") == dict(keys_before, grplist="101-5558675309#-5551112222#")
    # The dialplan reads the list from AstDB at call time: no Apply Config needed (FreePBX sets none).
    assert need_reload(pbx_rw) == "false"


def test_add_internal_extension_stays_bare_unless_forced(pbx_rw):
    assert act(pbx_rw, "101", action="addExternal", number="102").status_code == 200
    assert act(pbx_rw, "101", action="addExternal", number="105#").status_code == 200
    assert act(pbx_rw, "101", action="addExternal", number="+4930123#").status_code == 200
    assert act(pbx_rw, "101", action="addExternal", number="*98").status_code == 200
    want = "101-5558675309#-102-105#-+4930123#-*98#"
    assert fm_row(pbx_rw, "101")["grplist"] == want
    assert fm_keys(pbx_rw, "101")["grplist"] == want


def test_add_existing_number_changes_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    for number in ("5558675309", "5558675309#", "555.867.5309", "101", "101#"):
        r = act(pbx_rw, "101", action="addExternal", number=number)
        assert r.status_code == 200
        assert body(r)["data"]["grplist"] == ["101", "5558675309#"]
        assert "already in the follow-me list" in body(r)["message"]
    assert pbx_rw.snapshot() == before


def test_own_extension_is_never_external(pbx_rw):
    assert act(pbx_rw, "191", action="addExternal", number="191#").status_code == 200
    assert fm_keys(pbx_rw, "191")["grplist"] == "5554443333#-191"


def test_remove_external(pbx_rw):
    r = act(pbx_rw, "107", action="removeExternal", number="5552223333")
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["grplist"] == ["107", "102"]
    assert fm_row(pbx_rw, "107")["grplist"] == "107-102"
    assert fm_keys(pbx_rw, "107")["grplist"] == "107-102"
    assert need_reload(pbx_rw) == "false"
    # Removing the last entry leaves the extension itself (FreePBX never stores an empty list).
    r = act(pbx_rw, "191", action="removeExternal", number="5554443333#")
    assert r.status_code == 200
    assert fm_row(pbx_rw, "191")["grplist"] == "191" and fm_keys(pbx_rw, "191")["grplist"] == "191"


def test_remove_missing_number_or_group_is_404_and_writes_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    r = act(pbx_rw, "101", action="removeExternal", number="5550000000")
    assert r.status_code == 404
    assert body(r)["message"] == "5550000000 is not in the follow-me list of extension 101"
    r = act(pbx_rw, "104", action="removeExternal", number="5550000000")
    assert r.status_code == 404 and body(r)["message"] == "Follow-me is not configured for extension 104"
    r = act(pbx_rw, "999", action="enable")
    assert r.status_code == 404 and body(r)["message"] == "Extension 999 not found"
    assert pbx_rw.snapshot() == before


def test_add_then_remove_restores_everything(pbx_rw):
    before = pbx_rw.snapshot()
    assert act(pbx_rw, "101", action="addExternal", number="5557778888").status_code == 200
    assert act(pbx_rw, "101", action="removeExternal", number="5557778888").status_code == 200
    assert need_reload(pbx_rw) == "false"
    assert pbx_rw.snapshot() == before


# -- enable / disable ------------------------------------------------------------------
def test_enable_existing_group_is_astdb_only(pbx_rw):
    row_before = fm_row(pbx_rw, "103")
    keys_before = fm_keys(pbx_rw, "103")
    r = act(pbx_rw, "103", action="enable")
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["enabled"] is True and body(r)["data"]["ddial"] == "DIRECT"
    assert fm_keys(pbx_rw, "103") == dict(keys_before, ddial="DIRECT")
    assert astdb(pbx_rw, "/CustomDevstate/FOLLOWME103") == "BUSY"
    assert fm_row(pbx_rw, "103") == row_before
    # Like the *21 feature code: read at call time, no reload needed.
    assert need_reload(pbx_rw) == "false"
    assert body(pbx_rw.get("followme/103/status"))["data"]["enabled"] is True


def test_disable_existing_group(pbx_rw):
    keys_before = fm_keys(pbx_rw, "101")
    r = act(pbx_rw, "101", action="disable")
    assert r.status_code == 200
    assert body(r)["data"]["enabled"] is False
    assert fm_keys(pbx_rw, "101") == dict(keys_before, ddial="EXTENSION")
    assert astdb(pbx_rw, "/CustomDevstate/FOLLOWME101") == "NOT_INUSE"
    # Again: nothing left to change.
    before = pbx_rw.snapshot()
    r = act(pbx_rw, "101", action="disable")
    assert r.status_code == 200 and body(r)["message"] == "Follow-me is already disabled"
    assert pbx_rw.snapshot() == before


def test_disable_unconfigured_changes_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    r = act(pbx_rw, "104", action="disable")
    assert r.status_code == 200
    assert body(r)["data"]["configured"] is False and body(r)["data"]["created"] is False
    assert pbx_rw.snapshot() == before


def test_enable_unconfigured_creates_group_with_defaults(pbx_rw):
    r = act(pbx_rw, "104", action="enable")
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == {"extension": "104", "configured": True, "enabled": True, "ddial": "DIRECT",
                               "grptime": 20, "prering": 7, "strategy": "ringallv2-prim", "grplist": ["104"],
                               "created": True}
    assert fm_row(pbx_rw, "104") == default_row("104", "104")
    assert fm_keys(pbx_rw, "104") == default_keys("104", "104", "DIRECT")
    assert astdb(pbx_rw, "/CustomDevstate/FOLLOWME104") == "BUSY"
    assert need_reload(pbx_rw) == "true"
    assert body(pbx_rw.get("followme/104/status"))["data"]["enabled"] is True


def test_add_external_unconfigured_creates_disabled_group(pbx_rw):
    r = act(pbx_rw, "106", action="addExternal", number="5553334444")
    assert r.status_code == 200
    assert body(r)["data"]["created"] is True and body(r)["data"]["enabled"] is False
    assert fm_row(pbx_rw, "106") == default_row("106", "106-5553334444#")
    # FOLLOWME_DISABLED is true on the box: new groups start disabled.
    assert fm_keys(pbx_rw, "106") == default_keys("106", "106-5553334444#", "EXTENSION")
    assert astdb(pbx_rw, "/CustomDevstate/FOLLOWME106") == "NOT_INUSE"


def test_creation_reads_followme_settings_of_the_box(pbx_rw):
    for k, v in (("FOLLOWME_DISABLED", "0"), ("FOLLOWME_TIME", "30"), ("FOLLOWME_PRERING", "10"),
                 ("FOLLOWME_RG_STRATEGY", "hunt")):
        pbx_rw.sql("UPDATE freepbx_settings SET value = %s WHERE keyword = %s", (v, k))
    pbx_rw.app.extensions["rfapi"].settings.invalidate()
    r = act(pbx_rw, "104", action="addExternal", number="5553334444")
    assert r.status_code == 200
    assert fm_row(pbx_rw, "104") == default_row("104", "104-5553334444#", "hunt", 30, 10)
    assert fm_keys(pbx_rw, "104") == default_keys("104", "104-5553334444#", "DIRECT", "hunt", "30", "10")


def test_virtual_extension_without_device_key(pbx_rw):
    with pbx_rw.peer.lock:
        pbx_rw.peer.astdb.pop("/AMPUSER/190/device", None)
    r = act(pbx_rw, "190", action="enable")
    assert r.status_code == 200
    with pbx_rw.peer.lock:
        assert not any(k.startswith("/CustomDevstate/FOLLOWME190") or k == "/CustomDevstate/FOLLOWME"
                       for k in pbx_rw.peer.astdb)


# -- validation ---------------------------------------------------------------------------
@pytest.mark.parametrize("data,field", [
    ({}, "action"),
    ({"action": "toggle"}, "action"),
    ({"action": "addExternal"}, "number"),
    ({"action": "removeExternal", "number": ""}, "number"),
    ({"action": "addExternal", "number": "abc"}, "number"),
    ({"action": "addExternal", "number": "555#1"}, "number"),
    ({"action": "addExternal", "number": "#"}, "number"),
    ({"action": "addExternal", "number": "5" * 41}, "number"),
    ({"action": "enable", "number": "5551112222"}, "number"),
    ({"action": "addExternal", "number": "5551112222", "grptime": "30"}, "grptime"),
])
def test_validation_failure_writes_nothing(pbx_rw, data, field):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("followme/104", data=data)
    assert r.status_code == 400, body(r)
    assert field in body(r)["data"]["errors"]
    r = pbx_rw.post("followme/101", data=data)
    assert r.status_code == 400
    assert pbx_rw.snapshot() == before


def test_list_longer_than_the_column_is_refused(pbx_rw):
    for i in range(21):  # 21 x "55500000NN#-" = 252 chars + "101-5558675309#"
        r = act(pbx_rw, "101", action="addExternal", number="55500000%02d" % i)
        if r.status_code != 200:
            break
    before = pbx_rw.snapshot()
    assert r.status_code == 400
    assert body(r)["data"]["errors"]["number"] == "the follow-me list would exceed 255 characters"
    assert len(fm_row(pbx_rw, "101")["grplist"]) <= 255
    assert pbx_rw.snapshot() == before


# -- concurrency and failures ---------------------------------------------------------------
@pytest.mark.parametrize("ext", ["104", "101"])
def test_concurrent_adds_lose_nothing(pbx_rw, ext):
    numbers = ["55560000%02d" % i for i in range(10)]
    results = []
    barrier = threading.Barrier(len(numbers), timeout=30)

    def worker(number):
        client = pbx_rw.app.test_client()
        barrier.wait()
        r = client.post("/api/v1/followme/%s" % ext, data={"action": "addExternal", "number": number},
                        headers=pbx_rw.auth)
        results.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 10
    sql_list = fm_row(pbx_rw, ext)["grplist"].split("-")
    astdb_list = fm_keys(pbx_rw, ext)["grplist"].split("-")
    assert sql_list == astdb_list
    assert sorted(sql_list) == sorted(([ext] if ext == "104" else ["101", "5558675309#"]) +
                                      [n + "#" for n in numbers])
    if ext == "104":
        assert len(pbx_rw.sql("SELECT grpnum FROM findmefollow WHERE grpnum = '104'")) == 1
        assert fm_keys(pbx_rw, "104") == default_keys("104", "-".join(astdb_list), "EXTENSION")


def _fail_nth_dbput(peer, n, mode):
    """Make the peer's n-th DBPut fail once: "drop" closes the connection without an
    answer (Asterisk went away), "stall" never answers (Asterisk hung)."""
    original = peer._handlers["dbput"]
    seen = {"n": 0}

    def handler(conn, action, aid):
        seen["n"] += 1
        if seen["n"] == n:
            return mode != "drop"
        return original(conn, action, aid)

    peer._handlers["dbput"] = handler
    return seen


@pytest.mark.parametrize("mode,status", [("drop", 503), ("stall", 504)])
def test_ami_failure_mid_creation_leaves_no_half_state(pbx_rw, mode, status):
    before = pbx_rw.snapshot()
    seen = _fail_nth_dbput(pbx_rw.peer, 6, mode)
    t0 = time.monotonic()
    r = act(pbx_rw, "104", action="enable")
    assert r.status_code == status, body(r)
    assert seen["n"] >= 6  # five keys were written before the failure, then undone
    assert pbx_rw.snapshot() == before  # SQL rolled back, AstDB restored
    assert time.monotonic() - t0 < 10
    # Asterisk is back: the same request now works.
    r = act(pbx_rw, "104", action="enable")
    assert r.status_code == 200 and fm_row(pbx_rw, "104") is not None


def test_ami_failure_mid_update_restores_old_values(pbx_rw):
    before = pbx_rw.snapshot()
    _fail_nth_dbput(pbx_rw.peer, 2, "drop")  # ddial written, the devstate key fails
    r = act(pbx_rw, "103", action="enable")
    assert r.status_code == 503
    assert pbx_rw.snapshot() == before
    assert fm_keys(pbx_rw, "103")["ddial"] == "EXTENSION"


def test_ami_down_is_503_and_writes_nothing(pbx_rw):
    before_db = pbx_rw.snapshot()["db"]
    pbx_rw.peer.stop()
    r = act(pbx_rw, "101", action="addExternal", number="5551112222")
    assert r.status_code == 503
    assert pbx_rw.get("followme/101").status_code == 503
    assert pbx_rw.snapshot()["db"] == before_db
