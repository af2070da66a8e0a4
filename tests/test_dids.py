"""Inbound routes: GET /dids, GET /dids/<did>, POST /did/add, DELETE /did/<did>.

Rows are compared with what FreePBX core's addDID/addDIDDefaults writes
(WRITES.md §3; core 17 stores rvolume '' where 16 stores '0')."""
from __future__ import annotations

import threading

import pytest

from tests.support import office
from tests.support.world import body, need_reload, without_need_reload

COLUMNS = ("cidnum", "extension", "destination", "privacyman", "alertinfo", "ringing", "fanswer", "mohclass",
           "description", "grppre", "delay_answer", "pricid", "pmmaxretries", "pmminlength", "reversal",
           "rvolume", "indication_zone")


def key(r):
    return (r["extension"], r["cidnum"])


def rows_for(pbx, did):
    return pbx.sql("SELECT %s FROM incoming WHERE extension = %%s ORDER BY cidnum" % ", ".join(COLUMNS), (did,))


def expected_row(did, destination="app-blackhole,hangup,1", mohclass="default", description=None, rvolume=""):
    # Core 17 addDID: every column filled, '' for "any CID" (never NULL).
    return {"cidnum": "", "extension": did, "destination": destination, "privacyman": 0, "alertinfo": "",
            "ringing": "", "fanswer": "", "mohclass": mohclass, "description": description or did, "grppre": "",
            "delay_answer": 0, "pricid": "", "pmmaxretries": "3", "pmminlength": "10", "reversal": "",
            "rvolume": rvolume, "indication_zone": "default"}


# -- reads ------------------------------------------------------------------------------
def test_list_is_every_route_with_freepbx_columns(pbx):
    r = pbx.get("dids")
    assert r.status_code == 200
    data = body(r)["data"]
    assert sorted(data, key=key) == sorted((dict(d) for d in office.DIDS), key=key)
    assert all(list(row) == list(COLUMNS) for row in data)


def test_get_one_did_is_exact_match(pbx):
    r = pbx.get("dids/5551230102")
    assert r.status_code == 200
    assert sorted(body(r)["data"], key=key) == sorted((d for d in office.DIDS if d["extension"] == "5551230102"),
                                                      key=key)
    assert len(body(r)["data"]) == 2  # the any-CID route and the VIP-CID route
    ten = body(pbx.get("dids/" + office.MAIN_DID))["data"]
    eleven = body(pbx.get("dids/1" + office.MAIN_DID))["data"]
    assert [d["description"] for d in ten] == ["Main Number"]
    assert [d["description"] for d in eleven] == ["Main Number (11 digit)"]


def test_get_unknown_did_is_404(pbx):
    r = pbx.get("dids/5550000000")
    assert r.status_code == 404
    assert body(r)["message"] == "No inbound route for DID 5550000000"
    # A prefix of an existing DID is a different DID.
    assert pbx.get("dids/555123010").status_code == 404


# -- add ------------------------------------------------------------------------------------
def test_add_with_defaults_writes_freepbx_row(pbx_rw):
    assert need_reload(pbx_rw) == "false"
    r = pbx_rw.post("did/add", data={"did": "5559870001"})
    assert r.status_code == 201, body(r)
    assert body(r)["message"] == "Created"
    want = expected_row("5559870001")
    assert body(r)["data"] == want
    assert rows_for(pbx_rw, "5559870001") == [want]
    assert need_reload(pbx_rw) == "true"


def test_add_with_every_optional_parameter(pbx_rw):
    r = pbx_rw.post("did/add", json={"did": "+15559870002", "destination": "from-did-direct,101,1",
                                     "mohclass": "jazz", "description": "Alice (international)"})
    assert r.status_code == 201, body(r)
    want = expected_row("+15559870002", "from-did-direct,101,1", "jazz", "Alice (international)")
    assert body(r)["data"] == want
    assert rows_for(pbx_rw, "+15559870002") == [want]
    # The new route is itself a destination now (catalog reads the same table).
    dests = [d["destination"] for d in body(pbx_rw.get("pbx/framework/destinations"))["data"]]
    assert "from-trunk,+15559870002,1" in dests


@pytest.mark.parametrize("field,value", [
    ("destination", "ivr-1,s,1"), ("destination", "ext-queues,400,1"), ("destination", "ext-local,vmu101,1"),
    ("mohclass", "default"), ("description", "Night line"),
])
def test_add_each_optional_parameter_alone(pbx_rw, field, value):
    r = pbx_rw.post("did/add", data={"did": "5559870003", field: value})
    assert r.status_code == 201, body(r)
    want = expected_row("5559870003", **{field: value})
    assert rows_for(pbx_rw, "5559870003") == [want]


def test_core_16_stores_rvolume_zero(pbx_rw):
    pbx_rw.sql("UPDATE modules SET version = '16.0.68.30' WHERE modulename = 'core'")
    r = pbx_rw.post("did/add", data={"did": "5559870004"})
    assert r.status_code == 201
    assert rows_for(pbx_rw, "5559870004") == [expected_row("5559870004", rvolume="0")]


def test_same_did_with_only_a_cid_route_can_be_added(pbx_rw):
    pbx_rw.sql("INSERT INTO incoming (cidnum, extension, destination, mohclass, description) "
               "VALUES ('5552220000', '5559870005', 'app-blackhole,busy,1', 'default', 'CID only')")
    r = pbx_rw.post("did/add", data={"did": "5559870005"})
    assert r.status_code == 201, body(r)
    assert [x["cidnum"] for x in rows_for(pbx_rw, "5559870005")] == ["", "5552220000"]


