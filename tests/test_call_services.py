"""Call forward, do-not-disturb and call waiting: GET/PUT /callforward|donotdisturb|callwaiting/<ext>.

Keys and device states are the ones FreePBX's callforward, donotdisturb and callwaiting
modules (17) and their feature codes write: CF/CFB/CFU/<ext>, Custom:CF<ext> and
Custom:DEVCF<dev>; DND/<ext> = YES, Custom:DND<ext> and Custom:DEVDND<dev> BUSY/UNAVAILABLE;
CW/<ext> = ENABLED. Office: 108 is in DND, 110 has call waiting off, 112 forwards to
5559871234, 190 and 191 are virtual."""
from __future__ import annotations

import json
import time

import pytest

from rfapi.services import events as events_svc
from tests.support.sse import Server, Stream
from tests.support.pbxstate import astdb, audit_lines, devstate, journal
from tests.support.world import API_PASSWORD, API_USER, body

AUTH = (API_USER, API_PASSWORD)


def ami_writes(pbx, since):
    return [(a.get("Action"), a.get("Family") or a.get("Variable"), a.get("Key") or a.get("Value"))
            for a in pbx.peer.actions[since:] if a.get("Action") in ("DBPut", "DBDel", "Setvar")]


# -- call forward -------------------------------------------------------------------
def test_forwards_read_from_astdb_null_when_unset(pbx):
    r = pbx.get("callforward/112")
    assert r.status_code == 200
    assert body(r)["data"] == {"extension": "112", "unconditional": "5559871234", "busy": None, "unavailable": None}
    with pbx.peer.lock:
        pbx.peer.astdb["/CFB/101"] = "105"
        pbx.peer.astdb["/CFU/101"] = "+15551112222"
    assert body(pbx.get("callforward/101"))["data"] == {
        "extension": "101", "unconditional": None, "busy": "105", "unavailable": "+15551112222"}


def test_set_every_forward_writes_keys_lamps_event_and_audit(pbx_rw):
    n = len(pbx_rw.peer.actions)
    r = pbx_rw.put("callforward/101", json={"unconditional": "5551234567", "busy": "*97", "unavailable": "+4420#"})
    assert r.status_code == 200, body(r)
    want = {"extension": "101", "unconditional": "5551234567", "busy": "*97", "unavailable": "+4420#"}
    assert body(r) == {"status": 200, "message": "OK", "data": want}
    assert (astdb(pbx_rw, "/CF/101"), astdb(pbx_rw, "/CFB/101"), astdb(pbx_rw, "/CFU/101")) == \
        ("5551234567", "*97", "+4420#")
    # *72's sstate: the user's lamp and each device's (*96<dev> hint), kept by Asterisk in CustomDevstate.
    assert (devstate(pbx_rw, "CF101"), devstate(pbx_rw, "DEVCF101")) == ("BUSY", "BUSY")
    assert (astdb(pbx_rw, "/CustomDevstate/CF101"), astdb(pbx_rw, "/CustomDevstate/DEVCF101")) == ("BUSY", "BUSY")
    assert ("Setvar", "DEVICE_STATE(Custom:CF101)", "BUSY") in ami_writes(pbx_rw, n)
    assert body(pbx_rw.get("callforward/101"))["data"] == want
    line = audit_lines(pbx_rw)[-1]
    assert (line["action"], line["method"], line["route"], line["result"]) == \
        ("callforward.update", "PUT", "/api/v1/callforward/101", want)
    assert journal(pbx_rw)[-1] == dict(what="callforward", action="updated", **want)


def test_form_body_sets_one_forward_and_keeps_the_others(pbx_rw):
    r = pbx_rw.put("callforward/112", data={"busy": "109"})
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == {"extension": "112", "unconditional": "5559871234", "busy": "109",
                               "unavailable": None}
    assert astdb(pbx_rw, "/CF/112") == "5559871234" and astdb(pbx_rw, "/CFB/112") == "109"
    # Only the unconditional forward has a lamp: not touched by a busy forward.
    assert devstate(pbx_rw, "CF112") is None and astdb(pbx_rw, "/CustomDevstate/CF112") is None


