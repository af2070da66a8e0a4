"""GET /state and /state/<ext>: one event-list round trip for all (plus one for
presence), the normalised state names, presence from CustomPresence, 404s, outages."""
from __future__ import annotations

import calendar
import re
import time

import pytest

from tests.support import office
from tests.support.amipeer import transcript_seed
from tests.support.world import body

SIP_EXTENSIONS = [e for e in office.EXTENSIONS if e["tech"] in ("pjsip", "sip")]
NAMES = {0: "idle", 1: "inuse", 2: "busy", 4: "unavailable"}
TEXTS = {0: "Idle", 1: "InUse", 2: "Busy", 4: "Unavailable"}


def sent(peer):
    return [(a.name, [(k, v) for k, v in a.headers if k not in ("Action", "ActionID")])
            for a in peer.actions if a.name != "Login"]


STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def stamp_time(text):
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + int(text[20:23]) / 1000.0


def without_live(data, live, since=None):
    """The answer minus the two live-state fields, after checking them: ``live`` as
    expected and ``refreshed_at`` a UTC time with ms, not in the future (and not
    before ``since`` when given)."""
    entries = data if isinstance(data, list) else [data]
    out = []
    for e in entries:
        e = dict(e)
        assert e.pop("live") is live, e
        at = e.pop("refreshed_at")
        assert STAMP.match(at), at
        assert stamp_time(at) <= time.time() + 0.001
        if since is not None:
            assert stamp_time(at) >= since - 0.001
        out.append(e)
    return out if isinstance(data, list) else out[0]


def expected(e):
    state = office.ami_state()
    status = state["hints"][e["number"]]["status"]
    p_state, subtype, message = e["presence"]
    return {"extension": e["number"], "name": e["name"], "tech": e["tech"], "state": NAMES[status],
            "status": status, "status_text": TEXTS[status], "hint": office.hint(e), "context": "from-internal",
            "presence": {"state": p_state, "subtype": subtype, "message": message}}


# Each login of the state feed first checks that call events reach this AMI user.
PROBE = [("Setvar", [("Variable", "DEVICE_STATE(Custom:rfapi-feed)"), ("Value", v)]) for v in ("INUSE", "NOT_INUSE")]


def test_all_states_in_two_list_actions(pbx):
    t0 = time.time()
    r = pbx.get("state")
    assert r.status_code == 200, body(r)
    assert without_live(body(r)["data"], True, since=t0) == [expected(e) for e in SIP_EXTENSIONS]
    # Never one action per extension: the hint list, then the presence list.
    assert sent(pbx.peer) == PROBE + [("ExtensionStateList", []), ("PresenceStateList", [])]


def test_the_office_in_words(pbx):
    data = {s["extension"]: s for s in body(pbx.get("state"))["data"]}
    assert data["104"]["state"] == "inuse"                      # on a call
    assert data["108"]["state"] == "busy"                       # DND (Custom:DND108 BUSY)
    assert data["108"]["presence"] == {"state": "dnd", "subtype": "", "message": ""}
    assert data["106"]["state"] == "unavailable"                # not registered
    assert data["202"]["state"] == "unavailable"                # chan_sip, never registered
    assert data["103"]["presence"] == {"state": "away", "subtype": "lunch", "message": "Back at two"}
    assert "190" not in data and "191" not in data              # virtual: no device, no hint


@pytest.mark.parametrize("status,name,text", [
    (8, "ringing", "Ringing"), (9, "inuse&ringing", "InUse&Ringing"), (16, "onhold", "Hold"),
    (17, "inuse&onhold", "InUse&Hold"), (2, "busy", "Busy"),
])
def test_state_names_are_normalised(pbx, status, name, text):
    with pbx.peer.lock:
        pbx.peer.hints["101"]["status"] = status
    one = body(pbx.get("state/101"))["data"]
    assert (one["state"], one["status"], one["status_text"], one["live"]) == (name, status, text, False)
    listed = [s for s in body(pbx.get("state"))["data"] if s["extension"] == "101"][0]
    assert (listed["state"], listed["status"], listed["status_text"], listed["live"]) == (name, status, text, True)


def test_one_state_uses_extensionstate_and_presencestate(pbx):
    t0 = time.time()
    r = pbx.get("state/103")
    assert r.status_code == 200, body(r)
    assert without_live(body(r)["data"], False, since=t0) == expected(office.EXTENSIONS_BY_NUMBER["103"])
    assert sent(pbx.peer) == [("ExtensionState", [("Exten", "103"), ("Context", "from-internal")]),
                              ("PresenceState", [("Provider", "CustomPresence:103")])]


