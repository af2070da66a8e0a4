"""Captures of this Asterisk that the AMI peer replays (tests/data/ami): the
tier checks that the real Asterisk still answers as the vendored capture says.
RFAPI_RECORD_CAPTURES=1 rewrites the files from this Asterisk."""
from __future__ import annotations

import os
import re
import threading
import time

from tests.realpbx.capture import DATA, Recorder
from tests.support.amipeer import parse_transcript


def _replies(blob: bytes):
    return re.findall(rb"Response: (\w+)\r\nActionID: ([\w-]+)\r\nMessage: ([^\r\n]*)", blob)


def test_shutting_down_capture(real):
    rec = Recorder(real.ast, "`core stop now` while a client sends actions: every action, Ping included,\n"
                                      "gets Response: Error / Asterisk is shutting down until the server closes.")
    rec.recv_until(b"\r\n")
    rec.send("Action: Login\nUsername: admin\nSecret: amp111\nEvents: off\nActionID: login-1\n")
    rec.recv_until(b"Authentication accepted\r\n\r\n")
    threading.Thread(target=lambda: real.ast.rx("core stop now", check=False)).start()
    seen, n = b"", 0
    deadline = time.monotonic() + 10
    while b"shutting down" not in seen and time.monotonic() < deadline:
        n += 1
        rec.send("Action: Ping\nActionID: ping-%d\n" % n)
        seen = rec.recv_until(b"\r\n\r\n")
    rec.send("Action: PJSIPShowContacts\nActionID: contacts-1\n")
    got = rec.recv_until(b"ActionID: contacts-1")
    real.ast._wait_gone()
    real.ast.start()
    assert (b"Error", b"contacts-1", b"Asterisk is shutting down") in _replies(got), got
    if os.environ.get("RFAPI_RECORD_CAPTURES"):
        rec.save("shutting-down.txt")
    vendored = b"".join(p for d, p in parse_transcript(DATA / "shutting-down.txt") if d == "<<<")
    assert (b"Error", b"contacts-1", b"Asterisk is shutting down") in _replies(vendored)


def test_setvar_device_state_capture(real):
    """Setvar of DEVICE_STATE(Custom:...) on an Events: call connection: the
    answer, then the DeviceStateChange event (what the state feed's probe uses)."""
    rec = Recorder(real.ast, "Setvar DEVICE_STATE(Custom:rfapi-feed) on a connection logged in with\n"
                                      "Events: call: Response Success / Variable Set, then DeviceStateChange.")
    rec.recv_until(b"\r\n")
    rec.send("Action: Login\nUsername: admin\nSecret: amp111\nEvents: call\nActionID: login-1\n")
    rec.recv_until(b"Authentication accepted\r\n\r\n")
    rec.send("Action: Setvar\nVariable: DEVICE_STATE(Custom:rfapi-feed)\nValue: INUSE\nActionID: setvar-1\n")
    got = rec.recv_until(b"Device: Custom:rfapi-feed\r\nState: INUSE\r\n\r\n")
    rec.send("Action: Setvar\nVariable: DEVICE_STATE(Custom:rfapi-feed)\nValue: NOT_INUSE\nActionID: setvar-2\n")
    got += rec.recv_until(b"Device: Custom:rfapi-feed\r\nState: NOT_INUSE\r\n\r\n")
    rec.send("Action: Logoff\nActionID: logoff-1\n")
    rec.recv_until(b"Thanks for all the fish.\r\n\r\n")
    assert b"Response: Success\r\nActionID: setvar-1\r\nMessage: Variable Set\r\n" in got, got
    if os.environ.get("RFAPI_RECORD_CAPTURES"):
        rec.save("setvar-device-state.txt")
    vendored = b"".join(p for d, p in parse_transcript(DATA / "setvar-device-state.txt") if d == "<<<")
    assert b"Event: DeviceStateChange\r\nPrivilege: call,all\r\n" in vendored
    assert b"Message: Variable Set" in vendored
