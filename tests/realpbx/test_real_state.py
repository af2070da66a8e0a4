"""/state and /state/<ext> follow a real call between two SIPp phones
(idle -> ringing -> inuse -> idle), presence set with `presencestate change`,
DND with `devstate change Custom:DND<n>`."""
from __future__ import annotations

import time

import pytest

from tests.realpbx import sipp
from tests.realpbx.conftest import wait_for


@pytest.fixture(scope="module")
def pair(real):
    secrets = {}
    for ext in ("321", "322"):
        r = real.api.post("extension/add", extension=ext, exttype="pjsip", displayname="State %s" % ext)
        assert r.status == 201, r
        secrets[ext] = r.data["secret"]
    real.apply_config()
    yield secrets
    for ext in ("321", "322"):
        real.api.delete("extension/%s" % ext)
    real.apply_config()


def _live_entry(real, ext):
    for e in real.api.get("state").data:
        if e["extension"] == ext:
            return e
    raise AssertionError("no /state entry for %s" % ext)


def _both_workers_live(real, ext):
    # gunicorn has two workers, each with its own event-fed table: ask until
    # several answers in a row are live
    return all(_live_entry(real, ext)["live"] for _ in range(6))


def test_state_follows_a_real_call(real, pair):
    server = "127.0.0.1:%d" % real.ast.pjsip_port
    callee = sipp.Phone(real.sipp_dir, "state-321", server, [("321", pair["321"])], real.sipp_port(),
                        sipp.registered_scenario(), timeout=60,
                        incoming=sipp.answering_scenario("321", "answer", ring_ms=2500))
    try:
        wait_for(lambda: real.api.get("state/321").data["state"] == "idle", 10, "321 idle once registered")
        wait_for(lambda: _both_workers_live(real, "321"), 10, "live /state in both workers")
        assert _live_entry(real, "321")["state"] == "idle"
        caller = sipp.Phone(real.sipp_dir, "state-322", server, [("322", pair["322"])], real.sipp_port(),
                            sipp.calling_scenario("321", hold_ms=3000), timeout=30)
        seen_live, seen_one = [], []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            e = _live_entry(real, "321")
            assert e["live"] is True
            if not seen_live or seen_live[-1] != e["state"]:
                seen_live.append(e["state"])
            one = real.api.get("state/321").data["state"]
            if not seen_one or seen_one[-1] != one:
                seen_one.append(one)
            if caller.proc.poll() is not None and seen_live[-1] == "idle" and len(seen_live) > 1:
                break
            time.sleep(0.1)
        assert caller.wait(20) == 0, caller.errors()
        assert seen_live == ["idle", "ringing", "inuse", "idle"], seen_live
        assert seen_one == ["idle", "ringing", "inuse", "idle"], seen_one
    finally:
        callee.stop()


def test_presence_and_dnd_from_the_cli(real, pair):
    real.ast.rx('presencestate change CustomPresence:322 "AWAY,lunch,back at two"')
    wait_for(lambda: (_live_entry(real, "322")["presence"] or {}).get("state") == "away", 5, "live presence")
    p = real.api.get("state/322").data["presence"]
    assert p == {"state": "away", "subtype": "lunch", "message": "back at two"}, p
    real.ast.rx("presencestate change CustomPresence:322 AVAILABLE")
    wait_for(lambda: (_live_entry(real, "322")["presence"] or {}).get("state") == "available", 5, "back")
    # DND: FreePBX's hint is PJSIP/322&Custom:DND322; an unregistered phone in DND is "busy"
    assert real.api.get("state/322").data["state"] == "unavailable"
    real.ast.rx("devstate change Custom:DND322 BUSY")
    wait_for(lambda: _live_entry(real, "322")["state"] == "busy", 5, "live DND")
    assert real.api.get("state/322").data["state"] == "busy"
    real.ast.rx("devstate change Custom:DND322 NOT_INUSE")
    # what FreePBX writes on DND off; Asterisk aggregates NOT_INUSE & UNAVAILABLE to
    # idle, so the hint says "Idle" although the phone is not registered
    wait_for(lambda: _live_entry(real, "322")["state"] == "idle", 5, "DND off")
    assert "State:Idle" in real.ast.rx("core show hint 322")
    assert real.api.get("state/322").data["state"] == "idle"
