"""Property fuzzing (schemathesis) of every operation of the served OpenAPI document.

The app runs on a real HTTP server (werkzeug, threaded) over a private clone of
the office databases, the AMI peer and the fwconsole stand-in. For every
operation of ``/api/v1/openapi.json`` schemathesis generates requests that
match the document (positive) and requests that break it (negative); each one
is sent with valid credentials and must satisfy:

* no 5xx, except a 502/503/504 the operation documents (none is expected here:
  the whole world is up);
* positive cases: the status is documented, the Content-Type is the documented
  one and the body matches the documented schema (schemathesis' conformance
  checks); negative cases: the body is the envelope and matches the schema
  when the status is documented;
* a request answered 4xx changed nothing: databases, AstDB, voicemail.conf and
  the spool/sounds files are compared before and after *that request*.

Why per request and not one dump around the whole run: a 2xx write (a DID
created by a positive case) legitimately changes the state, and would hide any
change a 4xx made in the same run. Requests are sent one at a time, so the
state after request n is the state before request n+1: one fingerprint per
request, compared only when the answer was 4xx, and the baseline moves on
after a 2xx. Nothing else writes to this world meanwhile.

The fingerprint (``State``) is what ``Pbx.snapshot()`` covers, made cheap
enough to take ~1500 times: ``CHECKSUM TABLE`` of every table of both
databases (a checksum over the contents of every row, not the QUICK live
checksum; one round trip per database on a kept-open connection), the AMI
peer's whole AstDB, voicemail.conf's bytes, and every spool/sounds file's
bytes. When a 4xx request changed a checksum, the report names the tables.

CI runs RFAPI_FUZZ_EXAMPLES (default 6) examples per mode and operation,
derandomized (the same cases every run). A larger, random run:

    RFAPI_FUZZ_EXAMPLES=200 RFAPI_FUZZ_SEED=random .venv/bin/python -m pytest -q tests/test_fuzz.py
"""
from __future__ import annotations

import os
import threading
from typing import Any, Dict, List, Tuple

import pytest
import requests

import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
# The conformance checks (same module path in schemathesis 4.4 .. 4.32).
from schemathesis.specs.openapi import checks as oas_checks
from werkzeug.serving import make_server

from rfapi import resources
from rfapi.openapi import document
from tests.support import dbworld, world

EXAMPLES = int(os.environ.get("RFAPI_FUZZ_EXAMPLES", "6"))
SEED = os.environ.get("RFAPI_FUZZ_SEED", "")  # "" = derandomized; "random"; or an integer
# 502/503/504: Asterisk or the database refused/unreachable/slow; 501: a planned
# route (documented as its only answer).
ALLOWED_5XX = {"501", "502", "503", "504"}


def _static_operations() -> List[Tuple[str, str]]:
    """(METHOD, path) of every operation, from the same route table the server uses."""
    doc = document(resources.all_specs())
    return [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops]


OPERATIONS = _static_operations()

# The document itself is served bare (not in the envelope) but declared as an
# envelope: see rfapi/resources/openapi.py.
KNOWN_BAD = {}  # (method, path) -> reason: operations expected to fail until a known bug is fixed


