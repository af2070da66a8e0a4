"""PUT /extension/<ext> and PUT /did/<did> against racing and ill-typed writers:
concurrent PUTs of one field with different values leave exactly one of them,
the same in SQL, AstDB, voicemail.conf and the cache; JSON arrays, objects, numbers
or booleans where text belongs are a 400 naming the field, and nothing changes."""
from __future__ import annotations

import pytest

from tests.support import office
from tests.support.world import body
from tests.test_did_update import incoming
from tests.test_extension_update import vm_line
from tests.test_extensions_atomic import Server, _race
from tests.test_extensions_helpers import state

NAMES = ["Racer %d" % i for i in range(8)]


def test_concurrent_puts_of_one_field_leave_one_value_everywhere(pbx_rw):
    jobs = [("PUT", "extension/102", {"displayname": n, "email": "r%d@example.com" % i})
            for i, n in enumerate(NAMES)]
    with Server(pbx_rw.app) as srv:
        results = _race(srv, jobs)
    assert [s for s, _ in results] == [200] * len(jobs), [b["message"] for _, b in results]
    st = state(pbx_rw, "102")
    name = st["users"][0]["name"]
    assert name in NAMES
    i = NAMES.index(name)
    assert st["devices"][0]["description"] == name
    assert dict((kw, d) for kw, d, _f in st["sip"])["callerid"] == "%s <102>" % name
    assert st["astdb"]["/AMPUSER/102/cidname"] == name
    # the e-mail sent with that name, not another writer's: each PUT landed whole
    assert vm_line(pbx_rw, "102").split(",")[1:3] == [name, "r%d@example.com" % i]
    got = body(pbx_rw.get("extensions/102"))["data"]
    assert (got["displayname"], got["name"], got["email"]) == (name, name, "r%d@example.com" % i)


def test_concurrent_puts_of_one_did_leave_one_row_with_one_value(pbx_rw):
    did = office.MAIN_DID
    before = pbx_rw.snapshot()
    descs = ["Desc %d" % i for i in range(8)]
    dests = ["app-blackhole,hangup,1", "ivr-1,s,1"]
    jobs = [("PUT", "did/%s" % did, {"description": d, "destination": dests[i % 2]}) for i, d in enumerate(descs)]
    with Server(pbx_rw.app) as srv:
        results = _race(srv, jobs)
    assert [s for s, _ in results] == [200] * len(jobs), [b["message"] for _, b in results]
    rows = pbx_rw.sql("SELECT * FROM incoming WHERE extension = %s AND cidnum = ''", (did,))
    assert len(rows) == 1
    i = descs.index(rows[0]["description"])
    assert rows[0]["destination"] == dests[i % 2]
    assert len(incoming(pbx_rw.snapshot())) == len(incoming(before))
    got = [r for r in body(pbx_rw.get("dids/%s" % did))["data"] if (r["cidnum"] or "") == ""]
    assert [(r["description"], r["destination"]) for r in got] == [(descs[i], dests[i % 2])]


# One rule for JSON values (docs/openapi.md): the documented JSON type or its text form;
# anything else is refused with the type it should have been.
BAD_EXT = [
    ({"displayname": ["Bob"]}, {"displayname": "must be a string"}),
    ({"displayname": {"a": "b"}}, {"displayname": "must be a string"}),
    ({"displayname": 123}, {"displayname": "must be a string"}),
    ({"displayname": True}, {"displayname": "must be a string"}),
    ({"voicemailpassword": 1234}, {"voicemailpassword": "must be a string"}),
    ({"email": ["a@example.com", "b@example.com"]}, {"email": "must be a string"}),
    ({"ringtimer": [5]}, {"ringtimer": "must be a whole number"}),
    ({"ringtimer": {"n": 5}}, {"ringtimer": "must be a whole number"}),
    ({"ringtimer": True}, {"ringtimer": "must be a whole number"}),
    ({"ringtimer": 1.5}, {"ringtimer": "must be a whole number"}),
    ({"attach": [True]}, {"attach": "must be a boolean"}),
    ({"attach": {"x": 1}}, {"attach": "must be a boolean"}),
    ({"callwaiting": None, "tech": 1}, {"tech": "must be a string"}),
    ({"noanswer_dest": ["from-did-direct,101,1"]}, {"noanswer_dest": "must be a string"}),
]


@pytest.mark.parametrize("params,errors", BAD_EXT, ids=lambda v: repr(v)[:40])
def test_wrong_json_types_on_put_extension_are_400_naming_the_field(pbx_rw, params, errors):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("extension/102", json=params)
    assert r.status_code == 400, body(r)
    assert body(r)["data"]["errors"] == errors
    assert pbx_rw.snapshot() == before


BAD_DID = [
    ({"description": 5}, {"description": "must be a string"}),
    ({"description": ["x"]}, {"description": "must be a string"}),
    ({"description": {"x": 1}}, {"description": "must be a string"}),
    ({"destination": ["ivr-1,s,1"]}, {"destination": "must be a string"}),
    ({"cidnum": 5559876543, "mohclass": "jazz"}, {"cidnum": "must be a string"}),
    ({"mohclass": False}, {"mohclass": "must be a string"}),
]


@pytest.mark.parametrize("params,errors", BAD_DID, ids=lambda v: repr(v)[:40])
def test_wrong_json_types_on_put_did_are_400_naming_the_field(pbx_rw, params, errors):
    before = pbx_rw.snapshot()
    r = pbx_rw.put("did/%s" % office.MAIN_DID, json=params)
    assert r.status_code == 400, body(r)
    assert body(r)["data"]["errors"] == errors
    assert pbx_rw.snapshot() == before


def test_json_arrays_still_fill_list_parameters(pbx_rw):
    # the same body shape a list parameter takes keeps working (POST /voicemail/<ext>)
    r = pbx_rw.post("voicemail/101", json={"messages": ["no-such-id"]})
    assert r.status_code == 404, body(r)
