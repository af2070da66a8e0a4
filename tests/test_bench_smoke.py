"""The benchmark harness (tests/bench) in its tiny mode: it seeds, serves, measures,
writes the JSON and cleans up. No timing is asserted: speed belongs to the
benchmark run itself (docs/performance.md)."""
from __future__ import annotations

import json
import socket
import time

import pytest

from tests.bench import run as bench_run
from tests.bench import seed as S
from tests.bench.peer import FastPeer
from tests.support import dbworld
from tests.support.amipeer import AmiPeer

PAIRS = ["GET /extensions (warm)", "GET /cdr day", "GET /cdr day+src", "GET /cdr day+dest", "GET /cdr day+did",
         "GET /cdr all", "GET /state", "GET /registrations"]


def test_tiny_run_writes_results_and_drops_its_world(tmp_path):
    out = tmp_path / "latest.json"
    rc = bench_run.main(["--tiny", "--out", str(out), "--requests", "2", "--duration", "1", "--concurrency", "2"])
    assert rc == 0
    r = json.loads(out.read_text())
    assert set(r) >= {"meta", "seeding", "pairs", "throughput", "explain", "targets", "notes", "table", "world"}
    assert r["notes"] == []  # no section crashed
    sd = r["seeding"]
    assert (sd["extensions"], sd["voicemail_boxes"], sd["followme_groups"], sd["dids"], sd["cdr_rows"],
            sd["hints"], sd["contacts"]) == (50, 30, 10, 10, 2000, 30, 30)
    assert sd["cdr_method"] in ("LOAD DATA LOCAL INFILE", "executemany (multi-row INSERT, 2000 rows)")
    # Every latency pair is there (a route that does not exist yet shows as a "missing" pair instead).
    assert [p["name"] for p in r["pairs"] if p["name"] in PAIRS] == PAIRS
    for p in r["pairs"]:
        assert p["status"] == "ok" or p["status"].startswith(("missing", "error")), p
        if p["status"] == "ok":
            assert p["api"]["n"] == 2 and p["baseline"]["n"] == 2
            assert set(p["api"]) == {"n", "median_ms", "p95_ms", "mean_ms", "rps", "samples_ms"}
            assert len(p["api"]["samples_ms"]) == 2 and p["api"]["median_ms"] == pytest.approx(sum(p["api"]["samples_ms"]) / 2, abs=0.002)
    names = [t.get("name") for t in r["throughput"]]
    assert names in ([], ["GET /test c=2 config user", "GET /test c=2 ampusers login"]), names
    for t in r["throughput"]:
        assert set(t["api"]) >= {"rps", "p50_ms", "p95_ms", "non_2xx"} and t["bare"]["rps"] > 0
    if "extdump" in r:
        assert r["extdump"]["extensions"] in (50, None)
    assert "latency pair" in r["table"] and "machine:" in r["table"]
    # Everything it created is gone.
    existing = set(dbworld.list_worlds())
    assert not existing & {r["world"]["config_db"], r["world"]["cdr_db"]}


def _exchange(port: int, actions):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    f.readline()
    out = []
    for action in [("Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: off\r\nActionID: L\r\n")] + \
            ["Action: %s\r\nActionID: A%d\r\n" % (a, i) for i, a in enumerate(actions)]:
        s.sendall(action.encode() + b"\r\n")
        data = b""
        while True:  # one reply, or a whole list up to its EventList: Complete message
            line = f.readline()
            data += line
            if line == b"\r\n" and (b"EventList: start" not in data or b"EventList: Complete" in data):
                break
        out.append(data)
    s.close()
    return out


def test_fast_peer_sends_the_same_bytes_as_the_test_peer():
    scale = S.Scale.tiny()
    exts = S.make_extensions(scale)
    state = S.peer_state(exts, scale, int(time.time()))
    actions = ["ExtensionStateList", "PresenceStateList", "DeviceStateList", "PJSIPShowContacts",
               "PJSIPShowEndpoints", "PJSIPShowAors", "PJSIPShowRegistrationsInbound",
               "PJSIPShowRegistrationInboundContactStatuses"]
    replies = []
    for cls in (AmiPeer, FastPeer):
        peer = cls(users={"admin": "amp111"}).load_state(state).start()
        try:
            replies.append(_exchange(peer.port, actions))
        finally:
            peer.stop()
    assert replies[0] == replies[1]
    assert replies[0][4].count(b"Event: ContactList\r\n") == scale.contacts
    assert replies[0][1].count(b"Event: ExtensionStatus\r\n") == scale.hints
