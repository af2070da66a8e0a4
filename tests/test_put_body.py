"""PUT /extension/<n> and PUT /did/<did> change only what is sent: a body that sends
nothing (empty, {}, only nulls) is a 400 naming the body, a null is a 400 naming the
field, and nothing is written either way; sending values already set stays 200
"Unchanged"."""
from __future__ import annotations

import json

import pytest

from tests.support.world import body

EMPTY_MESSAGE = ("has no field to change: send at least one of the fields of this PUT "
                 "(an empty body or {} changes nothing)")
NULL_MESSAGE = "must not be null (send a value, or '' where the field can be cleared)"


def _put(pbx, path, how):
    if how == "no body":
        return pbx.put(path)
    if how == "empty form":
        return pbx.put(path, data={})
    return pbx.put(path, data=how, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["extension/102", "did/5551230400"])
@pytest.mark.parametrize("how", ["no body", "empty form", "{}", "", "null"])
def test_a_put_that_sends_nothing_is_400_naming_the_body(pbx_rw, path, how):
    before = pbx_rw.snapshot()
    r = _put(pbx_rw, path, how)
    if how == "null":  # a JSON null body is refused by the parser, naming the body too
        assert r.status_code == 400 and list(body(r)["data"]["errors"]) == ["body"], body(r)
    else:
        assert r.status_code == 400, body(r)
        assert body(r) == {"status": 400, "message": "Invalid parameter: body",
                           "data": {"errors": {"body": EMPTY_MESSAGE}}}
    assert pbx_rw.snapshot() == before


@pytest.mark.parametrize("path,sent,fields", [
    ("extension/102", {"displayname": None}, ["displayname"]),
    ("extension/102", {"email": None, "ringtimer": None}, ["email", "ringtimer"]),
    ("extension/102", {"displayname": None, "ringtimer": 30}, ["displayname"]),
    ("did/5551230400", {"description": None}, ["description"]),
    ("did/5551230400", {"cidnum": None, "mohclass": "default"}, ["cidnum"]),
])
def test_null_is_400_naming_the_field_and_nothing_changes(pbx_rw, path, sent, fields):
    before = pbx_rw.snapshot()
    r = pbx_rw.put(path, data=json.dumps(sent), headers={"Content-Type": "application/json"})
    assert r.status_code == 400, body(r)
    assert body(r)["data"] == {"errors": {f: NULL_MESSAGE for f in fields}}
    assert pbx_rw.snapshot() == before


def test_values_already_set_are_still_unchanged(pbx_rw):
    cur = body(pbx_rw.get("extensions/102"))["data"]
    before = pbx_rw.snapshot()
    r = pbx_rw.put("extension/102", json={"ringtimer": cur["ringtimer"], "tech": cur["tech"]})
    assert r.status_code == 200 and body(r)["message"] == "Unchanged: every value sent is already set", body(r)
    route = body(pbx_rw.get("dids/5551230400"))["data"][0]
    r = pbx_rw.put("did/5551230400", json={"mohclass": route["mohclass"]})
    assert r.status_code == 200 and body(r)["message"] == "Unchanged: every value sent is already set", body(r)
    assert pbx_rw.snapshot() == before


def test_cidnum_alone_names_a_route_but_changes_nothing(pbx_rw):
    r = pbx_rw.put("did/5551230400", json={"cidnum": ""})
    assert r.status_code == 400 and body(r)["data"] == {"errors": {"body": EMPTY_MESSAGE}}
