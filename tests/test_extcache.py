"""GET /extensions[/<ext>] from the shared cache file, its invalidation (TTL,
invalidate() across processes, FreePBX tables or voicemail.conf changed behind
our back) and POST /cache/<context>."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.support import office
from tests.support.world import body
from tests.test_extensions_helpers import office_readback

REPO = Path(__file__).resolve().parents[1]


def expected_entry(e):
    return office_readback(e, base_entry(e))


def base_entry(e):
    return {
        "extension": e["number"], "name": e["name"], "tech": e["tech"], "voicemail": e["voicemail"],
        "voicemail_context": "default" if e["voicemail"] else None,
        "email": e["email"] if e["voicemail"] else None, "outboundcid": e["outboundcid"] or None,
        "emergencycid": e["emergency_cid"] or None, "followme": e["followme"],
        "followme_enabled": e["followme_enabled"],
        "recording": {"recExternalIn": "dontcare", "recExternalOut": "dontcare", "recInternalIn": "dontcare",
                      "recInternalOut": "dontcare", "recOndemand": "disabled", "recPriority": 10},
    }


def gettrees(pbx):
    return [a for a in pbx.peer.actions if a.name == "DBGetTree" and a.get("Family") == "AMPUSER" and not a.get("Key")]


def cache_file(pbx) -> Path:
    return pbx.cache / "extensions.json"


def test_listing_matches_the_office(pbx):
    r = pbx.get("extensions")
    assert r.status_code == 200
    assert body(r)["data"] == [expected_entry(e) for e in office.EXTENSIONS]
    assert len(gettrees(pbx)) == 1  # one DBGetTree for every extension's AstDB
    r = pbx.get("extensions/105")
    assert body(r)["data"] == expected_entry(office.EXTENSIONS_BY_NUMBER["105"])
    assert len(gettrees(pbx)) == 1  # served from the cache
    doc = json.loads(cache_file(pbx).read_text())
    assert doc["format"] == 2 and len(doc["extensions"]) == 16
    assert [t for t, _ in doc["fingerprint"][0]] == ["users", "devices", "findmefollow"]


def test_unknown_extension_is_404(pbx):
    r = pbx.get("extensions/999")
    assert r.status_code == 404 and body(r)["message"] == "Extension 999 not found"
    assert pbx.get("extensions/abc").status_code == 404


def test_followme_enabled_follows_astdb_ddial(pbx):
    data = {e["extension"]: e for e in body(pbx.get("extensions"))["data"]}
    assert (data["101"]["followme"], data["101"]["followme_enabled"]) == (True, True)
    assert (data["103"]["followme"], data["103"]["followme_enabled"]) == (True, False)
    assert (data["104"]["followme"], data["104"]["followme_enabled"]) == (False, False)


def test_rebuilt_when_freepbx_tables_change_behind_our_back(pbx_rw):
    assert body(pbx_rw.get("extensions/101"))["data"]["name"] == "Alice Johnson"
    pbx_rw.sql("UPDATE users SET name = 'Alicia Johnson' WHERE extension = '101'")
    assert body(pbx_rw.get("extensions/101"))["data"]["name"] == "Alicia Johnson"
    assert len(gettrees(pbx_rw)) == 2
    pbx_rw.sql("UPDATE devices SET emergency_cid = '5552230104' WHERE id = '104'")
    assert body(pbx_rw.get("extensions/104"))["data"]["emergencycid"] == "5552230104"
    pbx_rw.sql("DELETE FROM findmefollow WHERE grpnum = '103'")
    assert body(pbx_rw.get("extensions/103"))["data"]["followme"] is False
    assert len(gettrees(pbx_rw)) == 4


def test_rebuilt_when_voicemail_conf_changes(pbx_rw):
    assert body(pbx_rw.get("extensions/102"))["data"]["email"] == "bob.smith@bayviewdental.example"
    text = pbx_rw.voicemail_conf.read_text().replace("bob.smith@", "robert.smith@")
    pbx_rw.voicemail_conf.write_text(text)
    assert body(pbx_rw.get("extensions/102"))["data"]["email"] == "robert.smith@bayviewdental.example"


def test_ttl_expiry_rebuilds(pbx_rw):
    pbx_rw.get("extensions")
    with pbx_rw.peer.lock:  # an AstDB-only change is only seen after the TTL
        pbx_rw.peer.astdb["/AMPUSER/104/recording/priority"] = "5"
    assert body(pbx_rw.get("extensions/104"))["data"]["recording"]["recPriority"] == 10
    doc = json.loads(cache_file(pbx_rw).read_text())
    doc["built_at"] = time.time() - 301  # default TTL: 300 s
    cache_file(pbx_rw).write_text(json.dumps(doc))
    assert body(pbx_rw.get("extensions/104"))["data"]["recording"]["recPriority"] == 5


def test_configured_ttl(pbx_rw):
    pbx_rw.ini.write_text(pbx_rw.ini.read_text().replace("[api]\n", "[api]\ncache_ttl = 0\n"))
    pbx_rw.get("extensions")
    pbx_rw.get("extensions")
    assert len(gettrees(pbx_rw)) == 2  # TTL 0: every read rebuilds


def test_write_through_the_api_invalidates(pbx_rw):
    assert pbx_rw.get("extensions/150").status_code == 404
    assert pbx_rw.post("extension/add", data={"extension": "150", "exttype": "virtual",
                                              "displayname": "New"}).status_code == 201
    assert body(pbx_rw.get("extensions/150"))["data"]["name"] == "New"
    assert pbx_rw.delete("extension/150").status_code == 200
    assert pbx_rw.get("extensions/150").status_code == 404


def test_invalidate_works_across_processes(pbx_rw):
    assert len(body(pbx_rw.get("extensions"))["data"]) == 16
    # Another worker process changes AstDB only (invisible to the fingerprint) and calls invalidate().
    with pbx_rw.peer.lock:
        pbx_rw.peer.astdb["/AMPUSER/101/recording/ondemand"] = "enabled"
    code = ("from rfapi import create_app\nfrom rfapi.services import extcache\n"
            "app = create_app(%r)\nwith app.test_request_context():\n    extcache.invalidate()\n" % str(pbx_rw.ini))
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(REPO), timeout=60,
                   stdout=subprocess.DEVNULL)
    assert body(pbx_rw.get("extensions/101"))["data"]["recording"]["recOndemand"] == "enabled"


def test_change_during_rebuild_still_invalidates(pbx_rw):
    """A rebuild records the generation it started with: an invalidate() racing it wins."""
    from rfapi.services import extcache

    with pbx_rw.app.test_request_context():
        orig_build = extcache.build

        def slow_build():
            out = orig_build()
            extcache.invalidate()  # a write lands while we were reading
            return out

        extcache.build = slow_build
        try:
            extcache.reload()
        finally:
            extcache.build = orig_build
    pbx_rw.get("extensions")
    assert len(gettrees(pbx_rw)) == 2


def test_concurrent_rebuilds_and_reads_never_see_a_broken_file(pbx_rw):
    results = []

    def worker(i):
        if i % 2:
            r = pbx_rw.post("cache/extensions", data={"action": "reload"})
            results.append((r.status_code, body(r)["data"]["extensions"]))
        else:
            r = pbx_rw.get("extensions")
            results.append((r.status_code, len(body(r)["data"])))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [(200, 16)] * 12
    assert len(json.loads(cache_file(pbx_rw).read_text())["extensions"]) == 16
    assert [p.name for p in pbx_rw.cache.iterdir() if p.name.endswith(".tmp")] == []


def test_post_cache_reload(pbx):
    r = pbx.post("cache/extensions", data={"action": "reload"})
    assert r.status_code == 200
    assert body(r) == {"status": 200, "message": "Reloaded", "data": {"context": "extensions", "extensions": 16}}
    assert len(gettrees(pbx)) == 1


def test_post_cache_bad_context_or_action(pbx):
    r = pbx.post("cache/users", data={"action": "reload"})
    assert r.status_code == 400
    assert body(r)["data"]["errors"] == {"context": "must be one of: extensions"}
    r = pbx.post("cache/extensions", data={"action": "flush"})
    assert r.status_code == 400
    assert body(r)["data"]["errors"] == {"action": "must be one of: reload"}
    r = pbx.post("cache/extensions")
    assert body(r)["data"]["errors"] == {"action": "is required"}


def test_cache_route_methods(pbx):
    for method in ("GET", "PUT", "DELETE"):
        r = pbx.call(method, "cache/extensions")
        assert r.status_code == 405 and r.headers["Allow"] == "POST", method


def test_ami_down_lists_without_recording_for_a_short_while(pbx):
    port = pbx.peer.port
    pbx.peer.stop()
    r = pbx.get("extensions")
    assert r.status_code == 200
    data = body(r)["data"]
    assert len(data) == 16
    assert all(e["recording"] is None and e["followme_enabled"] is None for e in data)
    e101 = office.EXTENSIONS_BY_NUMBER["101"]
    want = office_readback(e101, dict(base_entry(e101), recording=None, followme_enabled=None))
    assert data[0] == want
    doc = json.loads(cache_file(pbx).read_text())
    assert doc["partial"] is True
    # Kept at most 30 s (not the 300 s TTL): then rebuilt, with AstDB once it is back.
    pbx.peer.port = port
    pbx.peer.start()
    time.sleep(1.1)  # the AMI adapter retries a failed connection at most once a second
    doc["built_at"] = time.time() - 31
    cache_file(pbx).write_text(json.dumps(doc))
    assert body(pbx.get("extensions/101"))["data"] == expected_entry(office.EXTENSIONS_BY_NUMBER["101"])
    assert json.loads(cache_file(pbx).read_text())["partial"] is False


def test_existing_valid_cache_is_served_while_ami_is_down(pbx):
    pbx.get("extensions")
    pbx.peer.stop()
    data = body(pbx.get("extensions"))["data"]
    assert data[0] == expected_entry(office.EXTENSIONS_BY_NUMBER["101"])


def test_database_outage_serves_a_cache_within_its_ttl(pbx):
    from tests.support import dbworld
    from tests.support.tcprelay import TcpRelay

    a = dbworld.server_args()
    relay = TcpRelay(a["host"], a["port"]).start()
    try:
        pbx.ini.write_text(pbx.ini.read_text().replace("port = %s\n" % a["port"], "port = %s\n" % relay.port, 1)
                           .replace("host = %s\n" % a["host"], "host = 127.0.0.1\n", 1))
        assert len(body(pbx.get("extensions"))["data"]) == 16
        relay.cut()
        r = pbx.get("extensions/101")
        assert r.status_code == 200
        assert body(r)["data"] == expected_entry(office.EXTENSIONS_BY_NUMBER["101"])
        # Once the TTL is over (or after invalidate), the outage shows: 503.
        doc = json.loads(cache_file(pbx).read_text())
        doc["built_at"] = time.time() - 301
        cache_file(pbx).write_text(json.dumps(doc))
        assert pbx.get("extensions").status_code == 503
    finally:
        relay.cut()
