"""Follow-me and call flow control keys written by rfapi, read back by a real
dialplan the way FreePBX's is written (findmefollow's ddial test and ring time,
daynight's DB(DAYNIGHT/C<i>)); /callflowcontrols after toggles done by the dialplan."""
from __future__ import annotations

import pytest

from tests.realpbx.conftest import wait_for

EXT = "361"


def _dial(real, number: str) -> None:
    """A call into from-internal that ends by itself (the lab has no phone for it)."""
    real.ast.rx("channel originate Local/%s@from-internal application Wait 1" % number)
    wait_for(lambda: "0 active channels" in real.ast.rx("core show channels count"), 15, "call over")


def _marker(real, key: str):
    return real.ast.astdb("RFAPITEST").get("/RFAPITEST/%s" % key)


@pytest.fixture(scope="module")
def fm(real):
    r = real.api.post("extension/add", extension=EXT, exttype="pjsip", displayname="Follow Me",
                      followme="yes", followmegrptime="25")
    assert r.status == 201, r
    real.apply_config()
    yield
    real.api.delete("extension/%s" % EXT)
    real.apply_config()


def test_followme_keys_drive_the_dialplan(real, fm):
    real.ast.rx("database deltree RFAPITEST")
    # Quick Create with follow-me: ddial DIRECT -> followme-check, ring time grptime + prering
    assert real.ast.astdb("AMPUSER/%s/followme" % EXT)["/AMPUSER/%s/followme/ddial" % EXT] == "DIRECT"
    _dial(real, EXT)
    assert _marker(real, "followme/%s" % EXT) == "32,%s" % EXT      # ringallv2-prim: 25 + 7
    assert _marker(real, "extlocal/%s" % EXT) is None

    r = real.api.post("followme/%s" % EXT, action="addExternal", number="2125550147")
    assert r.status == 200, r
    real.ast.rx("database deltree RFAPITEST")
    _dial(real, EXT)
    assert _marker(real, "followme/%s" % EXT) == "32,%s-2125550147#" % EXT

    # disabled: ddial EXTENSION, the call goes to ext-local, follow-me is not used
    assert real.api.post("followme/%s" % EXT, action="disable").status == 200
    assert real.ast.astdb("AMPUSER/%s/followme" % EXT)["/AMPUSER/%s/followme/ddial" % EXT] == "EXTENSION"
    real.ast.rx("database deltree RFAPITEST")
    _dial(real, EXT)
    assert _marker(real, "followme/%s" % EXT) is None
    assert _marker(real, "extlocal/%s" % EXT) is not None
    assert real.api.get("followme/%s/status" % EXT).data["enabled"] is False

    assert real.api.post("followme/%s" % EXT, action="enable").status == 200
    real.ast.rx("database deltree RFAPITEST")
    _dial(real, EXT)
    assert _marker(real, "followme/%s" % EXT) == "32,%s-2125550147#" % EXT


def _cfc(real):
    return {c["ext"]: c["state"] for c in real.api.get("callflowcontrols").data}


def test_callflowcontrol_state_after_dialplan_toggles(real):
    assert _cfc(real)[0] == "DAY"
    _dial(real, "*280")
    assert real.ast.astdb("DAYNIGHT")["/DAYNIGHT/C0"] == "NIGHT"
    assert _cfc(real)[0] == "NIGHT"
    assert "State:InUse" in real.ast.rx("core show hint *280")    # BLF of the toggle: Custom:DAYNIGHT0
    _dial(real, "*280")
    assert _cfc(real)[0] == "DAY"
    assert "State:Idle" in real.ast.rx("core show hint *280")
