"""POST /call against the real Asterisk: the Originate rings the caller's SIPp
phone, which answers, and the second leg reaches the destination phone through
from-internal; wait=yes reports answered / busy / no answer as Asterisk reports
them; autoanswer puts Alert-Info/Call-Info in the INVITE the phone receives
(PJSIP and chan_sip)."""
from __future__ import annotations

import re

import pytest

from tests.realpbx import sipp
from tests.realpbx.conftest import wait_for

EXTS = {"331": "pjsip", "332": "pjsip", "341": "chansip"}


@pytest.fixture(scope="module")
def desks(real):
    secrets = {}
    for ext, exttype in EXTS.items():
        r = real.api.post("extension/add", extension=ext, exttype=exttype, displayname="Desk %s" % ext)
        assert r.status == 201, r
        secrets[ext] = r.data["secret"]
    # a short ring time, so no-answer outcomes come quickly (users.ringtimer, as the GUI sets it)
    with real.dbconn() as conn:
        cur = conn.cursor()
        cur.execute("UPDATE users SET ringtimer = 6 WHERE extension IN ('331', '341')")
        cur.close()
    real.apply_config()
    yield secrets
    for ext in EXTS:
        real.api.delete("extension/%s" % ext)
    real.apply_config()


def _phone(real, ext, secret, mode="answer", ring_ms=500, name=None):
    port = real.ast.chansip_port if EXTS[ext] == "chansip" else real.ast.pjsip_port
    ph = sipp.Phone(real.sipp_dir, name or "call-%s-%s" % (ext, mode), "127.0.0.1:%d" % port, [(ext, secret)],
                    real.sipp_port(), sipp.registered_scenario(), timeout=90,
                    incoming=sipp.answering_scenario(ext, mode, ring_ms=ring_ms))
    # wait for *this* phone's contact (an earlier phone's may still be listed)
    wait_for(lambda: [c["port"] for c in real.api.get("registrations/%s" % ext).data["contacts"]] == [ph.port],
             10, "%s registered from port %d" % (ext, ph.port))
    return ph


def _hangup_all(real):
    real.ast.rx("channel request hangup all")
    wait_for(lambda: "0 active channels" in real.ast.rx("core show channels count"), 10, "no channels left")


@pytest.mark.parametrize("caller", ["331", "341"])
def test_call_answered_reaches_the_destination(real, desks, caller):
    a = _phone(real, caller, desks[caller], "answer", name="ans-%s" % caller)
    b = _phone(real, "332", desks["332"], "answer", ring_ms=3000, name="dest-for-%s" % caller)
    try:
        r = real.api.post("call", ext=caller, secret=desks[caller], dest="332", wait="yes")
        assert r.status == 200, r
        d = r.data
        assert d["answered"] is True and d["reason"] == 4 and d["reason_text"] == "answered", d
        assert d["originate_channel"].startswith("PJSIP/%s-" % caller if EXTS[caller] == "pjsip"
                                                 else "SIP/%s-" % caller), d
        # the first leg rang the caller's phone with the destination as caller ID
        invite = a.wait_for_message(r"INVITE sip:%s@[^\n]*\n(?:[^\n]+\n)*?From: [^\n]*332" % caller)
        assert "INVITE" in invite
        # the second leg: from-internal -> ext-local 332 -> the destination phone rings
        b.wait_for_message(r"INVITE sip:332@", timeout=10)
        wait_for(lambda: real.api.get("state/332").data["state"] in ("ringing", "inuse"), 5, "332 rings")
    finally:
        _hangup_all(real)
        a.stop()
        b.stop()


# Asterisk 20 reports a 486 as Reason 0 (as for an unreachable phone) with hangup
# cause 17; rfapi names it busy from the cause. No answer: Reason 3, cause 19.
@pytest.mark.parametrize("mode,reason,text,cause", [("busy", 0, "busy", 17), ("noanswer", 3, "no answer", 19)])
def test_call_wait_reports_what_asterisk_reports(real, desks, mode, reason, text, cause):
    a = _phone(real, "331", desks["331"], mode, name="wait-%s" % mode)
    try:
        r = real.api.post("call", ext="331", secret=desks["331"], dest="332", wait="yes")
        assert r.status == 200, r
        d = r.data
        assert d["ring_seconds"] == 6
        assert (d["answered"], d["reason"], d["reason_text"], d["hangup_cause"]) == (False, reason, text, cause), d
    finally:
        _hangup_all(real)
        a.stop()


@pytest.mark.parametrize("caller", ["331", "341"])
def test_autoanswer_headers_in_the_invite_the_phone_receives(real, desks, caller):
    a = _phone(real, caller, desks[caller], "answer", name="aa-%s" % caller)
    try:
        r = real.api.post("call", ext=caller, secret=desks[caller], dest="2125550147", autoanswer="yes")
        assert r.status == 200 and r.data["queued"] is True, r
        invite = a.wait_for_message(r"INVITE sip:%s@.*?\n\n" % caller, timeout=10)
        headers = invite.split("\n")
        assert "Alert-Info: <uri>;info=alert-autoanswer" in headers, invite
        assert "Call-Info: <uri>;answer-after=0" in headers, invite
    finally:
        _hangup_all(real)
        a.stop()
    # without autoanswer the phone gets neither header
    a = _phone(real, caller, desks[caller], "answer", name="noaa-%s" % caller)
    try:
        assert real.api.post("call", ext=caller, secret=desks[caller], dest="2125550147").status == 200
        invite = a.wait_for_message(r"INVITE sip:%s@.*?\n\n" % caller, timeout=10)
        assert not re.search(r"^(Alert-Info|Call-Info):", invite, re.M), invite
    finally:
        _hangup_all(real)
        a.stop()
