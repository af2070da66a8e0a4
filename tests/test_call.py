"""POST /call: the exact Originate the AMI peer receives, the secret check,
validation before anything is sent, waiting for the first leg, outages."""
from __future__ import annotations

import json
import socket
import time

import pytest

from tests.support import office
from tests.support.world import body


def secret(ext):
    return office.EXTENSIONS_BY_NUMBER[ext]["secret"]


def sent(peer):
    """Every action the app sent after logging in, without Action/ActionID."""
    return [(a.name, [(k, v) for k, v in a.headers if k not in ("Action", "ActionID")])
            for a in peer.actions if a.name != "Login"]


def originate_headers(channel, dest, ext, timeout_ms, extra=()):
    return ([("Channel", channel), ("Context", "from-internal"), ("Exten", dest), ("Priority", "1"),
             ("CallerID", '"%s" <%s>' % (dest, dest)), ("Timeout", str(timeout_ms)),
             ("Variable", "__REALCALLERIDNUM=%s" % ext)] + list(extra) + [("Async", "true")])


PJSIP_AUTOANSWER = [("Variable", "PJSIP_HEADER(add,Alert-Info)=<uri>;info=alert-autoanswer"),
                    ("Variable", "PJSIP_HEADER(add,Call-Info)=<uri>;answer-after=0")]
CHANSIP_AUTOANSWER = [("Variable", "SIPADDHEADER01=Alert-Info: <uri>;info=alert-autoanswer"),
                      ("Variable", "SIPADDHEADER02=Call-Info: <uri>;answer-after=0")]


def test_pjsip_call_sends_one_async_originate_into_from_internal(pbx):
    r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147"})
    assert r.status_code == 200, body(r)
    assert sent(pbx.peer) == [("Originate", originate_headers("PJSIP/101", "2125550147", "101", 15000))]
    orig = pbx.peer.wait_for_action("Originate")
    data = body(r)["data"]
    assert data == {
        "extension": "101", "channel": "PJSIP/101", "context": "from-internal", "exten": "2125550147",
        "priority": 1, "callerid": '"2125550147" <2125550147>', "ring_seconds": 15, "autoanswer": False,
        "wait": False, "action_id": orig.get("ActionID"), "queued": True,
        "message": "Originate successfully queued",
    }
    # The shared connection is the Events: off one (no event flood).
    assert [events for _user, ok, events in pbx.peer.logins if ok] == ["off"]


def test_pjsip_autoanswer_uses_pjsip_header_function_writes(pbx):
    r = pbx.post("call", json={"ext": "102", "secret": secret("102"), "dest": "+442071234567",
                               "autoanswer": True})
    # +44... does not exist in the peer's from-internal: Asterisk's own refusal, after the exchange.
    assert r.status_code == 400
    assert body(r)["data"] == {"errors": {"dest": "no extension or route in from-internal matches this number"}}
    assert body(r)["message"] == "Asterisk refused the call: Extension does not exist."
    assert sent(pbx.peer) == [("Originate", originate_headers("PJSIP/102", "+442071234567", "102", 15000,
                                                              PJSIP_AUTOANSWER))]


def test_autoanswer_headers_reach_the_channel_as_asterisk_parses_them(pbx):
    pbx.peer.originate_outcomes["PJSIP/101"] = "answer"
    r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147",
                               "autoanswer": "yes", "wait": "yes"})
    assert r.status_code == 200, body(r)
    assert body(r)["data"]["answered"] is True
    orig = pbx.peer.wait_for_action("Originate")
    assert orig.getall("Variable") == [
        "__REALCALLERIDNUM=101",
        "PJSIP_HEADER(add,Alert-Info)=<uri>;info=alert-autoanswer",
        "PJSIP_HEADER(add,Call-Info)=<uri>;answer-after=0",
    ]


def test_chan_sip_autoanswer_uses_sipaddheader_variables(pbx):
    r = pbx.post("call", data={"ext": "201", "secret": secret("201"), "dest": "2125550147",
                               "autoanswer": "1"})
    assert r.status_code == 200, body(r)
    assert sent(pbx.peer) == [("Originate", originate_headers("SIP/201", "2125550147", "201", 15000,
                                                              CHANSIP_AUTOANSWER))]
    assert body(r)["data"]["channel"] == "SIP/201"
    assert body(r)["data"]["autoanswer"] is True


def test_ring_time_is_the_extensions_own(pbx):
    # 109 has ringtimer 25 in users.
    r = pbx.post("call", data={"ext": "109", "secret": secret("109"), "dest": "104"})
    assert r.status_code == 200, body(r)
    assert sent(pbx.peer) == [("Originate", originate_headers("PJSIP/109", "104", "109", 25000))]
    assert body(r)["data"]["ring_seconds"] == 25


