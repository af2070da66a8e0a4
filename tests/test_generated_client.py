"""A Python client generated from /api/v1/openapi.json (openapi-python-client, offline:
the document is a local file) calls every route of the API against the test world:
each request is expressible through the generated functions (JSON, form and multipart
bodies, downloads) and each answer has a status the document lists and parses."""
from __future__ import annotations

import importlib
import inspect
import io
import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.support import office, world
from tests.test_cdr_recordings import recorded_rows
from tests.test_voicemail import messages

PKG = "rfapi_generated_client"


def generate(doc: bytes, where: Path):
    spec = where / "openapi.json"
    spec.write_bytes(doc)
    cli = Path(sys.executable).parent / "openapi-python-client"
    r = subprocess.run([str(cli), "generate", "--path", str(spec), "--meta", "none", "--output-path",
                        str(where / PKG)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Unsupported content_type" not in r.stdout + r.stderr, r.stdout + r.stderr
    sys.path.insert(0, str(where))
    return importlib.import_module(PKG)


def path_samples():
    msg = [m for m in messages("101") if m["folder"] == "INBOX" and m["number"] == 0][0]
    return {"did": office.MAIN_DID, "extension": "101", "ext": "101", "name": office.RECORDINGS[0]["displayname"],
            "uniqueid": recorded_rows()[0][0]["uniqueid"], "context": "extensions", "username": "helpdesk",
            "entry": "5551234567", "message": msg["msg_id"], "token_id": "0123456789abcdef",
            "index": "0"}


BODY = {"did": "5559990001", "extension": "150", "exttype": "pjsip", "username": "genclient",
        "password": "Gen-Client-Pass-1", "ext": "101", "secret": "not-the-secret", "dest": "102",
        "messages": ["no-such-message"], "sections": ["*"], "name": "generated-client", "scopes": ["read"],
        "state": "toggle", "enabled": True}


def body_for(schema):
    out = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        if prop.get("enum"):
            out[name] = prop["enum"][0]
        elif prop.get("type") == "array":
            out[name] = BODY.get(name, ["x"])
        else:
            out[name] = BODY[name]
    if not out:  # a change with nothing required still has to send something (an empty PUT is a 400)
        out = {k: v["example"] for k, v in schema.get("properties", {}).items() if "example" in v}
    return out


def test_a_generated_client_calls_every_route(pbx_rw, tmp_path):
    pbx_rw.ini.write_text(pbx_rw.ini.read_text().replace("[api]\n", "[api]\nevents_max_seconds = 0.5\n", 1))
    doc = pbx_rw.get("openapi.json").get_data()
    pkg = generate(doc, tmp_path)
    try:
        _call_everything(pbx_rw, pkg, json.loads(doc))
    finally:
        sys.path.remove(str(tmp_path))
        for m in [m for m in sys.modules if m == PKG or m.startswith(PKG + ".")]:
            del sys.modules[m]


def _call_everything(pbx, pkg, doc):
    client_mod = importlib.import_module(PKG + ".client")
    types = importlib.import_module(PKG + ".types")
    client = client_mod.Client(base_url="http://pbx", raise_on_unexpected_status=True, httpx_args={
        "transport": httpx.WSGITransport(app=pbx.app), "auth": (world.API_USER, world.API_PASSWORD)})
    samples = path_samples()
    ops = [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]
    order = {"get": 0, "post": 1, "put": 2, "delete": 3}
    ops.sort(key=lambda o: order[o[1]])
    failures, statuses = [], {}
    for path, method, op in ops:
        tag, op_id = op["tags"][0], op["operationId"]
        mod = importlib.import_module("%s.api.%s.%s" % (PKG, tag, op_id))
        sig = inspect.signature(mod.sync_detailed)
        kwargs = {"client": client}
        for p in op.get("parameters", []):
            if p["in"] == "path":
                kwargs[p["name"]] = samples[p["name"]]
        if "body" in sig.parameters and "requestBody" in op:
            content = op["requestBody"]["content"]
            (ctype, media), = content.items()  # one content type per operation
            (model,) = _body_types(mod)
            if op_id == "post_extensions_import":
                assert ctype == "multipart/form-data"
                csv = b"extension,name,ringtimer\n101,Alice Johnson,9\n"
                kwargs["body"] = model(file=types.File(payload=io.BytesIO(csv), file_name="x.csv"))
            else:
                assert ctype == "application/json", op_id
                kwargs["body"] = model.from_dict(body_for(media["schema"]))
        try:
            resp = mod.sync_detailed(**kwargs)
        except Exception as exc:  # an undocumented status, a parse error, a request it cannot build
            failures.append("%s %s: %s: %s" % (method.upper(), path, type(exc).__name__, str(exc)[:200]))
            continue
        statuses["%s %s" % (method.upper(), path)] = resp.status_code
        if str(resp.status_code) not in op["responses"] or resp.status_code >= 500:
            failures.append("%s %s: status %d" % (method.upper(), path, resp.status_code))
        elif resp.headers.get("content-type", "").startswith("application/json") and resp.parsed is None:
            failures.append("%s %s: answer %d not parsed" % (method.upper(), path, resp.status_code))
    assert failures == []
    # the calls did what they say, not just answer: reads, a JSON create, a multipart import, downloads
    ok = {k: v for k, v in statuses.items() if v < 300}
    for route in ("GET /api/v1/extensions/{extension}", "GET /api/v1/cdr/{uniqueid}/recording",
                  "GET /api/v1/voicemail/{ext}/{message}", "GET /api/v1/recordings/{name}",
                  "POST /api/v1/did/add", "POST /api/v1/extension/add", "POST /api/v1/extensions/import",
                  "PUT /api/v1/did/{did}", "GET /api/v1/extensions/export", "GET /api/v1/events",
                  "DELETE /api/v1/extension/{extension}", "POST /api/v1/tokens", "POST /api/v1/ampusers/add",
                  "PUT /api/v1/callforward/{extension}", "PUT /api/v1/callflowcontrols/{index}"):
        assert route in ok, (route, statuses.get(route))
    assert pbx.sql("SELECT ringtimer FROM users WHERE extension='101'") == []  # imported, then deleted
    assert pbx.sql("SELECT description FROM incoming WHERE extension='5559990001'")[0]["description"] == \
        "5559990001"


def _body_types(mod):
    ann = inspect.signature(mod._get_kwargs).parameters["body"].annotation
    if isinstance(ann, type):
        return [ann]
    if isinstance(ann, str):
        names = [s.strip() for s in ann.split("|") if s.strip().endswith("Body")]
        return [getattr(mod, n) for n in names]
    return [a for a in getattr(ann, "__args__", ()) if isinstance(a, type) and a.__name__.endswith("Body")]
