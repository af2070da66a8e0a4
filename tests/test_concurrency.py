"""Concurrency under a real gunicorn (3 gthread workers x 8 threads: requests
race inside one process *and* across processes, so both the in-process locks
and the cross-process ones — MariaDB named locks, row locks, flock on
voicemail.conf — are exercised).

Every race starts its clients on a barrier so they hit the server together."""
from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Dict, List, Tuple

import pytest
import requests

from rfapi.services import vmconf
from tests.support import dbworld, world
from tests.support.procs import Gunicorn

CLIENTS = 20


@pytest.fixture(scope="module")
def served(office_db, tmp_path_factory):
    clone = dbworld.clone_world(office_db)
    root = tmp_path_factory.mktemp("concurrency")
    pbx = world.build(root / "pbx", clone)
    server = Gunicorn(root / "gunicorn", ini=pbx.ini, workers=3, threads=8)
    try:
        server.start().wait_ready()
        yield pbx, server
    finally:
        server.stop()
        pbx.close()
        dbworld.drop_world(clone)


def race(n: int, fn: Callable[[int], Tuple[int, dict]]) -> List[Tuple[int, dict]]:
    """Run fn(0..n-1) in n threads released together; results in index order."""
    barrier = threading.Barrier(n, timeout=60)

    def run(i):
        barrier.wait(10)
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def call(server, pbx, method, path, **kw) -> Tuple[int, dict]:
    r = requests.request(method, server.url + "/api/v1/" + path, headers=pbx.auth, timeout=60, **kw)
    return r.status_code, r.json()


def ext_params(n: str, **extra) -> Dict[str, str]:
    p = {"extension": n, "exttype": "pjsip", "displayname": "Racer %s" % n, "secret": "Race-Secret-%s-xyz" % n,
         "voicemail": "yes", "voicemailpassword": "4321", "email": "racer%s@example.com" % n,
         "outboundcid": "2125550147"}
    p.update(extra)
    return p


def extension_state(pbx, n: str) -> dict:
    """Every trace of extension n, with the number itself replaced by N (to compare extensions)."""
    def norm(v):
        return re.sub(r"(?<![0-9])%s(?![0-9])" % n, "N", v) if isinstance(v, str) else v

    users = pbx.sql("SELECT * FROM users WHERE extension = %s", (n,))
    devices = pbx.sql("SELECT * FROM devices WHERE id = %s", (n,))
    sip = pbx.sql("SELECT keyword, data, flags FROM sip WHERE id = %s ORDER BY keyword", (n,))
    with pbx.peer.lock:
        astdb = {norm(k): norm(v) for k, v in pbx.peer.astdb.items() if "/%s/" % n in k or k.endswith("/%s" % n)}
    text = pbx.voicemail_conf.read_text()
    vm_lines = [norm(line) for line in text.splitlines() if line.split("=", 1)[0].split("@")[0] == n]
    return {"users": [{k: norm(v) for k, v in r.items()} for r in users],
            "devices": [{k: norm(v) for k, v in r.items()} for r in devices],
            "sip": [tuple(norm(x) for x in (r["keyword"], r["data"], r["flags"])) for r in sip],
            "astdb": astdb, "vm_lines": vm_lines}


def assert_vmconf_is_original_plus(original: str, now: str, added: List[str]) -> None:
    """Line by line: every original line still there, in order, and exactly the added lines besides."""
    lines = now.splitlines()
    it = iter(lines)
    missing = [line for line in original.splitlines() if not any(line == x for x in it)]
    assert missing == [], "original lines lost or reordered: %r" % missing[:5]
    extra = list(lines)
    for line in original.splitlines():
        extra.remove(line)
    assert sorted(extra) == sorted(added)
    assert now.endswith("\n") and "\r" not in now and "\x00" not in now
    vmconf.mailboxes(now)  # parses


def test_twenty_clients_create_the_same_extension(served):
    pbx, server = served
    original = pbx.voicemail_conf.read_text()
    results = race(CLIENTS, lambda i: call(server, pbx, "POST", "extension/add", data=ext_params("3100")))
    statuses = sorted(s for s, _ in results)
    assert statuses == [201] + [409] * (CLIENTS - 1), [(s, b["message"]) for s, b in results]
    for s, b in results:
        if s == 409:
            assert b["message"] in ("Number 3100 is already used by an extension",
                                    "Another change to extension 3100 is still in progress; try again"), b
    state = extension_state(pbx, "3100")
    assert len(state["users"]) == 1 and len(state["devices"]) == 1
    assert len(state["sip"]) == len({k for k, _, _ in state["sip"]})  # no keyword twice
    assert state["vm_lines"] == ["N=4321,Racer N,racerN@example.com,,attach=no|saycid=no|envelope=no|delete=no",
                                 "N@device=N@default"]
    assert_vmconf_is_original_plus(original, pbx.voicemail_conf.read_text(),
                                   [l.replace("N", "3100") for l in state["vm_lines"]])


