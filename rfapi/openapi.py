"""OpenAPI 3.0 document built from the route table (rfapi/routing.py)."""
from __future__ import annotations

import re
from typing import Any, Dict, List

from . import __version__
from .http import reason
from .routing import BASIC_ONLY, PARAM_SCOPES, RouteSpec

PREFIX = "/api/v1"


def envelope(status: int, data_schema: Dict[str, Any] = None) -> Dict[str, Any]:
    return {
        "type": "object",
        "required": ["status", "message", "data"],
        "properties": {
            "status": {"type": "integer", "enum": [status]},
            "message": {"type": "string"},
            "data": data_schema if data_schema is not None else {"nullable": True},
        },
    }


ERRORS_SCHEMA = {
    "type": "object",
    "required": ["errors"],
    "properties": {"errors": {"type": "object", "additionalProperties": {"type": "string"}}},
}


REQUEST_ID = {"$ref": "#/components/headers/X-Request-Id"}


def _response(status: int, data_schema=None, description=None) -> Dict[str, Any]:
    return {"description": description or reason(status), "headers": {"X-Request-Id": REQUEST_ID},
            "content": {"application/json": {"schema": envelope(status, data_schema)}}}


def _file_schema(content_type: str) -> Dict[str, Any]:
    """A download's schema: text for text/* (CSV, event streams), else bytes."""
    if content_type.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}


# What any route may answer before (or instead of) its own work: the request limits
# rfapi.app.RequestLimits and Flask's body limit apply to every route, and every route
# that reads the database or Asterisk answers 503/504 when they are down or slow.
LIMITS = {
    413: "The body is over [api] max_body_bytes",
    414: "The path and query string are over 4094 bytes",
    431: "A header field is over 8190 bytes",
}
UNAVAILABLE = {
    503: "The database, Asterisk (AMI) or fwconsole is unreachable, or a lock was busy (Retry-After)",
    504: "The database, Asterisk or fwconsole did not answer in time",
}


def _example(spec: RouteSpec) -> Any:
    """A valid request body from the parameters' examples (when every required one has
    one): what a rule the schema cannot say (e.g. "a number not in use yet") looks like."""
    if not spec.params or any(p.required and p.example is None for p in spec.params):
        return None
    example = {p.name: p.example for p in spec.params if p.example is not None}
    return example or None


def _links(spec: RouteSpec, specs: List[RouteSpec]) -> Dict[str, Any]:
    """A create (201) whose answer holds the new thing's name links to the routes of the
    same resource that take that name in their path (POST /extension/add -> GET
    /extensions/{extension}, DELETE /extension/{extension})."""
    props = (spec.response or {}).get("properties") or {}
    links = {}
    for other in specs:
        if other is spec or other.tag != spec.tag or other.planned:
            continue
        names = re.findall(r"<(?:[a-z]+:)?([A-Za-z_]+)>", other.rule)
        if len(names) == 1 and names[0] in props:
            links["%s%s" % (other.method.capitalize(), _op_id(other).split("_", 1)[1].title().replace("_", ""))] = {
                "operationId": _op_id(other),
                "parameters": {names[0]: "$response.body#/data/%s" % names[0]}}
    return links


PATH_SEGMENT = {"type": "string", "pattern": r"^[^/\x00-\x1f\x7f-\x9f\u2028\u2029]+$"}


def _path_parameter(name: str, declared: Any) -> Dict[str, Any]:
    """A path variable: a description, or a Param whose pattern/enum and example the
    document shows (a name that does not match is answered 400 or 404)."""
    out: Dict[str, Any] = {"name": name, "in": "path", "required": True, "schema": dict(PATH_SEGMENT)}
    if isinstance(declared, str):
        out["description"] = declared
        return out
    out["description"] = declared.description
    if declared.pattern or declared.enum:
        # only what rfapi checks of a path segment: its pattern or enum
        out["schema"] = {k: v for k, v in declared.schema().items() if k in ("type", "pattern", "enum", "not")}
    if declared.example is not None:
        out["example"] = declared.example
    return out


