"""Asterisk shutting down (found on the real Asterisk 20, capture
tests/data/ami/shutting-down.txt): every action is answered "Response: Error /
Asterisk is shutting down" until the socket closes. That is Asterisk being
unreachable (503), not Asterisk refusing the request (502)."""
from __future__ import annotations

import pytest

from tests.support.world import body


@pytest.mark.parametrize("path", ["registrations", "registrations/101", "state/101", "callflowcontrols"])
def test_shutting_down_is_unavailable(pbx, path):
    assert pbx.get(path).status_code == 200
    pbx.peer.shutting_down = True
    r = pbx.get(path)
    if path == "callflowcontrols":   # answered from SQL, state unknown while AMI is gone
        assert r.status_code == 200 and body(r)["data"][0]["state"] is None
        return
    assert r.status_code == 503, body(r)
    assert body(r)["message"] == "Service Unavailable: Asterisk (AMI) is unreachable"
    pbx.peer.shutting_down = False
    assert pbx.get(path).status_code == 200      # a fresh connection, no restart of rfapi


def test_click_to_call_while_shutting_down(pbx):
    from tests.test_call import secret

    pbx.peer.shutting_down = True
    r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147", "wait": "yes"})
    assert r.status_code == 503, body(r)
    r = pbx.post("call", data={"ext": "101", "secret": secret("101"), "dest": "2125550147"})
    assert r.status_code == 503, body(r)


def test_accepted_but_never_greeted_is_503_also_for_requests_waiting_their_turn(pbx):
    """A real Asterisk going down keeps queueing connections on its listen socket
    without ever sending the banner: every request, including those that waited for
    the per-process AMI turn behind the connect attempt, is 503 within the timeout."""
    import socket
    import threading
    import time

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)          # never accept()ed: the kernel completes the handshake
    port = silent.getsockname()[1]
    text = pbx.ini.read_text()
    pbx.ini.write_text(text.replace("port = %d\n" % pbx.peer.port, "port = %d\n" % port, 1))
    results = []

    def one():
        t0 = time.monotonic()
        r = pbx.get("registrations")
        results.append((r.status_code, time.monotonic() - t0))

    try:
        threads = [threading.Thread(target=one) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    finally:
        silent.close()
    assert [s for s, _ in results] == [503] * 4, results
    assert max(took for _, took in results) < 3 + 2      # [ami] timeout = 3