def test_twenty_clients_create_different_extensions_and_then_delete_them(served):
    pbx, server = served
    status, b = call(server, pbx, "POST", "extension/add", data=ext_params("3200"))
    assert status == 201, b
    reference = extension_state(pbx, "3200")
    assert reference["users"] and reference["sip"] and reference["astdb"]
    original = pbx.voicemail_conf.read_text()
    numbers = [str(3201 + i) for i in range(CLIENTS)]

    results = race(CLIENTS, lambda i: call(server, pbx, "POST", "extension/add", data=ext_params(numbers[i])))
    assert [s for s, _ in results] == [201] * CLIENTS, [(s, b["message"]) for s, b in results if s != 201]
    for i, n in enumerate(numbers):
        assert results[i][1]["data"]["extension"] == n
        assert extension_state(pbx, n) == reference, n
    added = [line.replace("N", n) for n in numbers for line in reference["vm_lines"]]
    assert_vmconf_is_original_plus(original, pbx.voicemail_conf.read_text(), added)
    listed = {e["extension"] for e in call(server, pbx, "GET", "extensions")[1]["data"]}
    assert set(numbers) <= listed

    results = race(CLIENTS, lambda i: call(server, pbx, "DELETE", "extension/" + numbers[i]))
    assert [s for s, _ in results] == [200] * CLIENTS, [(s, b["message"]) for s, b in results if s != 200]
    for n in numbers:
        gone = extension_state(pbx, n)
        assert gone == {"users": [], "devices": [], "sip": [], "astdb": {}, "vm_lines": []}, n
    assert pbx.voicemail_conf.read_text() == original


def test_concurrent_follow_me_edits_never_lose_an_update(served):
    pbx, server = served
    ext = "104"  # no follow-me group yet: the first writer creates it
    numbers = ["555%04d" % (7000 + i) for i in range(CLIENTS)]
    results = race(CLIENTS, lambda i: call(server, pbx, "POST", "followme/" + ext,
                                           data={"action": "addExternal", "number": numbers[i]}))
    assert [s for s, _ in results] == [200] * CLIENTS, [(s, b["message"]) for s, b in results if s != 200]
    assert sum(1 for _, b in results if b["data"]["created"]) == 1
    expected = {ext} | {n + "#" for n in numbers}
    sql = pbx.sql("SELECT grplist FROM findmefollow WHERE grpnum = %s", (ext,))
    assert len(sql) == 1
    entries = sql[0]["grplist"].split("-")
    assert sorted(entries) == sorted(expected) and entries[0] == ext
    with pbx.peer.lock:
        assert pbx.peer.astdb["/AMPUSER/%s/followme/grplist" % ext] == sql[0]["grplist"]
    assert sorted(call(server, pbx, "GET", "followme/" + ext)[1]["data"]) == sorted(expected)

    # Half remove their number while the other half toggle on/off: every removal sticks.
    def mixed(i):
        if i % 2 == 0:
            return call(server, pbx, "POST", "followme/" + ext, data={"action": "removeExternal", "number": numbers[i]})
        return call(server, pbx, "POST", "followme/" + ext, data={"action": "enable" if i % 4 == 1 else "disable"})

    results = race(CLIENTS, mixed)
    assert [s for s, _ in results] == [200] * CLIENTS, [(s, b["message"]) for s, b in results if s != 200]
    kept = {ext} | {numbers[i] + "#" for i in range(CLIENTS) if i % 2}
    grplist = pbx.sql("SELECT grplist FROM findmefollow WHERE grpnum = %s", (ext,))[0]["grplist"]
    assert sorted(grplist.split("-")) == sorted(kept)
    with pbx.peer.lock:
        assert pbx.peer.astdb["/AMPUSER/%s/followme/grplist" % ext] == grplist
        assert pbx.peer.astdb["/AMPUSER/%s/followme/ddial" % ext] in ("DIRECT", "EXTENSION")
