"""PUT /api/v1/did/<did>: Core::editDIDProperties — only the sent columns of one
route change (addressed by DID and, when the DID has several routes, cidnum),
validated like POST /did/add, need-reload set when something changed."""
from __future__ import annotations

import pytest

from tests.support import office
from tests.support.world import body, need_reload, without_need_reload
from tests.test_dids import key

MAIN = office.MAIN_DID


def incoming(snap):
    return snap["db"]["config"]["incoming"]


def office_route(did, cidnum=""):
    return dict([d for d in office.DIDS if d["extension"] == did and (d["cidnum"] or "") == cidnum][0])


@pytest.mark.parametrize("did,cidnum,params,changed", [
    (MAIN, None, {"destination": "ivr-1,s,1"}, {"destination": "ivr-1,s,1"}),
    (MAIN, None, {"description": "Main line (day)"}, {"description": "Main line (day)"}),
    (MAIN, None, {"description": ""}, {"description": ""}),
    ("5551230400", None, {"mohclass": "default"}, {"mohclass": "default"}),
    ("5551230102", "5559876543", {"destination": "app-blackhole,hangup,1", "mohclass": "jazz"},
     {"destination": "app-blackhole,hangup,1", "mohclass": "jazz"}),
    ("5551230102", "", {"description": "Bob"}, {"description": "Bob"}),
], ids=["destination", "description", "description-clear", "mohclass", "vip-route", "any-cid-route"])
def test_only_the_sent_columns_of_one_route_change(pbx_rw, did, cidnum, params, changed):
    before = pbx_rw.snapshot()
    data = dict(params)
    if cidnum is not None:
        data["cidnum"] = cidnum
    r = pbx_rw.put("did/%s" % did, data=data)
    assert r.status_code == 200, body(r)
    want = dict(office_route(did, cidnum or ""), **changed)
    assert body(r)["data"] == want
    assert body(r)["message"] == "Updated: " + ", ".join(sorted(changed))
    after = pbx_rw.snapshot()
    old = office_route(did, cidnum or "")
    # Exactly one row differs, and only in the sent columns.
    gone = [r for r in incoming(before) if r not in incoming(after)]
    new = [r for r in incoming(after) if r not in incoming(before)]
    assert len(gone) == 1 and len(new) == 1 and len(incoming(after)) == len(incoming(before))
    cols = list(old)
    assert {c: v for c, v in zip(cols, new[0]) if dict(zip(cols, gone[0]))[c] != v} == \
        {c: v for c, v in changed.items() if old[c] != v}
    assert need_reload(pbx_rw) == "true"
    assert without_need_reload(after)["db"]["config"] == dict(
        without_need_reload(before)["db"]["config"], incoming=incoming(after))
    assert after["astdb"] == before["astdb"] and after["voicemail_conf"] == before["voicemail_conf"]
    got = sorted(body(pbx_rw.get("dids/%s" % did))["data"], key=key)
    assert want in got


def test_several_routes_need_cidnum(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("did/5551230102", data={"destination": "app-blackhole,hangup,1"})
    assert r.status_code == 400
    assert body(r)["data"]["errors"] == {
        "cidnum": "is required: DID 5551230102 has 2 inbound routes (caller IDs '', '5559876543')"}
    assert pbx_rw.snapshot() == before


@pytest.mark.parametrize("did,params,status,expect", [
    ("5550000000", {"destination": "app-blackhole,hangup,1"}, 404, "No inbound route for DID 5550000000"),
    ("555123010", {"description": "x"}, 404, "No inbound route for DID 555123010"),
    ("5551230102", {"cidnum": "5551112222", "description": "x"}, 404,
     "DID 5551230102 has no inbound route for caller ID '5551112222'"),
    (MAIN, {"destination": "ext-local,999,1", "mohclass": "rock"}, 400, {
        "destination": "is not a destination that exists on this PBX (see /pbx/framework/destinations)",
        "mohclass": "is not a music-on-hold class that exists on this PBX (see /pbx/framework/mohclasses)"}),
    (MAIN, {"destination": "nowhere", "description": "x" * 81, "extension": "1"}, 400, {
        "destination": "must be context,exten,priority", "description": "must be at most 80 characters",
        "extension": "unknown parameter"}),
])
def test_bad_requests_change_nothing(pbx_rw, did, params, status, expect):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("did/%s" % did, data=params)
    assert r.status_code == status, body(r)
    if status == 400:
        assert body(r)["data"]["errors"] == expect
    else:
        assert body(r)["message"] == expect
    assert pbx_rw.snapshot() == before


def test_unchanged_values_write_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    route = office_route(MAIN)
    r = pbx_rw.put("did/%s" % MAIN, data={k: route[k] for k in ("destination", "description", "mohclass")})
    assert r.status_code == 200
    assert body(r)["message"] == "Unchanged: every value sent is already set"
    assert body(r)["data"] == route
    assert pbx_rw.snapshot() == before


def test_followme_destination_accepted_like_add(pbx_rw):
    r = pbx_rw.put("did/5551230101", data={"destination": "ext-findmefollow,FM101,1"})
    assert r.status_code == 200, body(r)
    assert pbx_rw.sql("SELECT destination FROM incoming WHERE extension = '5551230101'") == [
        {"destination": "ext-findmefollow,FM101,1"}]
    r = pbx_rw.put("did/5551230101", data={"destination": "ext-findmefollow,FM106,1"})  # 106 has no follow-me
    assert r.status_code == 400