def _no_null(schema: Any) -> Any:
    """The schema without ``nullable``: for query strings and forms, which carry only text."""
    if isinstance(schema, dict):
        return {k: _no_null(v) for k, v in schema.items() if k != "nullable"}
    if isinstance(schema, list):
        return [_no_null(v) for v in schema]
    return schema


def _op_id(spec: RouteSpec) -> str:
    return "%s_%s" % (spec.method.lower(), re.sub(r"[^A-Za-z0-9]+", "_", spec.rule).strip("_"))


def document(specs: List[RouteSpec], server: str = "") -> Dict[str, Any]:
    """The OpenAPI 3 document of these routes (every route: ``resources.all_specs()``)."""
    paths: Dict[str, Dict[str, Any]] = {}
    by_rule: Dict[str, set] = {}
    for spec in specs:
        by_rule.setdefault(spec.rule, set()).add(spec.method)
    for spec in specs:
        path = PREFIX + re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", spec.rule)
        op: Dict[str, Any] = {"tags": [spec.tag], "summary": spec.summary, "operationId": _op_id(spec)}
        if spec.description and spec.description != spec.summary:
            op["description"] = spec.description
        parameters = []
        for name in re.findall(r"<(?:[a-z]+:)?([A-Za-z_]+)>", spec.rule):
            parameters.append(_path_parameter(name, spec.path_params.get(name, "")))
        responses: Dict[str, Any] = {}
        if spec.planned:
            responses["501"] = _response(501, None, "Planned, not implemented yet")
        else:
            if spec.method in ("GET", "DELETE"):
                for p in spec.params:
                    parameters.append({"name": p.name, "in": "query", "required": p.required,
                                       "description": p.description,
                                       "schema": _no_null(p.schema()),
                                       **({"style": "form", "explode": True} if p.kind == "array" else {})})
            elif spec.params:
                props = {p.name: p.schema() for p in spec.params}
                required = [p.name for p in spec.params if p.required]
                body_schema: Dict[str, Any] = {"type": "object", "properties": props,
                                               "additionalProperties": False}
                if required:
                    body_schema["required"] = required
                # One content type per operation (generated clients, e.g. openapi-python-client,
                # cannot build a body offered in several): JSON, or multipart where a file is
                # uploaded. The server reads the same fields form-encoded too (a query string,
                # application/x-www-form-urlencoded, multipart), as the description says.
                if any(p.kind == "file" for p in spec.params):
                    ctype, schema = "multipart/form-data", _no_null(body_schema)  # a form has no null
                else:
                    ctype, schema = "application/json", body_schema
                media: Dict[str, Any] = {"schema": schema}
                example = _example(spec)
                if example is not None:
                    media["example"] = example
                op["requestBody"] = {"required": bool(required), "content": {ctype: media},
                                     "description": "Also accepted: the same fields form-encoded "
                                                    "(application/x-www-form-urlencoded or multipart/form-data)"
                                                    + (" or as a JSON object" if ctype != "application/json"
                                                       else "") + ", or in the query string."}
            if not spec.envelope:
                responses[str(spec.status)] = {"description": reason(spec.status), "content": {
                    "application/json": {"schema": spec.response or {"type": "object"}}}}
            elif spec.produces.startswith("application/json,"):
                # "application/json, text/csv": the enveloped JSON answer, or (format=csv) the
                # same data as a file of another type
                resp = _response(spec.status, spec.response)
                for ct in spec.produces.split(",")[1:]:
                    resp["content"][ct.strip()] = {"schema": _file_schema(ct.strip())}
                responses[str(spec.status)] = resp
            elif spec.produces != "application/json":
                # "a, b": a download in one of several types (e.g. format=csv|json)
                responses[str(spec.status)] = {"description": "The file", "content": {
                    ct.strip(): {"schema": (spec.response or {"type": "object"})
                                 if ct.strip() == "application/json" else _file_schema(ct.strip())}
                    for ct in spec.produces.split(",")}}
            else:
                responses[str(spec.status)] = _response(spec.status, spec.response)
            if spec.params or "<" in spec.rule:
                responses["400"] = _response(400, ERRORS_SCHEMA, "A parameter is missing or invalid")
            if spec.auth:
                responses["401"] = _response(401, None, "Missing or wrong credentials")
                responses["403"] = _response(403, None, "Admin without ALL SECTIONS")
                responses["429"] = _response(429, None, "Too many failed logins from this address")
            for code in spec.errors:
                responses.setdefault(str(code), _response(code))
            for code, why in LIMITS.items():
                if code != 413 or spec.method in ("POST", "PUT", "PATCH", "DELETE"):
                    responses.setdefault(str(code), _response(code, None, why))
            for code, why in UNAVAILABLE.items():
                responses.setdefault(str(code), _response(code, None, why))
            links = _links(spec, specs) if spec.status == 201 else {}
            if links:
                responses[str(spec.status)]["links"] = links
            for resp in responses.values():
                resp.setdefault("headers", {"X-Request-Id": REQUEST_ID})
        if parameters:
            op["parameters"] = parameters
        op["responses"] = responses
        if spec.auth:
            op["security"] = [{"basic": []}]
        else:
            op["security"] = []
        paths.setdefault(path, {})[spec.method.lower()] = op
    return token_security({
        "openapi": "3.0.3",
        "info": {"title": "rfapi — FreePBX REST API", "version": __version__,
                 "description": "Every answer is {status, message, data}. Methods a route does not "
                                "implement answer 405 with Allow; planned ones 501."},
        "servers": [{"url": server or "/"}],
        "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
                       "headers": {"X-Request-Id": {"required": True, "description": "names the request in "
                                                    "the access log and error logs",
                                                    "schema": {"type": "string", "pattern": "^[0-9a-f]{16}$"}}}},
        "security": [{"basic": []}],
        "paths": paths,
    }, specs)


