"""Every read route's answer validates against the response schema it declares in
the OpenAPI document (what a fuzzer will check), including nullable fields."""
from __future__ import annotations

import json
import re

import pytest

_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool}


def check(schema, value, path="$"):
    """Validate ``value`` against an OpenAPI 3.0 schema (the subset the route table emits)."""
    if value is None:
        assert schema.get("nullable") is True or schema == {"nullable": True}, "%s: null not allowed" % path
        if "enum" in schema:
            assert None in schema["enum"], "%s: null not in enum" % path
        return
    t = schema.get("type")
    if t == "integer":
        assert isinstance(value, int) and not isinstance(value, bool), "%s: %r is not an integer" % (path, value)
    elif t == "number":
        assert isinstance(value, (int, float)) and not isinstance(value, bool), path
    elif t is not None:
        assert isinstance(value, _TYPES[t]), "%s: %r is not %s" % (path, value, t)
    if "enum" in schema:
        assert value in schema["enum"], "%s: %r not in %r" % (path, value, schema["enum"])
    if "pattern" in schema and isinstance(value, str):
        assert re.search(schema["pattern"], value), "%s: %r does not match %s" % (path, value, schema["pattern"])
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for k in schema.get("required", []):
            assert k in value, "%s: missing %s" % (path, k)
        extra = schema.get("additionalProperties", True)
        for k, v in value.items():
            if k in props:
                check(props[k], v, "%s.%s" % (path, k))
            elif isinstance(extra, dict):
                check(extra, v, "%s.%s" % (path, k))
            else:
                assert extra is not False, "%s: unexpected %s" % (path, k)
    if isinstance(value, list) and "items" in schema:
        for i, v in enumerate(value):
            check(schema["items"], v, "%s[%d]" % (path, i))


def document(p):
    """The OpenAPI document as the app under test serves it. (Not a fixture on
    `pbx`: a test using both `pbx` and `pbx_rw` would share one config file.)"""
    r = p.get("openapi.json", auth=False)
    assert r.status_code == 200
    return json.loads(r.get_data(as_text=True))


def schema_for(doc, path, status="200", method="get"):
    op = doc["paths"]["/api/v1/" + path][method]
    return op["responses"][status]["content"]["application/json"]["schema"]


ROUTES = ["announcements", "callflowcontrols", "conferences", "ivrs", "patterns/outbound", "queues", "ringgroups",
          "timeconditions", "recordings", "cdr", "pbx/framework/destinations", "pbx/framework/destnumbers",
          "pbx/framework/mohclasses", "pbx/framework/needreload"]


@pytest.mark.parametrize("path", ROUTES)
def test_answer_matches_declared_schema(pbx, path):
    doc = document(pbx)
    r = pbx.get(path)
    assert r.status_code == 200
    value = json.loads(r.get_data(as_text=True))
    check(schema_for(doc, path), value)
    # Every declared data schema is specific: no route answers with an undocumented shape.
    data_schema = schema_for(doc, path)["properties"]["data"]
    assert data_schema.get("type") in ("array", "object", "boolean")