class Server:
    """The app on a real socket: werkzeug's threaded server in a daemon thread."""

    def __init__(self, app):
        self._srv = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = "http://127.0.0.1:%d" % self._srv.server_port
        self._thread = threading.Thread(target=self._srv.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(5)


@pytest.fixture(scope="module")
def fuzz_world(office_db, tmp_path_factory):
    clone = dbworld.clone_world(office_db)
    pbx = world.build(tmp_path_factory.mktemp("fuzz"), clone)
    # Wrong /call secrets count as failed logins; the fuzzer sends many, and a
    # 429 for 127.0.0.1 would end the run's usefulness.
    # GET /events streams until the client leaves: end each stream after 0.2 s here.
    pbx.ini.write_text(pbx.ini.read_text().replace("[api]\n", "[api]\nauth_fail_limit = 1000000\n"
                                                   "events_max_seconds = 0.2\n", 1))
    server = Server(pbx.app)
    state = State(pbx)
    try:
        schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
        yield pbx, server, schema, state
    finally:
        state.close()
        server.close()
        pbx.close()
        dbworld.drop_world(clone)


def test_document_lists_every_route(fuzz_world):
    """The served document is the route table (so the fuzzing below covers every route)."""
    pbx, server, _, _ = fuzz_world
    doc = requests.get(server.url + "/api/v1/openapi.json", timeout=10).json()
    served = [(m.upper(), p) for p, ops in doc["paths"].items() for m in ops]
    assert served == OPERATIONS
    assert doc["servers"] == [{"url": server.url}]


def _documented(op, status: int) -> bool:
    """Does the operation's document list this status?"""
    responses = op.definition.raw.get("responses", {})
    return str(status) in responses


def _envelope_ok(resp: requests.Response) -> Tuple[bool, Any]:
    try:
        body = resp.json()
    except ValueError:
        return False, resp.text[:200]
    ok = isinstance(body, dict) and set(body) == {"status", "message", "data"} \
        and body["status"] == resp.status_code and isinstance(body["message"], str)
    return ok, body


class State:
    """Everything a request could change, fingerprinted (see the module docstring)."""

    def __init__(self, pbx):
        self.pbx = pbx
        self.conn = world.connect(pbx.db.config_db)
        cur = self.conn.cursor()
        self.tables = {}
        for which, db in (("config", pbx.db.config_db), ("cdr", pbx.db.cdr_db)):
            cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                        "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (db,))
            self.tables[which] = ", ".join("`%s`.`%s`" % (db, r[0]) for r in cur.fetchall())
        cur.close()

    def take(self) -> Dict[str, Any]:
        cur = self.conn.cursor()
        db = {}
        for which, tables in self.tables.items():
            cur.execute("CHECKSUM TABLE " + tables + " EXTENDED")
            db[which] = {r[0]: r[1] for r in cur.fetchall()}
        cur.close()
        files = {}
        for base in (self.pbx.spool, self.pbx.sounds):
            for p in sorted(base.rglob("*")):
                if p.is_file() and not p.is_symlink():
                    files[str(p)] = p.read_bytes()
        with self.pbx.peer.lock:
            astdb = dict(self.pbx.peer.astdb)
        return {"db": db, "astdb": astdb, "voicemail_conf": self.pbx.voicemail_conf.read_bytes(), "files": files}

    def close(self) -> None:
        self.conn.close()


def _diff(before: Dict[str, Any], after: Dict[str, Any]) -> List[str]:
    out = []
    for which in ("config", "cdr"):
        for table in sorted(set(before["db"][which]) | set(after["db"][which])):
            if before["db"][which].get(table) != after["db"][which].get(table):
                out.append("table %s" % table)
    for key in ("astdb", "voicemail_conf", "files"):
        if before[key] != after[key]:
            if key == "astdb":
                changed = sorted(k for k in set(before[key]) | set(after[key])
                                 if before[key].get(k) != after[key].get(k))
                out.append("astdb %s" % changed[:10])
            elif key == "files":
                changed = sorted(k for k in set(before[key]) | set(after[key])
                                 if before[key].get(k) != after[key].get(k))
                out.append("files %s" % changed[:10])
            else:
                out.append(key)
    return out


def _settings():
    kw = dict(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate, Phase.shrink])
    if not SEED:
        kw["derandomize"] = True
    return settings(**kw)


def _params():
    out = []
    for op in OPERATIONS:
        marks = []
        if op in KNOWN_BAD:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_BAD[op]))
        out.append(pytest.param(op[0], op[1], marks=marks, id="%s %s" % op))
    return out


