"""The parameters of the current request, from wherever the client put them: the
query string, a form or multipart body, or a JSON body (an object, or for routes
that take a list, a bare array). Validation is rfapi.params' job."""
from __future__ import annotations

from typing import Any, Dict, List

from flask import request

from .http import BadRequest


_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


class Gathered(dict):
    """The parameters of a request; ``typed`` names those from a JSON body."""

    typed: frozenset = frozenset()


def gather(array_param: str = "") -> Dict[str, Any]:
    """All parameters of the current request, by name (lists where repeated; a JSON
    body's values as they are). ``array_param``: a bare JSON array body is this
    parameter's value (a route whose body is a list of items, e.g. POST
    /extensions/import's rows)."""
    req = request._get_current_object()
    if not req.query_string and req.method not in _BODY_METHODS:
        return {}  # the polls (GET /test, /state, ...): nothing to gather
    found: Dict[str, Any] = {}
    from_json: Dict[str, Any] = {}

    def add(key: str, values: List[Any]) -> None:
        if key.endswith("[]"):
            key = key[:-2]
        found.setdefault(key, [])
        found[key].extend(values)

    for key in request.args:
        add(key, request.args.getlist(key))
    if request.method in _BODY_METHODS:
        if request.is_json:
            try:
                body = request.get_json(silent=True)
            except RecursionError:  # nested deeper than the parser's stack: not a request we serve
                raise BadRequest({"body": "is not valid JSON"}) from None
            if body is None:
                if request.get_data(cache=True):
                    raise BadRequest({"body": "is not valid JSON"})
            elif isinstance(body, list) and array_param:
                from_json[array_param] = body
            elif not isinstance(body, dict):
                raise BadRequest({"body": "must be a JSON object" + (
                    " or array" if array_param else "")})
            else:
                from_json.update(body)
        else:
            for key in request.form:
                add(key, request.form.getlist(key))
            for key in request.files:
                add(key, request.files.getlist(key))
    out = Gathered((k, (v[0] if len(v) == 1 and not isinstance(v[0], list) else v)) for k, v in found.items())
    for key, val in from_json.items():
        # also in the query string: given twice
        out[key] = [out[key], val] if key in out else val
    out.typed = frozenset(k for k in from_json if k not in found)
    return out