def test_nullable_fields_validate(pbx_rw):
    """Rows with NULL in every nullable column still match the schemas."""
    doc = document(pbx_rw)
    pbx_rw.sql("INSERT INTO announcement (description, recording_id, allow_skip, post_dest) "
               "VALUES (NULL, NULL, NULL, NULL)")
    pbx_rw.sql("INSERT INTO meetme (exten) VALUES ('801')")
    pbx_rw.sql("INSERT INTO ivr_details (name) VALUES (NULL)")
    pbx_rw.sql("INSERT INTO ivr_entries (ivr_id, selection, dest) VALUES (1, NULL, NULL)")
    pbx_rw.sql("INSERT INTO outbound_routes (name) VALUES (NULL)")
    pbx_rw.sql("INSERT INTO outbound_route_trunks (route_id, trunk_id, seq) VALUES (1, 42, 5)")
    pbx_rw.sql("INSERT INTO queues_config (extension, descr) VALUES ('401', 'Bare')")
    pbx_rw.sql("INSERT INTO queues_details (id, keyword, data, flags) VALUES ('401', 'member', 'PJSIP/101', 0)")
    pbx_rw.sql("INSERT INTO ringgroups (grpnum, strategy, grptime, grplist, description) "
               "VALUES ('602', 'ringall', 20, '', 'Empty')")
    pbx_rw.sql("INSERT INTO timeconditions (displayname, time) VALUES (NULL, NULL)")
    pbx_rw.sql("INSERT INTO recordings (displayname, filename, description, fcode, fcode_pass, fcode_lang) "
               "VALUES (NULL, NULL, NULL, NULL, NULL, NULL)")
    pbx_rw.sql("INSERT INTO daynight (ext, dmode, dest) VALUES ('3', 'fc_description', '')")
    pbx_rw.sql("INSERT INTO cdr (calldate) VALUES ('1000-01-01 00:00:00')", which="cdr")
    for path in ROUTES:
        r = pbx_rw.get(path, query_string={"limit": 100000} if path == "cdr" else None)
        assert r.status_code == 200, path
        check(schema_for(doc, path), json.loads(r.get_data(as_text=True)))
    rows = json.loads(pbx_rw.get("cdr", query_string={"limit": 100000}).get_data(as_text=True))["data"]["rows"]
    assert rows[-1]["calldate"] == "1000-01-01T00:00:00" and rows[-1]["timestamp"] is None
    q = [x for x in json.loads(pbx_rw.get("queues").get_data(as_text=True))["data"] if x["extension"] == "401"][0]
    assert q["members"] == [{"interface": "PJSIP/101", "extension": None, "penalty": 0, "data": "PJSIP/101"}]


def test_ami_down_answer_matches_schema(pbx):
    doc = document(pbx)
    pbx.peer.stop()
    r = pbx.get("callflowcontrols")
    check(schema_for(doc, "callflowcontrols"), json.loads(r.get_data(as_text=True)))


def test_cdr_pages_and_errors_match_schema(pbx):
    doc = document(pbx)
    first = json.loads(pbx.get("cdr", query_string={"limit": 2}).get_data(as_text=True))
    check(schema_for(doc, "cdr"), first)
    nxt = pbx.get("cdr", query_string={"limit": 2, "cursor": first["data"]["next"]})
    check(schema_for(doc, "cdr"), json.loads(nxt.get_data(as_text=True)))
    bad = pbx.get("cdr", query_string={"limit": "x"})
    assert bad.status_code == 400
    check(schema_for(doc, "cdr", "400"), json.loads(bad.get_data(as_text=True)))


def test_download_is_documented_as_a_file(pbx):
    doc = document(pbx)
    op = doc["paths"]["/api/v1/recordings/{name}"]["get"]
    binary = {"schema": {"type": "string", "format": "binary"}}
    assert op["responses"]["200"]["content"] == {"audio/*": binary, "application/octet-stream": binary}
    assert {p["name"] for p in op["parameters"]} == {"name", "lang", "format", "part"}
    assert "404" in op["responses"]
    r = pbx.get("recordings/Nope")
    check(schema_for(doc, "recordings/{name}", "404"), json.loads(r.get_data(as_text=True)))


def test_cdr_document_explains_paging_and_time(pbx):
    doc = document(pbx)
    op = doc["paths"]["/api/v1/cdr"]["get"]
    assert "cursor" in op["description"] and "FROM_UNIXTIME" in op["description"]
    assert {p["name"] for p in op["parameters"]} == {"start", "end", "src", "dest", "did", "limit", "cursor",
                                                     "since", "format", "with_recordings"}
    limit = [p for p in op["parameters"] if p["name"] == "limit"][0]["schema"]
    # JSON pages stop at 100,000 rows (400 above); a CSV export streams up to 10,000,000.
    assert limit["minimum"] == 1 and limit["maximum"] == 10000000 and limit["default"] == 1000
    assert "1-100000" in limit["description"]
    nxt = op["responses"]["200"]["content"]["application/json"]["schema"]["properties"]["data"]["properties"]["next"]
    assert nxt["nullable"] is True and "cursor" in nxt["description"]