@pytest.mark.parametrize("ringtimer,seconds", [("20", 20), ("0", 30), ("120", 60)])
def test_ring_time_falls_back_to_freepbx_ringtime_default(pbx_rw, ringtimer, seconds):
    # "Ringtime Default" (RINGTIMER); 0 = ring forever in FreePBX -> Asterisk's Originate default 30 s.
    pbx_rw.sql("INSERT INTO freepbx_settings (keyword, value, name, type, defaultval, category) "
               "VALUES (%s, %s, %s, %s, %s, %s)",
               ("RINGTIMER", ringtimer, "Ringtime Default", "select", "15", "Dialplan and Operational"))
    r = pbx_rw.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147"})
    assert r.status_code == 200, body(r)
    assert sent(pbx_rw.peer) == [("Originate", originate_headers("PJSIP/101", "2125550147", "101",
                                                                 seconds * 1000))]


def test_feature_codes_with_star_and_hash_are_dialable_when_the_config_allows_them(pbx):
    # Refused by default (tests/test_input_boundaries.py): a feature code changes PBX state.
    pbx.ini.write_text(pbx.ini.read_text() + "[call]\nallow_feature_codes = yes\n")
    pbx.peer.dialplan_patterns.append("*97")
    r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "*97"})
    assert r.status_code == 200, body(r)
    assert sent(pbx.peer) == [("Originate", originate_headers("PJSIP/101", "*97", "101", 15000))]


@pytest.mark.parametrize("outcome,answered,reason,text,cause", [
    ("answer", True, 4, "answered", None),
    ("noanswer", False, 3, "no answer", 19),
    # a real Asterisk reports a busy phone as Reason 0: the hangup cause (17) says busy
    ("busy", False, 0, "busy", 17),
    ("unregistered", False, 0, "failed", None),
])
def test_wait_reports_whether_the_first_leg_answered(pbx, outcome, answered, reason, text, cause):
    pbx.peer.originate_outcomes["PJSIP/103"] = outcome
    r = pbx.post("call", data={"ext": "103", "secret": secret("103"), "dest": "2125550147", "wait": "true"})
    assert r.status_code == 200, body(r)
    data = body(r)["data"]
    assert (data["answered"], data["reason"], data["reason_text"]) == (answered, reason, text)
    assert data["hangup_cause"] == cause
    assert data["wait_seconds"] == 20.0            # ring time 15 s + 5 s
    orig = pbx.peer.wait_for_action("Originate")
    assert data["action_id"] == orig.get("ActionID")
    if answered:
        assert data["originate_channel"].startswith("PJSIP/103-")
        assert data["uniqueid"]
    else:
        assert data["originate_channel"] == "PJSIP/103"
        assert data["uniqueid"] is None
    # The wait ran on its own short-lived "Events: call" connection, not the shared one.
    assert [events for _user, ok, events in pbx.peer.logins if ok] == ["call"]
    assert sent(pbx.peer) == [("Originate", originate_headers("PJSIP/103", "2125550147", "103", 15000)),
                              ("Logoff", [])]


def test_wrong_secret_is_403_counted_as_auth_failure_and_nothing_is_sent(pbx, caplog):
    caplog.set_level("WARNING", logger="rfapi.auth")
    pbx.ini.write_text(pbx.ini.read_text().replace("[api]\n", "[api]\nauth_fail_limit = 2\n"))
    r = pbx.post("call", data={"ext": "101", "secret": secret("102"), "dest": "2125550147"})
    assert r.status_code == 403
    assert body(r) == {"status": 403, "message": "Forbidden: wrong secret for extension 101", "data": None}
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "rfapi.auth"]
    assert lines == ["rfapi auth failure from 127.0.0.1 user=101 reason=bad call secret"]
    assert secret("102") not in caplog.text
    assert pbx.post("call", data={"ext": "101", "secret": "", "dest": "2125550147"}).status_code == 400
    assert pbx.post("call", data={"ext": "101", "secret": "x", "dest": "2125550147"}).status_code == 403
    # The limit is reached: even the right secret is refused for the cool-down.
    r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147"})
    assert r.status_code == 429
    assert pbx.peer.actions == []


@pytest.mark.parametrize("field,value", [
    ("dest", "2125550147\r\nAction: Command"),
    ("dest", "2125550147\nCommand: core stop now"),
    ("dest", "212555\x000147"),
    ("dest", "212-555-0147"),
    ("dest", "2125550147@from-internal"),
    ("dest", "sip:2125550147"),
    ("dest", "12+34"),
    ("dest", "+"),
    ("dest", "1" * 41),
    ("ext", "101\r\nAction: Originate"),
    ("ext", "PJSIP/101"),
    ("secret", "abc\r\nVariable: X=1"),
    ("autoanswer", "maybe"),
    ("wait", "2"),
])
def test_forbidden_characters_are_400_before_anything_is_sent(pbx, field, value):
    params = {"ext": "101", "secret": secret("101"), "dest": "2125550147"}
    params[field] = value
    r = pbx.post("call", json=params)
    assert r.status_code == 400, body(r)
    assert list(body(r)["data"]["errors"]) == [field]
    assert pbx.peer.actions == []                   # not even a login