def test_chan_sip_extension_state(pbx):
    r = pbx.get("state/201")
    assert r.status_code == 200
    assert without_live(body(r)["data"], False) == expected(office.EXTENSIONS_BY_NUMBER["201"])


def test_transcript_pbx_hints_and_extensions_without_hint(pbx):
    """The PBX of the captures (extensionstatelist.txt, presencestatelist.txt): hints only for 101,
    102, 103 and 201; every other SIP extension of the office has none (state unknown)."""
    seed = transcript_seed()
    with pbx.peer.lock:
        for key in ("hints", "device_states", "presence"):
            getattr(pbx.peer, key).clear()
            getattr(pbx.peer, key).update(seed[key])
    data = {s["extension"]: s for s in without_live(body(pbx.get("state"))["data"], True)}
    assert data["101"] == {"extension": "101", "name": "Alice Johnson", "tech": "pjsip", "state": "idle",
                           "status": 0, "status_text": "Idle", "hint": "PJSIP/101", "context": "from-internal",
                           "presence": None}
    assert (data["102"]["state"], data["102"]["status"], data["102"]["status_text"]) == \
        ("unavailable", 4, "Unavailable")
    assert data["103"]["hint"] == "PJSIP/103&Custom:DND103,CustomPresence:103"
    assert data["103"]["state"] == "idle"           # Custom:DND103 NOT_INUSE outweighs unavailable PJSIP/103
    assert data["103"]["presence"] == {"state": "away", "subtype": "lunch", "message": "Back at two"}
    assert data["201"]["state"] == "idle" and data["201"]["hint"] == "SIP/201"
    assert data["104"] == {"extension": "104", "name": "David Brown", "tech": "pjsip", "state": "unknown",
                           "status": -1, "status_text": "Unknown", "hint": None, "context": None,
                           "presence": None}
    pbx.peer.clear_actions()
    one = body(pbx.get("state/104"))["data"]
    assert (one["state"], one["status"], one["hint"], one["presence"]) == ("unknown", -1, None, None)
    # No hint, so no presence provider to ask.
    assert sent(pbx.peer) == [("ExtensionState", [("Exten", "104"), ("Context", "from-internal")])]


def test_without_presence_providers_one_action_is_enough(pbx):
    with pbx.peer.lock:
        for exten, h in pbx.peer.hints.items():
            h["hint"] = h["hint"].split(",")[0]
    data = body(pbx.get("state"))["data"]
    assert all(s["presence"] is None and s["live"] is True for s in data)
    assert sent(pbx.peer) == PROBE + [("ExtensionStateList", [])]


def test_unknown_and_non_sip_extensions_are_404_without_ami(pbx):
    for ext, message in (("999", "Extension 999 not found"), ("190", "Extension 190 is not a SIP extension"),
                         ("..", None)):
        r = pbx.get("state/%s" % ext)
        assert r.status_code == 404
        if message:
            assert body(r)["message"] == message
    # Control characters in a path parameter are refused before any handler runs.
    r = pbx.get("state/101%0D%0AAction:%20Command")
    assert r.status_code == 400 and body(r)["data"]["errors"] == {"ext": "must not contain control characters"}
    assert pbx.peer.actions == []


def test_ami_down_is_503_while_other_routes_work(pbx):
    pbx.peer.stop()
    for path in ("state", "state/101"):
        r = pbx.get(path)
        assert r.status_code == 503
        assert body(r)["message"] == "Service Unavailable: Asterisk (AMI) is unreachable"
    assert pbx.get("test").status_code == 200
    assert pbx.get("pbx/framework/needreload").status_code == 200
    assert pbx.get("voicemail/101").status_code == 200


def test_ami_comes_back(pbx):
    assert pbx.get("state/101").status_code == 200
    pbx.peer.restart()
    # The dropped connection is replaced (after the adapter's one-second retry guard at most).
    deadline = time.monotonic() + 5
    codes = []
    while not codes or (codes[-1] != 200 and time.monotonic() < deadline):
        codes.append(pbx.get("state/101").status_code)
        time.sleep(0.05)
    assert codes[-1] == 200
    assert set(codes) <= {200, 503}