def fuzz_operation(op, base_url: str, auth: str, fingerprint: State, examples: int = EXAMPLES) -> Dict[int, int]:
    """Send positive then negative cases of ``op``; raise AssertionError on the
    first broken rule (hypothesis then shrinks it). Returns {status: count}."""
    method, path = op.method.upper(), op.path
    full_path = op.full_path if hasattr(op, "full_path") else path
    session = requests.Session()
    state: Dict[str, Any] = {"snap": fingerprint.take(), "seen": {}}

    def one(case, mode) -> None:
        case.headers = dict(case.headers or {})
        case.headers["Authorization"] = auth
        try:
            resp = case.call(base_url=base_url, session=session, timeout=30)
        except requests.RequestException as exc:
            raise AssertionError("%s %s (%s): transport error %s\n  %s"
                                 % (method, path, mode.value, exc, case.as_curl_command())) from None
        status = resp.status_code
        state["seen"][status] = state["seen"].get(status, 0) + 1
        after = fingerprint.take()
        problems = []
        if status >= 500 and not (str(status) in ALLOWED_5XX and _documented(op, status)):
            problems.append("server error %d: %s" % (status, resp.text[:300]))
        if 400 <= status < 500:
            changed = _diff(state["snap"], after)
            if changed:
                problems.append("answered %d but changed: %s" % (status, "; ".join(changed)))
        is_json = "application/json" in resp.headers.get("Content-Type", "")
        bare_document = full_path.endswith("/openapi.json") and status == 200
        if (is_json or status >= 300) and not bare_document:
            ok, body = _envelope_ok(resp)
            if not ok:
                problems.append("not the envelope: %r" % (body,))
        if mode is GenerationMode.POSITIVE or _documented(op, status):
            checks = [oas_checks.response_schema_conformance, oas_checks.content_type_conformance]
            if mode is GenerationMode.POSITIVE:
                checks.append(oas_checks.status_code_conformance)
            try:
                case.validate_response(resp, checks=checks)
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
                problems.append("does not match the document: %s" % str(exc)[:1500])
        state["snap"] = after
        if problems:
            raise AssertionError("%s %s (%s) %s\n  %s" % (method, path, mode.value, " | ".join(problems),
                                                          case.as_curl_command()))

    kw = dict(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=[Phase.explicit, Phase.generate, Phase.shrink])
    if not SEED:
        kw["derandomize"] = True
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategy = op.as_strategy(generation_mode=mode)

        @settings(**kw)
        @given(case=strategy)
        def run(case):
            one(case, mode)

        if SEED and SEED != "random":
            run = seed(int(SEED))(run)
        try:
            run()
        except Unsatisfiable:
            # Older schemathesis (4.4, the Python 3.9 line) finds no negative value for
            # some path parameters; the positive cases of this operation did run.
            if mode is not GenerationMode.NEGATIVE:
                raise
    return state["seen"]


@pytest.mark.parametrize("method,path", _params())
def test_fuzz_operation(fuzz_world, method, path):
    pbx, server, schema, fingerprint = fuzz_world
    seen = fuzz_operation(schema[path][method], server.url, pbx.auth["Authorization"], fingerprint)
    # Something was really sent: at least one case, two where there is anything to vary
    # (an operation with no parameters, like GET /openapi.json, has exactly one case).
    op = schema[path][method]
    varies = bool(getattr(op, "path_parameters", None) or getattr(op, "query", None) or getattr(op, "body", None))
    assert sum(seen.values()) >= (2 if varies or "{" in path else 1), seen
    print("%s %s: %s" % (method, path, dict(sorted(seen.items()))))