def test_unknown_parameter_is_refused(pbx):
    r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147",
                               "context": "from-trunk"})
    assert r.status_code == 400
    assert body(r)["data"] == {"errors": {"context": "unknown parameter"}}
    assert pbx.peer.actions == []


def test_unknown_and_non_sip_extensions(pbx):
    r = pbx.post("call", data={"ext": "999", "secret": "x", "dest": "2125550147"})
    assert r.status_code == 404
    assert body(r)["message"] == "Extension 999 not found"
    r = pbx.post("call", data={"ext": "190", "secret": "x", "dest": "2125550147"})
    assert r.status_code == 400
    assert body(r)["data"] == {"errors": {"ext": "is not a SIP extension (it has no device)"}}
    assert pbx.peer.actions == []


def test_secret_is_redacted_in_the_audit_log(pbx):
    r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147"})
    assert r.status_code == 200
    lines = [json.loads(l) for l in (pbx.root / "audit.log").read_text().splitlines()]
    assert [l["action"] for l in lines] == ["call.originate"]
    assert lines[0]["params"]["secret"] == "***"
    assert lines[0]["result"]["channel"] == "PJSIP/101"
    assert secret("101") not in (pbx.root / "audit.log").read_text()


def test_ami_down_is_503_while_other_routes_work(pbx):
    pbx.peer.stop()
    for wait in ("no", "yes"):
        r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147", "wait": wait})
        assert r.status_code == 503
        assert body(r) == {"status": 503, "message": "Service Unavailable: Asterisk (AMI) is unreachable",
                           "data": None}
    assert pbx.get("test").status_code == 200
    assert pbx.get("pbx/framework/needreload").status_code == 200


def test_openapi_documents_the_route(pbx):
    doc = json.loads(pbx.get("/api/v1/openapi.json", auth=False).get_data(as_text=True))
    op = doc["paths"]["/api/v1/call"]["post"]
    assert "403" in op["responses"] and "503" in op["responses"]


def _read_until(sock, buf, pred, timeout=5.0):
    """Read AMI messages (lists of header pairs) until pred(message) is true."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        while b"\r\n\r\n" in buf:
            raw, buf = buf.split(b"\r\n\r\n", 1)
            msg = [tuple(l.split(": ", 1)) if ": " in l else (l.rstrip(":"), "")
                   for l in raw.decode().split("\r\n") if l and not l.startswith("Asterisk Call Manager")]
            if msg:
                out.append(msg)
                if pred(msg):
                    return out, buf
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        buf += sock.recv(65536)
    raise AssertionError("timed out; got %r" % out)


def test_peer_splits_variables_like_asterisk(pbx):
    """The peer is the witness of our Variable headers: like manager.c it splits a Variable value on
    commas outside (...), and a function write (PJSIP_HEADER(add,...)) sets no channel variable, so
    Asterisk sends no VarSet for it (no capture of this; Asterisk's pbx_builtin_setvar_helper)."""
    pbx.peer.originate_outcomes["PJSIP/101"] = "answer"
    s = socket.create_connection((pbx.peer.host, pbx.peer.port), timeout=5)
    try:
        s.sendall(b"Action: Login\r\nUsername: admin\r\nSecret: amp111\r\nEvents: call,dialplan\r\n"
                  b"ActionID: l\r\n\r\n")
        msgs, buf = _read_until(s, b"", lambda m: ("ActionID", "l") in m)
        s.sendall(("Action: Originate\r\nChannel: PJSIP/101\r\nContext: from-internal\r\nExten: 2125550147\r\n"
                   "Priority: 1\r\nVariable: __REALCALLERIDNUM=101\r\n"
                   "Variable: PJSIP_HEADER(add,Alert-Info)=<uri>;info=alert-autoanswer\r\n"
                   "Variable: A=1,B=x\r\nAsync: true\r\nActionID: o\r\n\r\n").encode())
        msgs, buf = _read_until(s, buf, lambda m: ("Event", "OriginateResponse") in m)
    finally:
        s.close()
    varsets = [dict(m)["Variable"] + "=" + dict(m)["Value"] for m in msgs if ("Event", "VarSet") in m]
    # Asterisk sets them in reverse order.
    assert varsets == ["B=x", "A=1", "__REALCALLERIDNUM=101"]
