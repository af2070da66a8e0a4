"""The OpenAPI document is the contract: schemathesis against rfapi as shipped.

rfapi runs under real gunicorn with deploy/gunicorn.conf.py (only the bind
differs, as in deploy/demo.sh) over a private clone of the office databases, the
AMI peer and the fwconsole stand-in. For every operation of the served
``/api/v1/openapi.json``:

* the document's own examples (a valid request where a rule cannot be said in
  OpenAPI 3.0, e.g. "a number no extension uses yet"; ``seed()`` below makes the
  world fit them first), then schema-generated valid requests (positive), then
  requests that break the schema (negative), each checked by schemathesis:
  not a server error, documented status, Content-Type, headers (X-Request-Id)
  and response schema; negative requests must be refused (negative data rejection);
* every write operation had at least one accepted (2xx) schema-generated request:
  a client generated from the document gets through, not only refusals;
* a stateful run follows the document's links (POST /extension/add ->
  GET /extensions/{extension} -> DELETE /extension/{extension}, the admins alike).

RFAPI_CONTRACT_EXAMPLES (default 12) generated examples per mode and operation,
derandomized. The counts are printed (``-s``): requests and 2xx per write operation.
"""
from __future__ import annotations

import os
import socket
import time
from typing import Any, Dict, List, Tuple

import pytest
import requests

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation.hypothesis import examples as st_examples
from schemathesis.specs.openapi import checks as oas

from rfapi import resources
from rfapi.openapi import document
from tests.support import dbworld, world
from tests.test_gunicorn import start_gunicorn

# One world and one gunicorn for the whole file: under pytest-xdist its tests stay together.
pytestmark = pytest.mark.xdist_group("contract")

EXAMPLES = int(os.environ.get("RFAPI_CONTRACT_EXAMPLES", "12"))
WRITES = ("POST", "PUT", "PATCH", "DELETE")

POSITIVE_CHECKS = [not_a_server_error, oas.status_code_conformance, oas.content_type_conformance,
                   oas.response_headers_conformance, oas.response_schema_conformance]
NEGATIVE_CHECKS = [not_a_server_error, oas.negative_data_rejection, oas.content_type_conformance,
                   oas.response_headers_conformance, oas.response_schema_conformance]

# The one place for what the tool gets wrong here: (METHOD, path, check name, status) ->
# why it is not an rfapi fault; "*" matches any. Every entry says why.
EXCLUDED: Dict[Tuple[str, str, str, Any], str] = {
    ("*", "*", "negative_data_rejection", 413): "a refusal (body too large, documented); schemathesis' "
                                                 "list of refusal statuses omits it",
    ("*", "*", "negative_data_rejection", 414): "a refusal (request target too long, documented); not in "
                                                 "schemathesis' list of refusal statuses",
    ("*", "*", "negative_data_rejection", 431): "a refusal (header field too large, documented); not in "
                                                 "schemathesis' list of refusal statuses",
    # A generated request line over 8190 bytes (a negative value far over a maxLength) is
    # refused by the server in front before rfapi sees it: gunicorn here (its maximum
    # limit_request_line, deploy/gunicorn.conf.py), Apache (LimitRequestLine) on a PBX, each
    # as its own HTML page. rfapi's JSON 414 (4094-8190 bytes) is tested in
    # tests/test_input_boundaries.py under the same gunicorn configuration.
    ("*", "*", "content_type_conformance", 414): "the front server's own 414 page (see above)",
    ("*", "*", "response_headers_conformance", 414): "the front server's own 414 page (see above)",
}