# -- the checks above can fail -----------------------------------------------------------
def test_fuzzer_catches_a_4xx_that_wrote_and_an_undocumented_body(pbx_rw):
    """A route that writes and then answers 400, and one whose body breaks its
    schema: the same fuzzing code must reject both."""
    from rfapi.http import BadRequest
    from rfapi.params import Param
    from rfapi.routing import Resource
    from rfapi.runtime import runtime

    res = Resource("zz_fuzzcheck")  # registered nowhere but this test's app

    @res.route("/zz/leak", "POST", params=[Param("note", max_length=20)], response={"type": "object"},
               status=201)
    def leak(params):
        runtime().db.execute("INSERT INTO globals (variable, value) VALUES (%s, %s) "
                             "ON DUPLICATE KEY UPDATE value = value + 1", ("RFAPI_LEAK", "1"))
        raise BadRequest({"note": "refused (after writing: the bug under test)"})

    @res.route("/zz/liar", "GET", response={"type": "object", "required": ["n"],
                                            "properties": {"n": {"type": "integer"}}})
    def liar(params):
        return {"n": "not a number"}

    doc = document(res.specs)
    assert sorted(doc["paths"]) == ["/api/v1/zz/leak", "/api/v1/zz/liar"]
    pbx_rw.app.register_blueprint(res.blueprint, url_prefix="/api/v1")
    server = Server(pbx_rw.app)
    fingerprint = State(pbx_rw)
    try:
        schema = schemathesis.openapi.from_dict(doc)
        with pytest.raises(AssertionError, match=r"answered 400 but changed: table rfapi_t[0-9a-f]{8}_asterisk\.globals"):
            fuzz_operation(schema["/api/v1/zz/leak"]["POST"], server.url, pbx_rw.auth["Authorization"],
                           fingerprint, examples=3)
        with pytest.raises(AssertionError, match=r"does not match the document"):
            fuzz_operation(schema["/api/v1/zz/liar"]["GET"], server.url, pbx_rw.auth["Authorization"],
                           fingerprint, examples=3)
    finally:
        fingerprint.close()
        server.close()


def _patterns(schema, where):
    if not isinstance(schema, dict):
        return
    if "pattern" in schema:
        yield where, schema["pattern"]
    for key in ("items",):
        yield from _patterns(schema.get(key), where + "[]")
    for name, sub in (schema.get("properties") or {}).items():
        yield from _patterns(sub, "%s.%s" % (where, name))


def test_documented_patterns_are_anchored_like_validation():
    bad = []
    for path, ops in document(resources.all_specs())["paths"].items():
        for method, op in ops.items():
            here = "%s %s" % (method.upper(), path)
            for p in op.get("parameters", []):
                if p["in"] != "path":
                    bad.extend(w for w, pat in _patterns(p["schema"], "%s ?%s" % (here, p["name"]))
                               if not (pat.startswith("^") and pat.endswith("$")))
            for media in (op.get("requestBody") or {}).get("content", {}).values():
                bad.extend("%s %s" % (w, pat) for w, pat in _patterns(media["schema"], here)
                           if not (pat.startswith("^") and pat.endswith("$")))
    assert bad == []


def test_methods_a_path_does_not_document_answer_405(fuzz_world):
    """"All methods": what the document does not list for a path is refused, with Allow."""
    pbx, server, _, fingerprint = fuzz_world
    doc = document(resources.all_specs())
    before = fingerprint.take()
    s = requests.Session()
    adapter = pbx.app.url_map.bind("localhost")
    for path, ops in doc["paths"].items():
        concrete = path.replace("{", "").replace("}", "")
        url = server.url + concrete
        # Every rule matching this URL counts (DELETE /did/add is "delete DID 'add'").
        allow = set(adapter.allowed_methods(concrete)) - {"OPTIONS"}
        assert {m.upper() for m in ops} <= allow
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            if method in allow:
                continue
            r = s.request(method, url, headers=pbx.auth, timeout=10)
            assert r.status_code == 405, (method, path, r.status_code)
            assert set(r.headers["Allow"].split(", ")) == allow, (method, path, r.headers["Allow"])
            assert r.json() == {"status": 405, "message": "Method Not Allowed", "data": None}
    assert fingerprint.take() == before