@pytest.mark.parametrize("clear", ["", None])
def test_empty_or_null_clears_a_forward_and_its_lamp(pbx_rw, clear):
    pbx_rw.put("callforward/112", json={"busy": "109"})
    r = pbx_rw.put("callforward/112", json={"unconditional": clear, "busy": clear})
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == {"extension": "112", "unconditional": None, "busy": None, "unavailable": None}
    with pbx_rw.peer.lock:
        assert not [k for k in pbx_rw.peer.astdb if k.startswith(("/CF/", "/CFB/", "/CFU/")) and k.endswith("/112")]
    assert (devstate(pbx_rw, "CF112"), devstate(pbx_rw, "DEVCF112")) == ("NOT_INUSE", "NOT_INUSE")
    assert journal(pbx_rw)[-1] == {"what": "callforward", "action": "updated", "extension": "112",
                                   "unconditional": None, "busy": None, "unavailable": None}


def test_forward_to_the_same_number_again_changes_nothing(pbx_rw):
    pbx_rw.put("callforward/101", json={"unconditional": "5551234567"})
    lines, events = len(audit_lines(pbx_rw)), len(journal(pbx_rw))
    n = len(pbx_rw.peer.actions)
    r = pbx_rw.put("callforward/101", json={"unconditional": "5551234567"})
    assert r.status_code == 200
    assert body(r)["message"] == "Call forward of extension 101 is already as requested"
    assert ami_writes(pbx_rw, n) == []
    assert len(audit_lines(pbx_rw)) == lines and len(journal(pbx_rw)) == events