OPERATIONS = [(m.upper(), p) for p, ops in document(resources.all_specs())["paths"].items() for m in ops]
COUNTS: Dict[Tuple[str, str], Dict[int, int]] = {}


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture(scope="module")
def served(office_db, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("contract")
    clone = dbworld.clone_world(office_db)
    pbx = world.build(tmp, clone)
    # Wrong /call secrets count as failed logins and the fuzzer sends many; GET /events
    # streams until the client leaves: end each one after 0.2 s.
    pbx.ini.write_text(pbx.ini.read_text().replace("[api]\n", "[api]\nauth_fail_limit = 1000000\n"
                                                   "events_max_seconds = 0.2\n", 1))
    bind = "127.0.0.1:%d" % _free_port()
    gunicorn = start_gunicorn(pbx.ini, tmp / "gunicorn.log", bind)
    url = "http://" + bind
    try:
        schema = schemathesis.openapi.from_url(url + "/api/v1/openapi.json")
        yield pbx, url, schema
    finally:
        total = sum(sum(seen.values()) for seen in COUNTS.values())
        print("\ncontract: %d requests over %d operations; 2xx per write operation:" % (total, len(COUNTS)))
        for (method, path), seen in COUNTS.items():
            if method in WRITES:
                print("  %-6s %-45s %3d of %3d" % (method, path, sum(n for st, n in seen.items() if st < 300),
                                                 sum(seen.values())))
        gunicorn.stop()
        pbx.close()
        dbworld.drop_world(clone)


# -- what the document's examples need ------------------------------------------------
EXAMPLE_SECRET = "Example-secret-0101"  # POST /call's documented example secret of 101


def seed(session: requests.Session, url: str, method: str, path: str, auth: Dict[str, str]) -> None:
    """Make the world fit the document's examples for this operation: a create's example
    name must be free, a change's or delete's must exist."""
    api = url + "/api/v1"
    session.headers.update(auth)

    def call(m, p, **kw):
        r = session.request(m, api + p, timeout=30, **kw)
        assert r.status_code < 500, (m, p, r.status_code, r.text[:300])
        return r

    if path.endswith("/extension/add"):
        call("DELETE", "/extension/150")
    elif "/extension/{extension}" in path:
        call("POST", "/extension/add", data={"extension": "150", "exttype": "pjsip"})
    elif path.endswith("/did/add"):
        call("DELETE", "/did/5559990001")
    elif "/did/{did}" in path:
        call("POST", "/did/add", data={"did": "5559990001"})
    elif path.endswith("/ampusers/add") and method == "POST":
        call("DELETE", "/ampusers/ops")
    elif "/ampusers/{username}" in path and method != "GET":
        call("POST", "/ampusers/add", json={"username": "ops", "password": "a long passphrase", "sections": ["*"]})
    elif path.endswith("/call"):
        r = call("PUT", "/extension/101", data={"secret": EXAMPLE_SECRET})
        assert r.status_code == 200, r.text[:300]


EXAMPLE_UNIQUEID = "1718112615.405"  # DELETE /cdr/{uniqueid}/recording's documented example


EXAMPLE_TOKEN_ID = "0123456789abcdef"  # DELETE /tokens/{token_id}'s documented example


def seed_token(pbx) -> None:
    """A token with the documented example id (ids are random when the API makes one)."""
    import time

    from rfapi.adapters.tokenstore import TokenRow, TokenStore

    store = TokenStore(str(pbx.ini.parent / "state"))
    store.remove(EXAMPLE_TOKEN_ID)
    store.add(TokenRow(EXAMPLE_TOKEN_ID, "contract", ("read",), "0" * 64, time.time(), None))


def seed_recording(pbx) -> None:
    """A copy of a recorded call of the office under the documented example uniqueid,
    with its own copy of the recording file."""
    if pbx.sql("SELECT 1 FROM cdr WHERE uniqueid = %s", (EXAMPLE_UNIQUEID,), which="cdr"):
        return
    row = pbx.sql("SELECT uniqueid, recordingfile FROM cdr WHERE recordingfile <> '' ORDER BY calldate LIMIT 1",
                  which="cdr")[0]
    old = row["recordingfile"]
    old = old.decode() if isinstance(old, bytes) else old
    found = [f for f in pbx.monitor.rglob(os.path.basename(old))]
    assert found, old
    new_name = os.path.basename(old).replace(row["uniqueid"], EXAMPLE_UNIQUEID)
    (found[0].parent / new_name).write_bytes(found[0].read_bytes())
    conn = world.connect(pbx.db.cdr_db)
    try:
        cur = conn.cursor()
        cur.execute("CREATE TEMPORARY TABLE seed AS SELECT * FROM cdr WHERE uniqueid = %s LIMIT 1", (row["uniqueid"],))
        cur.execute("UPDATE seed SET uniqueid = %s, linkedid = %s, recordingfile = %s",
                    (EXAMPLE_UNIQUEID, EXAMPLE_UNIQUEID, old.replace(row["uniqueid"], EXAMPLE_UNIQUEID)))
        cur.execute("INSERT INTO cdr SELECT * FROM seed")
        conn.commit()
    finally:
        conn.close()


def _excluded(method: str, path: str, status: int) -> set:
    return {name for (m, p, name, st) in EXCLUDED
            if m in ("*", method) and p in ("*", path) and st in ("*", status)}


def run_operation(op, url: str, auth: Dict[str, str], examples: int = EXAMPLES) -> Dict[int, int]:
    method, path = op.method.upper(), op.path
    session = requests.Session()
    seen: Dict[int, int] = {}

    def one(case, mode: GenerationMode) -> None:
        # Valid credentials, unless the headers are what this negative case breaks
        # (then the generated Authorization, or none, goes as it is: 401 expected).
        header = (case.meta.components.get(ParameterLocation.HEADER) if case.meta else None)
        if not (mode is GenerationMode.NEGATIVE and header is not None and header.mode.is_negative):
            case.headers = dict(case.headers or {}, **auth)
        resp = case.call(base_url=url, session=session, timeout=30)
        seen[resp.status_code] = seen.get(resp.status_code, 0) + 1
        skip = _excluded(method, path, resp.status_code)
        checks = [c for c in (POSITIVE_CHECKS if mode is GenerationMode.POSITIVE else NEGATIVE_CHECKS)
                  if c.__name__ not in skip]
        try:
            case.validate_response(resp, checks=checks)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
            raise AssertionError("%s %s (%s): %s\n  %s" % (method, path, mode.value, str(exc)[:2000],
                                                             case.as_curl_command())) from None

    # The document's examples, as schemathesis builds them (missing parts filled in).
    seed(requests.Session(), url, method, path, auth)
    for strategy in op.get_strategies_from_examples(fill_missing=True):
        one(st_examples.generate_one(strategy), GenerationMode.POSITIVE)
    kw = dict(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        @settings(**kw)
        @given(case=op.as_strategy(generation_mode=mode))
        def run(case):
            one(case, mode)

        try:
            run()
        except Unsatisfiable:
            if mode is not GenerationMode.NEGATIVE:  # no negative value exists (e.g. any string is valid)
                raise
    return seen


@pytest.mark.parametrize("method,path", [pytest.param(m, p, id="%s %s" % (m, p)) for m, p in OPERATIONS])
def test_operation_keeps_the_contract(served, method, path):
    pbx, url, schema = served
    op = schema[path][method]
    if path.endswith("/recording") and method == "DELETE":
        seed_recording(pbx)
    if path.endswith("/tokens/{token_id}"):
        seed_token(pbx)
    seen = run_operation(op, url, pbx.auth)
    COUNTS[(method, path)] = seen
    print("%s %s: %s" % (method, path, dict(sorted(seen.items()))))
    # Something was really sent: two requests or more where anything can vary.
    varies = bool(op.definition.raw.get("parameters") or op.definition.raw.get("requestBody"))
    assert sum(seen.values()) >= (2 if varies else 1), seen
    if method in WRITES and "planned" not in (schema[path][method].definition.raw.get("summary") or "").lower():
        accepted = sum(n for status, n in seen.items() if 200 <= status < 300)
        assert accepted > 0, "no schema-generated %s %s was accepted: %s" % (method, path, seen)


def test_links_are_followed_statefully(served):
    """Create -> read -> change -> delete along the document's links; the checks above
    plus use-after-free (a deleted thing must be gone). At least one request used a
    name a create of the same run answered, and was accepted."""
    pbx, url, schema = served
    # The resources whose creates declare links (extensions, admins, inbound routes): the
    # other operations add nothing to a stateful run but steps that lead nowhere.
    machine = schema.include(tag_regex="^(extensions|ampusers|dids)$").as_state_machine()
    session = requests.Session()
    steps: List[Tuple[str, str, int]] = []
    created: set = set()
    made: set = set()
    followed: List[str] = []

    class Machine(machine):
        def get_call_kwargs(self, case):
            case.headers = dict(case.headers or {}, **pbx.auth)
            return {"base_url": url, "session": session, "timeout": 30}

        def teardown(self):
            # Every example starts from the same world: what this example created goes
            # (hypothesis replays a prefix of requests and needs the same answers again).
            for kind, name in sorted(made):
                session.delete("%s/api/v1/%s/%s" % (url, kind, name), headers=pbx.auth, timeout=30)
            made.clear()

        def validate_response(self, response, case, additional_checks=(), **kwargs):
            steps.append((case.method, case.path, response.status_code))
            if response.status_code == 201 and case.path.endswith("/add"):
                data = response.json()["data"]
                created.add(data.get("extension") or data.get("username"))
                kind = case.path.rsplit("/", 2)[-2]  # extension, ampusers, did
                made.add((kind, data.get("username") or data.get("extension") or data.get("did")))
            elif response.status_code < 300 and any(v in created for v in (case.path_parameters or {}).values()):
                followed.append("%s %s" % (case.method, case.path))
            case.validate_response(response, checks=POSITIVE_CHECKS + [oas.use_after_free])

    Machine.run(settings=settings(max_examples=max(EXAMPLES * 2, 8), stateful_step_count=4, deadline=None,
                                  database=None, derandomize=True, suppress_health_check=list(HealthCheck)))
    print("stateful: %d requests, %d creates, %d accepted requests along links: %s"
          % (len(steps), len(created), len(followed), sorted(set(followed))))
    assert created and followed, (steps, created)


# -- the rules the document states, as rfapi applies them --------------------------------
def test_a_route_word_is_refused_as_an_admin_name(served):
    """GET /ampusers/add is the list: an admin named add could never be read alone."""
    pbx, url, schema = served
    doc = requests.get(url + "/api/v1/openapi.json", timeout=10).json()
    username = doc["paths"]["/api/v1/ampusers/add"]["post"]["requestBody"]["content"]["application/json"][
        "schema"]["properties"]["username"]
    assert username["not"] == {"enum": ["add"]}
    r = requests.post(url + "/api/v1/ampusers/add", headers=pbx.auth, timeout=10,
                      json={"username": "add", "password": "a long passphrase", "sections": ["*"]})
    assert r.status_code == 400
    assert r.json()["data"]["errors"] == {"username": "must not be 'add': /ampusers/add is a route (add)"}
    assert pbx.sql("SELECT username FROM ampusers WHERE username = 'add'") == []


def test_route_words_come_from_the_route_table():
    from rfapi.routing import route_words, words_beside

    assert route_words("/ampusers/<username>") == ["add"]
    assert route_words("/extensions/<extension>") == ["export", "import"]
    assert route_words("/followme/<extension>/<entry>") == ["status"]
    assert words_beside("/x/<name>", ["/x/<name>", "/x/new", "/x/new/more", "/y/old"]) == ["new"]


@pytest.mark.parametrize("body,field,why", [
    ({"extension": 150, "exttype": "pjsip"}, "extension", "must be a string"),
    ({"extension": ["150"], "exttype": "pjsip"}, "extension", "must be a string"),
    ({"extension": "150", "exttype": "pjsip", "followme": True, "followmegrptime": 2.5}, "followmegrptime",
     "must be a whole number"),
    ({"extension": "150", "exttype": "pjsip", "voicemail": 1}, "voicemail", "must be a boolean"),
    ({"extension": "150", "exttype": "pjsip", "secret": "short-1"}, "secret",
     "is too short: a SIP secret needs at least 12 characters (omit it to have a 32-character one generated)"),
    ({"extension": "1", "exttype": "pjsip"}, "extension", "must be 2 to 10 digits"),
    ({"extension": "150", "exttype": "pjsip", "recInternalIn": "Always"}, "recInternalIn",
     "must be one of: always, dontcare, never (FreePBX's force, yes, no are accepted too)"),
])
def test_a_json_value_has_its_documented_type_or_its_text(served, body, field, why):
    pbx, url, _ = served
    r = requests.post(url + "/api/v1/extension/add", headers=pbx.auth, json=body, timeout=10)
    assert r.status_code == 400, r.text
    assert r.json()["data"]["errors"] == {field: why}


def test_text_forms_and_empty_values_are_what_the_document_says(served):
    """'' and null are "not sent"; booleans and numbers may come as their text."""
    pbx, url, _ = served
    r = requests.post(url + "/api/v1/extension/add", headers=pbx.auth, timeout=30, json={
        "extension": "158", "exttype": "pjsip", "secret": "", "email": None, "followme": "yes",
        "followmegrptime": "25", "recPriority": 3})
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert (data["followme"], data["followmegrptime"], data["recPriority"], data["email"]) == (True, 25, 3, None)
    assert len(data["secret"]) == 32  # '' is "not sent": one was generated


def test_every_operation_documents_the_limits_and_the_request_id():
    doc = document(resources.all_specs())
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            if "Planned" in op["summary"]:
                continue
            assert {"414", "431", "503", "504"} <= codes, (method, path, codes)
            assert ("413" in codes) == (method in ("post", "put", "patch", "delete")), (method, path)
            for resp in op["responses"].values():
                assert resp["headers"]["X-Request-Id"] == {"$ref": "#/components/headers/X-Request-Id"}


def test_the_contract_checks_catch_a_looser_server(pbx):
    """A server that accepts what its document refuses, and one that answers an
    undocumented status: the same run_operation must fail on both."""
    from werkzeug.serving import make_server
    import threading

    from rfapi.http import BadRequest
    from rfapi.params import Param
    from rfapi.routing import Resource

    res = Resource("zz_contractcheck")  # registered nowhere but this test's app

    @res.route("/zz/word", "POST", params=[Param("word", required=True, max_length=20)],
               response={"type": "object"})
    def word(params):
        return {}

    @res.route("/zz/teapot", "GET", response={"type": "object"})
    def teapot(params):
        raise BadRequest({"x": "an undocumented 400"})

    doc = document(res.specs)
    # The document is stricter than the route: a word is lower-case letters.
    props = doc["paths"]["/api/v1/zz/word"]["post"]["requestBody"]["content"]
    for media in props.values():
        media["schema"]["properties"]["word"] = {"type": "string", "pattern": "^[a-z]+$", "minLength": 1}
    pbx.app.register_blueprint(res.blueprint, url_prefix="/api/v1")
    srv = make_server("127.0.0.1", 0, pbx.app, threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = "http://127.0.0.1:%d" % srv.server_port
        schema = schemathesis.openapi.from_dict(doc)
        with pytest.raises(AssertionError, match="Schema-violating request accepted"):
            run_operation(schema["/api/v1/zz/word"]["POST"], url, pbx.auth, examples=40)
        with pytest.raises(AssertionError, match="Undocumented status code"):
            run_operation(schema["/api/v1/zz/teapot"]["GET"], url, pbx.auth)
    finally:
        srv.shutdown()
        srv.server_close()


def test_the_demo_serves_under_the_shipped_gunicorn_config():
    """README command 1 is the product: deploy/demo.sh runs gunicorn with
    deploy/gunicorn.conf.py and overrides nothing but the bind (an environment variable
    the config file reads), so its 414/431 are rfapi's JSON answers as on a PBX."""
    import re
    from pathlib import Path

    script = (Path(__file__).resolve().parent.parent / "deploy" / "demo.sh").read_text()
    command = re.sub(r"\\\n\s*", "", script).strip().splitlines()[-1]
    words = command.split()
    assert words[words.index(".venv/bin/gunicorn") + 1:] == ["--config", "deploy/gunicorn.conf.py",
                                                             "'rfapi:create_app()'"]
    settings_env = [w for w in words[:words.index(".venv/bin/gunicorn")]]
    assert settings_env == ['RFAPI_CONFIG="$ROOT/rfapi.ini"', "RFAPI_BIND=127.0.0.1:8080"]
    assert "RFAPI_BIND" in (Path(__file__).resolve().parent.parent / "deploy" / "gunicorn.conf.py").read_text()
