"""PUT /callflowcontrols/<index>: day, night or toggle, writing what FreePBX's daynight
module (Daynight::setState) and its *28<index> feature code write: DAYNIGHT/C<index> and
Custom:DAYNIGHT<index> (NOT_INUSE in DAY, INUSE in NIGHT), the state the feature code's
BLF hint watches. The office has toggle 0 "Snow Day Override" in DAY, code *280."""
from __future__ import annotations

import json
import time

import pytest

from rfapi.services import events as events_svc
from tests.support.sse import Server, Stream
from tests.support.pbxstate import astdb, audit_lines, devstate, journal
from tests.support.world import API_PASSWORD, API_USER, body

AUTH = (API_USER, API_PASSWORD)


def listed_state(pbx, index=0):
    return next(t for t in body(pbx.get("callflowcontrols"))["data"] if t["ext"] == index)["state"]


def test_night_then_day_writes_key_lamp_event_and_audit(pbx_rw):
    r = pbx_rw.put("callflowcontrols/0", json={"state": "night"})
    assert r.status_code == 200, body(r)
    b = body(r)
    assert b["message"] == "OK"
    assert (b["data"]["ext"], b["data"]["state"], b["data"]["fc_description"], b["data"]["featurecode"]) == \
        (0, "NIGHT", "Snow Day Override", "*280")
    assert astdb(pbx_rw, "/DAYNIGHT/C0") == "NIGHT"
    assert devstate(pbx_rw, "DAYNIGHT0") == "INUSE" and astdb(pbx_rw, "/CustomDevstate/DAYNIGHT0") == "INUSE"
    assert listed_state(pbx_rw) == "NIGHT"
    line = audit_lines(pbx_rw)[-1]
    assert (line["action"], line["method"], line["route"], line["params"], line["result"]) == \
        ("callflowcontrol.update", "PUT", "/api/v1/callflowcontrols/0", {"state": "night"},
         {"ext": 0, "state": "NIGHT", "previous": "DAY"})
    assert journal(pbx_rw)[-1] == {"what": "callflowcontrol", "action": "updated", "id": 0, "state": "NIGHT"}

    r = pbx_rw.put("callflowcontrols/0", data={"state": "DAY"})  # form body; case does not matter
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["state"] == "DAY"
    assert astdb(pbx_rw, "/DAYNIGHT/C0") == "DAY" and devstate(pbx_rw, "DAYNIGHT0") == "NOT_INUSE"
    assert listed_state(pbx_rw) == "DAY"


def test_toggle_flips_like_the_feature_code(pbx_rw):
    assert body(pbx_rw.put("callflowcontrols/0", json={"state": "toggle"}))["data"]["state"] == "NIGHT"
    assert astdb(pbx_rw, "/DAYNIGHT/C0") == "NIGHT" and devstate(pbx_rw, "DAYNIGHT0") == "INUSE"
    assert body(pbx_rw.put("callflowcontrols/0", json={"state": "toggle"}))["data"]["state"] == "DAY"
    assert astdb(pbx_rw, "/DAYNIGHT/C0") == "DAY" and devstate(pbx_rw, "DAYNIGHT0") == "NOT_INUSE"
    # An unset mode routes as DAY in the dialplan, so *28<n> turns it to NIGHT.
    with pbx_rw.peer.lock:
        del pbx_rw.peer.astdb["/DAYNIGHT/C0"]
    assert body(pbx_rw.put("callflowcontrols/0", json={"state": "toggle"}))["data"]["state"] == "NIGHT"
    assert [j["state"] for j in journal(pbx_rw)] == ["NIGHT", "DAY", "NIGHT"]


def test_same_state_again_changes_nothing(pbx_rw):
    with pbx_rw.peer.lock:  # as Daynight::setState leaves it
        pbx_rw.peer.astdb["/CustomDevstate/DAYNIGHT0"] = "NOT_INUSE"
    n = len(pbx_rw.peer.actions)
    r = pbx_rw.put("callflowcontrols/0", json={"state": "day"})
    assert r.status_code == 200 and body(r)["message"] == "Call flow control 0 is already DAY"
    assert [a.name for a in pbx_rw.peer.actions[n:] if a.name in ("DBPut", "DBDel", "Setvar")] == []
    assert audit_lines(pbx_rw) == [] and journal(pbx_rw) == []


def test_second_toggle_is_switched_alone(pbx_rw):
    pbx_rw.sql("INSERT INTO daynight (ext, dmode, dest) VALUES ('7', 'fc_description', 'Lunch'), "
               "('7', 'day', 'from-did-direct,109,1'), ('7', 'night', 'ext-local,vmu190,1')")
    r = pbx_rw.put("callflowcontrols/7", json={"state": "night"})
    assert r.status_code == 200, body(r)
    assert astdb(pbx_rw, "/DAYNIGHT/C7") == "NIGHT" and devstate(pbx_rw, "DAYNIGHT7") == "INUSE"
    assert astdb(pbx_rw, "/DAYNIGHT/C0") == "DAY"
    assert listed_state(pbx_rw, 7) == "NIGHT" and listed_state(pbx_rw, 0) == "DAY"