def test_virtual_extension_takes_only_the_unconditional_forward(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("callforward/190", json={"busy": "101", "unavailable": "102"})
    assert r.status_code == 409
    assert body(r)["message"] == "Extension 190 is virtual (it has no phone): busy, unavailable"
    assert set(body(r)["data"]["errors"]) == {"busy", "unavailable"}
    assert pbx_rw.snapshot() == before
    r = pbx_rw.put("callforward/190", json={"unconditional": "5554443333"})
    assert r.status_code == 200, body(r)
    assert astdb(pbx_rw, "/CF/190") == "5554443333"
    assert devstate(pbx_rw, "CF190") == "BUSY"
    r = pbx_rw.put("callforward/190", json={"busy": ""})  # clearing is always allowed
    assert r.status_code == 200, body(r)


@pytest.mark.parametrize("payload,field,why", [
    ({"unconditional": "555-1234"}, "unconditional", "must be a number to dial"),
    ({"busy": "abc"}, "busy", "must be a number to dial"),
    ({"unavailable": "1+2"}, "unavailable", "must be a number to dial"),
    ({"unconditional": "5551234567 "}, "unconditional", "must be a number to dial"),
    ({"unconditional": "1" * 41}, "unconditional", "at most 40 characters"),
    ({"unconditional": "555\r\nAction: Originate"}, "unconditional", "control characters"),
    ({"unconditional": 5551234567.5}, "unconditional", "must be a string"),  # the one JSON type rule
    ({"forward": "101"}, "forward", "unknown parameter"),
    ({}, "body", "send at least one of: unconditional, busy, unavailable"),
])
def test_bad_forward_is_400_naming_the_field_and_writes_nothing(pbx_rw, payload, field, why):
    before = pbx_rw.snapshot()
    n = len(pbx_rw.peer.actions)
    r = pbx_rw.put("callforward/101", json=payload)
    assert r.status_code == 400, body(r)
    assert why in body(r)["data"]["errors"][field]
    assert pbx_rw.snapshot() == before
    assert ami_writes(pbx_rw, n) == []
    assert audit_lines(pbx_rw) == [] and journal(pbx_rw) == []


def test_unknown_extension_is_404_everywhere_and_writes_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    for path, payload in (("callforward/999", {"unconditional": "101"}), ("donotdisturb/999", {"enabled": True}),
                          ("callwaiting/999", {"enabled": True})):
        r = pbx_rw.put(path, json=payload)
        assert r.status_code == 404 and body(r)["message"] == "Extension 999 not found", path
        r = pbx_rw.get(path)
        assert r.status_code == 404 and body(r)["message"] == "Extension 999 not found", path
    # A space or an invisible character is not extension 101 (SQL would say it is).
    assert pbx_rw.put("donotdisturb/101%20", json={"enabled": True}).status_code == 404
    assert pbx_rw.snapshot() == before
    assert audit_lines(pbx_rw) == [] and journal(pbx_rw) == []


# -- do-not-disturb -----------------------------------------------------------------
def test_dnd_read(pbx):
    assert body(pbx.get("donotdisturb/108"))["data"] == {"extension": "108", "enabled": True}
    assert body(pbx.get("donotdisturb/101"))["data"] == {"extension": "101", "enabled": False}


def test_dnd_on_writes_key_and_busy_lamps_like_star78(pbx_rw):
    n = len(pbx_rw.peer.actions)
    r = pbx_rw.put("donotdisturb/101", data={"enabled": "yes"})
    assert r.status_code == 200, body(r)
    assert body(r) == {"status": 200, "message": "OK", "data": {"extension": "101", "enabled": True}}
    assert astdb(pbx_rw, "/DND/101") == "YES"
    assert (devstate(pbx_rw, "DND101"), devstate(pbx_rw, "DEVDND101")) == ("BUSY", "BUSY")
    assert (astdb(pbx_rw, "/CustomDevstate/DND101"), astdb(pbx_rw, "/CustomDevstate/DEVDND101")) == \
        ("BUSY", "BUSY")
    assert ami_writes(pbx_rw, n) == [
        ("DBPut", "DND", "101"),
        ("DBPut", "CustomDevstate", "DEVDND101"), ("Setvar", "DEVICE_STATE(Custom:DEVDND101)", "BUSY"),
        ("DBPut", "CustomDevstate", "DND101"), ("Setvar", "DEVICE_STATE(Custom:DND101)", "BUSY")]
    assert body(pbx_rw.get("donotdisturb/101"))["data"]["enabled"] is True
    line = audit_lines(pbx_rw)[-1]
    assert (line["action"], line["route"], line["params"], line["result"]) == \
        ("donotdisturb.update", "/api/v1/donotdisturb/101", {"enabled": True}, {"extension": "101", "enabled": True})
    assert journal(pbx_rw)[-1] == {"what": "donotdisturb", "action": "updated", "extension": "101", "enabled": True}


def test_dnd_off_deletes_key_and_sets_lamps_unavailable_like_star79(pbx_rw):
    r = pbx_rw.put("donotdisturb/108", json={"enabled": False})
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == {"extension": "108", "enabled": False}
    assert astdb(pbx_rw, "/DND/108") is None
    # FreePBX turns DND off with UNAVAILABLE (not NOT_INUSE): the phone's own state rules the hint again.
    assert (devstate(pbx_rw, "DND108"), devstate(pbx_rw, "DEVDND108")) == ("UNAVAILABLE", "UNAVAILABLE")
    assert astdb(pbx_rw, "/CustomDevstate/DND108") == "UNAVAILABLE"
    assert body(pbx_rw.get("donotdisturb/108"))["data"]["enabled"] is False
    assert journal(pbx_rw)[-1]["enabled"] is False


def test_dnd_lamps_go_to_every_device_of_the_user(pbx_rw):
    with pbx_rw.peer.lock:
        pbx_rw.peer.astdb["/AMPUSER/102/device"] = "102&2102"
    assert pbx_rw.put("donotdisturb/102", json={"enabled": True}).status_code == 200
    assert [devstate(pbx_rw, n) for n in ("DND102", "DEVDND102", "DEVDND2102")] == ["BUSY"] * 3


def test_dnd_again_changes_nothing_and_is_not_announced(pbx_rw):
    with pbx_rw.peer.lock:  # as *78 leaves it: key and lamps set
        pbx_rw.peer.astdb["/CustomDevstate/DEVDND108"] = "BUSY"
    n, events = len(pbx_rw.peer.actions), len(journal(pbx_rw))
    r = pbx_rw.put("donotdisturb/108", json={"enabled": True})
    assert r.status_code == 200 and body(r)["message"] == "Do-not-disturb of extension 108 is already on"
    assert ami_writes(pbx_rw, n) == [] and len(journal(pbx_rw)) == events and audit_lines(pbx_rw) == []


def test_dnd_without_usedevstate_writes_only_the_key(pbx_rw):
    pbx_rw.sql("UPDATE freepbx_settings SET value = '0' WHERE keyword = 'USEDEVSTATE'")
    n = len(pbx_rw.peer.actions)
    assert pbx_rw.put("donotdisturb/101", json={"enabled": True}).status_code == 200
    assert ami_writes(pbx_rw, n) == [("DBPut", "DND", "101")]


@pytest.mark.parametrize("route", ["donotdisturb", "callwaiting"])
@pytest.mark.parametrize("payload,why", [
    ({}, "is required"),
    ({"enabled": "maybe"}, "must be a boolean"),
    ({"enabled": 2}, "must be a boolean"),
    ({"enabled": True, "state": "on"}, None),
])
def test_bad_enabled_is_400_and_writes_nothing(pbx_rw, route, payload, why):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("%s/101" % route, json=payload)
    assert r.status_code == 400, body(r)
    errors = body(r)["data"]["errors"]
    if why:
        assert why in errors["enabled"]
    else:
        assert errors == {"state": "unknown parameter"}
    assert pbx_rw.snapshot() == before and journal(pbx_rw) == []


def test_dnd_state_event_comes_from_asterisk_and_the_write_as_config(pbx_rw):
    """The extension's hint includes Custom:DND<ext>: Asterisk reports it Busy (a state
    event) while rfapi's journal announces the write (a config event)."""
    with pbx_rw.peer.lock:
        del pbx_rw.peer.hints["101"]["status"]  # worked out from the device states from now on
    srv = Server(pbx_rw.app)
    s = Stream(srv.addr, "/api/v1/events?types=state,config&extension=101", auth=AUTH)
    try:
        s.next()  # the stream is open
        h = events_svc.hub_of(pbx_rw.app)
        deadline = time.monotonic() + 10
        while not (h.feed.ready() and h.feed.applied_mask == events_svc.AMI_MASK):
            assert time.monotonic() < deadline, "AMI event feed not ready"
            time.sleep(0.02)
        r = pbx_rw.put("donotdisturb/101", json={"enabled": True})
        assert r.status_code == 200, body(r)
        state, config = s.first_of_each(lambda f: f.event == "state" and f.data["state"] != "idle",
                                        lambda f: f.event == "config", timeout=30)
        assert (state.data["extension"], state.data["state"], state.data["hint"]) == \
            ("101", "busy", "PJSIP/101&Custom:DND101,CustomPresence:101")
        assert (config.data["what"], config.data["extension"], config.data["enabled"]) == \
            ("donotdisturb", "101", True)
        pbx_rw.put("donotdisturb/101", json={"enabled": False})
        state = s.until(lambda f: f.event == "state", timeout=30)
        assert (state.data["extension"], state.data["state"]) == ("101", "idle")
    finally:
        s.close()
        srv.close()


# -- call waiting -------------------------------------------------------------------
def test_call_waiting_read(pbx):
    assert body(pbx.get("callwaiting/101"))["data"] == {"extension": "101", "enabled": True}
    assert body(pbx.get("callwaiting/110"))["data"] == {"extension": "110", "enabled": False}


def test_call_waiting_on_and_off_like_star70_star71(pbx_rw):
    n = len(pbx_rw.peer.actions)
    r = pbx_rw.put("callwaiting/110", json={"enabled": True})
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == {"extension": "110", "enabled": True}
    assert astdb(pbx_rw, "/CW/110") == "ENABLED"
    r = pbx_rw.put("callwaiting/101", data={"enabled": "0"})
    assert r.status_code == 200, body(r)
    assert astdb(pbx_rw, "/CW/101") is None
    assert body(pbx_rw.get("callwaiting/101"))["data"]["enabled"] is False
    # No device state: call waiting has no BLF.
    assert ami_writes(pbx_rw, n) == [("DBPut", "CW", "110"), ("DBDel", "CW", "101")]
    assert [(x["action"], x["result"]) for x in audit_lines(pbx_rw)] == [
        ("callwaiting.update", {"extension": "110", "enabled": True}),
        ("callwaiting.update", {"extension": "101", "enabled": False})]
    assert [(j["what"], j["extension"], j["enabled"]) for j in journal(pbx_rw)] == [
        ("callwaiting", "110", True), ("callwaiting", "101", False)]


def test_call_waiting_cannot_be_turned_on_for_a_virtual_extension(pbx_rw):
    with pbx_rw.peer.lock:
        pbx_rw.peer.astdb.pop("/CW/191", None)
    before = pbx_rw.snapshot()
    r = pbx_rw.put("callwaiting/191", json={"enabled": True})
    assert r.status_code == 409
    assert body(r)["data"]["errors"] == {"enabled": "a virtual extension has no phone to take a second call on"}
    assert pbx_rw.snapshot() == before
    # Turning it off (core writes CW for virtual extensions too) is allowed.
    r = pbx_rw.put("callwaiting/190", json={"enabled": False})
    assert r.status_code == 200 and astdb(pbx_rw, "/CW/190") is None


def test_routes_are_documented_with_summaries(pbx):
    r = pbx.get("openapi.json", auth=False)
    assert r.status_code == 200
    doc = json.loads(r.get_data(as_text=True))
    for path in ("/api/v1/callforward/{extension}", "/api/v1/donotdisturb/{extension}",
                 "/api/v1/callwaiting/{extension}"):
        ops = doc["paths"][path]
        assert set(ops) == {"get", "put"}
        assert all(ops[m]["summary"] and ops[m]["description"] for m in ops)
    put = doc["paths"]["/api/v1/callforward/{extension}"]["put"]
    schema = put["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"unconditional", "busy", "unavailable"}
    busy = schema["properties"]["busy"]
    assert busy["anyOf"][0]["pattern"] == "^(?:\\+?[0-9*#]+)$" and busy["anyOf"][1] == {"type": "string", "enum": [""]}


def test_a_refused_device_state_undoes_the_whole_write(pbx_rw):
    """An AMI user that may write AstDB but not set variables: the DND key and the
    CustomDevstate key already written are put back, and the answer says what failed."""
    pbx_rw.peer.users["admin"] = {"secret": "amp111", "write": "system,reporting"}
    before = pbx_rw.snapshot()
    r = pbx_rw.put("donotdisturb/101", json={"enabled": True})
    assert r.status_code == 502
    assert body(r)["message"] == "Asterisk refused to update the device state Custom:DEVDND101"
    names = [a.name for a in pbx_rw.peer.actions if a.name in ("DBPut", "DBDel", "Setvar")]
    assert names == ["DBPut", "DBPut", "Setvar", "DBDel", "DBDel"]
    assert pbx_rw.snapshot() == before
    assert audit_lines(pbx_rw) == [] and journal(pbx_rw) == []


def test_asterisk_down_is_503_and_nothing_is_announced(pbx_rw):
    pbx_rw.peer.stop()
    for path, payload in (("callforward/101", {"busy": "102"}), ("donotdisturb/101", {"enabled": True}),
                          ("callwaiting/101", {"enabled": False})):
        r = pbx_rw.put(path, json=payload)
        assert r.status_code == 503, (path, body(r))
        assert pbx_rw.get(path).status_code == 503
    assert audit_lines(pbx_rw) == [] and journal(pbx_rw) == []
