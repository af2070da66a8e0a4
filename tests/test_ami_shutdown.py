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
