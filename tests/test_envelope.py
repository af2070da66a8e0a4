"""The envelope, the route table (404/405/501), errors and parameters."""
from __future__ import annotations

import json

import pytest

from rfapi.http import reply
from rfapi.params import Param, truthy
from rfapi.routing import Resource
from tests.support.world import body


def test_test_route_echoes_every_method(pbx):
    for method in ("GET", "POST", "PUT", "DELETE"):
        r = pbx.call(method, "test")
        assert r.status_code == 200
        assert body(r) == {"status": 200, "message": "OK", "data": {"method": method}}
        assert r.headers["Content-Type"] == "application/json"
        assert len(r.headers["X-Request-Id"]) == 16


def test_coffee_is_a_teapot(pbx):
    r = pbx.get("coffee")
    assert r.status_code == 418
    assert body(r) == {"status": 418, "message": "I'm a teapot", "data": None}


def test_unknown_path_is_404_envelope(pbx):
    r = pbx.get("no/such/route")
    assert r.status_code == 404
    assert body(r) == {"status": 404, "message": "Not Found", "data": None}
    r = pbx.get("/outside/the/prefix")
    assert body(r)["status"] == 404


def test_method_not_allowed_has_allow_header(pbx):
    r = pbx.call("PATCH", "test")
    assert r.status_code == 405
    assert body(r) == {"status": 405, "message": "Method Not Allowed", "data": None}
    assert r.headers["Allow"] == "DELETE, GET, HEAD, POST, PUT"
    r = pbx.post("coffee")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
    r = pbx.call("OPTIONS", "coffee")
    assert r.status_code == 405


@pytest.fixture
def scratch(pbx):
    """A throwaway resource on this app only: a planned method, a crash, parameters."""
    res = Resource("zz_scratch")  # registered on this test's app only, never in the route table
    res.planned("/zz/thing", "PUT")

    @res.route("/zz/thing", "GET")
    def _ok(params):
        return {"ok": True}

    @res.route("/zz/crash", "GET")
    def _crash(params):
        raise RuntimeError("password=hunter2 in a stack frame")

    @res.route("/zz/params", "POST", status=201, params=[
        Param("flag", "boolean", default=False),
        Param("count", "integer", minimum=0, maximum=20, default=10),
        Param("name", required=True, max_length=10),
        Param("items", "array"),
        Param("mode", enum=("always", "dontcare", "never"), default="dontcare"),
    ])
    def _params(params):
        return params

    app = pbx.app
    app.register_blueprint(res.blueprint, url_prefix="/api/v1")
    return pbx


def test_planned_method_is_501(scratch):
    r = scratch.put("zz/thing")
    assert r.status_code == 501
    b = body(r)
    assert b["status"] == 501 and b["message"].startswith("Not Implemented") and b["data"] is None
    assert scratch.get("zz/thing").status_code == 200
    r = scratch.delete("zz/thing")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, PUT"


def test_crash_is_500_without_stack_trace(scratch, caplog):
    r = scratch.get("zz/crash")
    assert r.status_code == 500
    text = r.get_data(as_text=True)
    b = json.loads(text)
    rid = r.headers["X-Request-Id"]
    assert b == {"status": 500, "message": "Internal Server Error (request id %s)" % rid, "data": None}
    assert "hunter2" not in text and "Traceback" not in text and "RuntimeError" not in text


def test_parameters_from_query_form_and_json(scratch):
    want = {"flag": True, "count": 3, "name": "bob", "items": ["a", "b"], "mode": "never"}
    r = scratch.post("zz/params", data={"flag": "Yes", "count": "3", "name": "bob", "items[]": ["a", "b"],
                                         "mode": "never"})
    assert r.status_code == 201 and body(r) == {"status": 201, "message": "Created", "data": want}
    r = scratch.post("zz/params", json={"flag": "on", "count": 3, "name": "bob", "items": ["a", "b"],
                                         "mode": "never"})
    assert body(r)["data"] == want
    r = scratch.post("zz/params?flag=1&count=3&name=bob&items=a&items=b&mode=never")
    assert body(r)["data"] == want
    r = scratch.post("zz/params", data={"name": "bob"})
    assert body(r)["data"] == {"flag": False, "count": 10, "name": "bob", "items": None, "mode": "dontcare"}