def token_security(doc: Dict[str, Any], specs: List[RouteSpec]) -> Dict[str, Any]:
    """Add Bearer (API tokens) beside Basic: the scheme, and on each operation the
    scope a token needs (``x-rfapi-scope``, also in words in its description)."""
    doc["components"]["securitySchemes"]["bearer"] = {
        "type": "http", "scheme": "bearer", "bearerFormat": "rfapi_<id>_<secret>",
        "description": "An API token (POST /tokens) with scopes: read, write, calls, events, secrets. "
                       "GET /events also takes it as ?access_token= (browsers' EventSource)."}
    doc["security"] = [{"basic": []}, {"bearer": []}]
    for spec in specs:
        if not spec.auth:
            continue
        path = PREFIX + re.sub(r"<(?:[a-z]+:)?([A-Za-z_]+)>", r"{\1}", spec.rule)
        op = doc["paths"][path][spec.method.lower()]
        if spec.scope == BASIC_ONLY:
            op["x-rfapi-scope"] = None
            note = "API tokens cannot use this operation (Basic credentials only)."
        else:
            op["x-rfapi-scope"] = spec.scope
            op["security"] = [{"basic": []}, {"bearer": []}]
            note = "API token scope: %s." % spec.scope
            extra = [PARAM_SCOPES[p.name] for p in spec.params if p.name in PARAM_SCOPES]
            if extra:
                note += " With %s=yes also: %s." % (
                    "/".join(p.name for p in spec.params if p.name in PARAM_SCOPES), ", ".join(extra))
        op["description"] = (op["description"] + "\n\n" + note) if op.get("description") else note
        if "403" in op["responses"]:
            op["responses"]["403"]["description"] = "Admin without ALL SECTIONS, or a token without the scope"
    return doc