@pytest.mark.parametrize("data,field", [
    ({}, "did"),
    ({"did": ""}, "did"),
    ({"did": "555-123"}, "did"),
    ({"did": "<5551234567>"}, "did"),
    ({"did": "+"}, "did"),
    ({"did": "5551234567+"}, "did"),
    ({"did": "_555XXXX"}, "did"),
    ({"did": "5" * 51}, "did"),
    ({"did": "5559870010", "destination": "from-did-direct,999,1"}, "destination"),
    ({"did": "5559870010", "destination": "hangup"}, "destination"),
    ({"did": "5559870010", "destination": "ivr-9,s,1"}, "destination"),
    ({"did": "5559870010", "mohclass": "rock"}, "mohclass"),
    ({"did": "5559870010", "description": "x" * 81}, "description"),
    ({"did": "5559870010", "description": "bad\nline"}, "description"),
    ({"did": "5559870010", "cidnum": "5551112222"}, "cidnum"),
])
def test_validation_failure_writes_nothing(pbx_rw, data, field):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("did/add", data=data)
    assert r.status_code == 400, body(r)
    assert field in body(r)["data"]["errors"]
    assert pbx_rw.snapshot() == before


def test_duplicate_any_cid_route_is_409_and_writes_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    for did in (office.MAIN_DID, "1" + office.MAIN_DID, "5551230102"):
        r = pbx_rw.post("did/add", data={"did": did})
        assert r.status_code == 409
        assert body(r)["message"] == "An inbound route for DID %s (any caller ID) already exists" % did
    assert pbx_rw.snapshot() == before


def test_concurrent_adds_of_one_did_create_one_route(pbx_rw):
    results = []
    barrier = threading.Barrier(6, timeout=30)
    app = pbx_rw.app

    def worker(i):
        client = app.test_client()
        barrier.wait()
        r = client.post("/api/v1/did/add", data={"did": "5559870020", "description": "try %d" % i},
                        headers=pbx_rw.auth)
        results.append(r.status_code)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201, 409, 409, 409, 409, 409]
    assert len(rows_for(pbx_rw, "5559870020")) == 1


# -- delete ----------------------------------------------------------------------------
def test_delete_removes_exactly_that_did(pbx_rw):
    r = pbx_rw.delete("did/" + office.MAIN_DID)
    assert r.status_code == 200, body(r)
    assert body(r)["data"] == [d for d in office.DIDS if d["extension"] == office.MAIN_DID]
    assert rows_for(pbx_rw, office.MAIN_DID) == []
    # The eleven-digit form is another route and stays.
    assert [x["description"] for x in rows_for(pbx_rw, "1" + office.MAIN_DID)] == ["Main Number (11 digit)"]
    assert need_reload(pbx_rw) == "true"


def test_delete_removes_every_cid_route_of_the_did(pbx_rw):
    r = pbx_rw.delete("did/5551230102")
    assert r.status_code == 200
    assert sorted(body(r)["data"], key=key) == sorted((d for d in office.DIDS if d["extension"] == "5551230102"),
                                                      key=key)
    assert rows_for(pbx_rw, "5551230102") == []
    others = pbx_rw.sql("SELECT extension, cidnum FROM incoming")
    assert len(others) == len(office.DIDS) - 2


def test_delete_unknown_did_is_404_and_writes_nothing(pbx_rw):
    before = pbx_rw.snapshot()
    for did in ("5550000000", "555123010", "15551230101"):
        r = pbx_rw.delete("did/" + did)
        assert r.status_code == 404
        assert body(r)["message"] == "No inbound route for DID %s" % did
    assert pbx_rw.snapshot() == before


def test_create_then_delete_restores_everything_but_need_reload(pbx_rw):
    before = pbx_rw.snapshot()
    r = pbx_rw.post("did/add", data={"did": "+4930123456", "destination": "ext-group,600,1"})
    assert r.status_code == 201, body(r)
    r = pbx_rw.delete("did/%2B4930123456")
    assert r.status_code == 200
    assert body(r)["data"] == [expected_row("+4930123456", "ext-group,600,1")]
    after = pbx_rw.snapshot()
    assert need_reload(pbx_rw) == "true"
    assert without_need_reload(after) == without_need_reload(before)


def test_other_methods(pbx):
    assert pbx.get("did/add").status_code == 405
    assert pbx.put("dids/5551230101").status_code == 405
    r = pbx.delete("dids/5551230101")
    assert r.status_code == 405


def test_did_to_forced_followme_is_accepted(pbx_rw):
    """WRITES.md §3: ext-findmefollow,FM<ext>,1 is a valid inbound destination when the
    extension has a follow-me group (FreePBX lists it only on the extension page)."""
    from tests.support import office

    fm = next(e for e in office.EXTENSIONS if e.get("followme"))
    r = pbx_rw.post("did/add", data={"did": "5552239999", "destination": "ext-findmefollow,FM%s,1" % fm["number"]})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert pbx_rw.sql("SELECT destination FROM incoming WHERE extension = %s", ("5552239999",)) == [
        {"destination": "ext-findmefollow,FM%s,1" % fm["number"]}]
    no_fm = next(e for e in office.EXTENSIONS if not e.get("followme"))
    r = pbx_rw.post("did/add", data={"did": "5552239998", "destination": "ext-findmefollow,FM%s,1" % no_fm["number"]})
    assert r.status_code == 400