@pytest.mark.parametrize("field,value,why", [
    ("flag", "maybe", "must be a boolean"),
    ("count", "-1", "must be at least 0"),
    ("count", "21", "must be at most 20"),
    ("count", "1.5", "must be a whole number"),
    ("name", "x" * 11, "must be at most 10 characters"),
    ("name", "a\r\nAction: Originate", "must not contain control characters"),
    ("name", "nul\x00", "must not contain control characters"),
    ("mode", "sometimes", "must be one of: always, dontcare, never"),
    ("bogus", "1", "unknown parameter"),
])
def test_bad_parameter_is_400_naming_the_field(scratch, field, value, why):
    data = {"name": "bob"}
    data[field] = value
    r = scratch.post("zz/params", data=data)
    assert r.status_code == 400
    b = body(r)
    assert b["status"] == 400 and field in b["message"]
    assert b["data"]["errors"][field].startswith(why)


def test_missing_required_and_bad_json(scratch):
    b = body(scratch.post("zz/params", data={}))
    assert b["data"] == {"errors": {"name": "is required"}}
    r = scratch.post("zz/params", data="{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and body(r)["data"]["errors"] == {"body": "is not valid JSON"}
    r = scratch.post("zz/params", json=["a"])
    assert body(r)["data"]["errors"] == {"body": "must be a JSON object"}


def test_body_over_the_limit_is_413(scratch):
    r = scratch.post("zz/params", data={"name": "x" * (2 * 1024 * 1024)})
    assert r.status_code == 413 and body(r)["status"] == 413


@pytest.mark.parametrize("text", ["1", "true", "TRUE", "Yes", "on", "y", "Y"])
def test_truthy_true(text):
    assert truthy(text) is True


@pytest.mark.parametrize("text", ["0", "false", "False", "no", "OFF", "n", ""])
def test_truthy_false(text):
    assert truthy(text) is False


@pytest.mark.parametrize("text", ["2", "yess", "enabled", "-1", "t", None])
def test_truthy_rejects_the_rest(text):
    with pytest.raises(ValueError):
        truthy(text)


def test_openapi_document_lists_routes_and_errors(pbx):
    r = pbx.get("openapi.json", auth=False)
    assert r.status_code == 200
    doc = body(r)
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]["/api/v1/test"]) == {"get", "post", "put", "delete"}
    coffee = doc["paths"]["/api/v1/coffee"]["get"]
    assert "418" in coffee["responses"] and "401" in coffee["responses"]
    env = doc["paths"]["/api/v1/test"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert env["required"] == ["status", "message", "data"]
    assert "/api/v1/zz/thing" not in doc["paths"]


def test_reply_json_is_byte_identical_to_reply(pbx):
    """Cached answers (GET /state) are enveloped from JSON text: same bytes as reply()."""
    from rfapi.http import reply_json, to_json

    data = [{"extension": "101", "name": "Zoë \"Z\" <z>", "live": True, "presence": None, "status": 0}]
    with pbx.app.app_context():
        assert reply_json(to_json(data)).get_data() == reply(data).get_data()
        assert reply_json("[]", 201).get_data() == reply([], 201).get_data()


def test_to_json_each_matches_one_encoding_per_item():
    from rfapi.http import to_json, to_json_each
    items = [{"extension": "101", "name": 'Quote " and ,{"extension": inside', "contacts": [{"uri": "sip:x"}]},
             {"extension": "102", "name": "Back\\slash\\", "contacts": []},
             {"extension": "103", "name": "Ünïcode ✓ \u2028", "n": None, "f": 1.5}]
    assert to_json_each(items, "extension") == [to_json(x) for x in items]
    assert to_json_each([], "extension") == []
    # The first key nested inside an item breaks the cut: the answer is still exact.
    nested = [{"k": 1, "inner": [{"k": 2}, {"k": 4}]}, {"k": 3}]
    assert to_json_each(nested, "k") == ['{"k":1,"inner":[{"k":2},{"k":4}]}', '{"k":3}']


def test_url_for_builds_route_urls_with_the_lazily_compiled_builders(pbx):
    """Rules compile their URL builders on first use: url_for still builds every route's
    URL, path variables quoted, unknown values as the query string."""
    import re

    import flask

    app = pbx.app
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/api/v1/")]
    assert len(rules) > 60
    with app.test_request_context():
        for rule in rules:
            want = re.sub(r"<(?:[^:>]+:)?[^>]+>", "v1", rule.rule)
            assert flask.url_for(rule.endpoint, **{a: "v1" for a in rule.arguments}) == want
        ext = next(r for r in rules if r.rule.startswith("/api/v1/extension/<") and "PUT" in r.methods)
        assert flask.url_for(ext.endpoint, extension="1 0", x="y") == "/api/v1/extension/1%200?x=y"