def test_without_usedevstate_only_the_mode_is_written(pbx_rw):
    pbx_rw.sql("UPDATE freepbx_settings SET value = '0' WHERE keyword = 'USEDEVSTATE'")
    n = len(pbx_rw.peer.actions)
    assert pbx_rw.put("callflowcontrols/0", json={"state": "night"}).status_code == 200
    assert [(a.name, a.get("Family"), a.get("Key")) for a in pbx_rw.peer.actions[n:]
            if a.name in ("DBPut", "Setvar")] == [("DBPut", "DAYNIGHT", "C0")]


@pytest.mark.parametrize("index,payload,status,field,why", [
    ("0", {"state": "evening"}, 400, "state", "must be one of: day, night, toggle"),
    ("0", {"state": ""}, 400, "state", "is required"),
    ("0", {}, 400, "state", "is required"),
    ("0", {"state": "night", "password": "1234"}, 400, "password", "unknown parameter"),
    ("0", {"state": ["day", "night"]}, 400, "state", "must be a string"),
    ("3", {"state": "night"}, 404, None, "Call flow control 3 not found"),
    ("x", {"state": "night"}, 404, None, "Call flow control x not found"),
    ("\u0663", {"state": "night"}, 404, None, "Call flow control \u0663 not found"),
])
def test_bad_state_or_unknown_toggle_changes_nothing(pbx_rw, index, payload, status, field, why):
    before = pbx_rw.snapshot()
    n = len(pbx_rw.peer.actions)
    r = pbx_rw.put("callflowcontrols/%s" % index, json=payload)
    assert r.status_code == status, body(r)
    if field:
        assert why in body(r)["data"]["errors"][field]
    else:
        assert body(r)["message"] == why
    assert pbx_rw.snapshot() == before
    assert [a.name for a in pbx_rw.peer.actions[n:] if a.name in ("DBPut", "DBDel", "Setvar")] == []
    assert audit_lines(pbx_rw) == [] and journal(pbx_rw) == []


def test_blf_hint_state_and_the_write_reach_the_event_stream(pbx_rw):
    """The *280 hint in app-daynight-toggle watches Custom:DAYNIGHT0: Asterisk reports it
    InUse in NIGHT (a state event); rfapi's journal announces the write (a config event)."""
    with pbx_rw.peer.lock:
        pbx_rw.peer.hints["*280"] = {"context": "app-daynight-toggle", "hint": "Custom:DAYNIGHT0"}
        pbx_rw.peer.device_states["Custom:DAYNIGHT0"] = "NOT_INUSE"
    srv = Server(pbx_rw.app)
    s = Stream(srv.addr, "/api/v1/events?types=state,config", auth=AUTH)
    try:
        s.next()
        h = events_svc.hub_of(pbx_rw.app)
        deadline = time.monotonic() + 10
        while not (h.feed.ready() and h.feed.applied_mask == events_svc.AMI_MASK):
            assert time.monotonic() < deadline, "AMI event feed not ready"
            time.sleep(0.02)
        assert pbx_rw.put("callflowcontrols/0", json={"state": "night"}).status_code == 200
        state, config = s.first_of_each(lambda f: f.event == "state" and f.data["extension"] == "*280",
                                        lambda f: f.event == "config", timeout=30)
        assert (state.data["context"], state.data["state"], state.data["hint"]) == \
            ("app-daynight-toggle", "inuse", "Custom:DAYNIGHT0")
        assert (config.data["what"], config.data["id"], config.data["state"]) == ("callflowcontrol", 0, "NIGHT")
        assert pbx_rw.put("callflowcontrols/0", json={"state": "day"}).status_code == 200
        state = s.until(lambda f: f.event == "state" and f.data["extension"] == "*280", timeout=30)
        assert state.data["state"] == "idle"
    finally:
        s.close()
        srv.close()


def test_put_is_documented(pbx):
    r = pbx.get("openapi.json", auth=False)
    op = json.loads(r.get_data(as_text=True))["paths"]["/api/v1/callflowcontrols/{index}"]["put"]
    assert op["summary"] == "Switch a call flow control to day or night"
    assert "Custom:DAYNIGHT<index>" in op["description"]


def test_concurrent_toggles_each_count(pbx_rw):
    """Ten toggles at once from ten threads (as from several workers): every one flips
    the mode it finds, so an even number leaves it where it was and each is announced."""
    import threading

    barrier = threading.Barrier(10, timeout=30)
    results = []

    def worker():
        client = pbx_rw.app.test_client()
        barrier.wait()
        r = client.put("/api/v1/callflowcontrols/0", json={"state": "toggle"}, headers=pbx_rw.auth)
        results.append((r.status_code, body(r)["data"]["state"]))

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [s for s, _ in results] == [200] * 10
    assert sorted(st for _, st in results) == ["DAY"] * 5 + ["NIGHT"] * 5
    assert astdb(pbx_rw, "/DAYNIGHT/C0") == "DAY" and devstate(pbx_rw, "DAYNIGHT0") == "NOT_INUSE"
    assert [j["state"] for j in journal(pbx_rw)] == ["NIGHT", "DAY"] * 5
