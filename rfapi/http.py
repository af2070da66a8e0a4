"""The answer envelope: the JSON responses every route sends.

Every answer is ``{"status": <int>, "message": <str>, "data": <any>}`` with the
HTTP status equal to ``status``; ``message`` is the standard reason phrase
unless a sentence helps the caller more ("Extension 101 already exists")."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from flask import Response

from .encoding import to_json, to_json_bytes, to_json_each  # noqa: F401 (re-exported)
from .errors import (ApiError, BadRequest, Conflict, Forbidden, GatewayTimeout,  # noqa: F401 (re-exported)
                     NotFound, ServiceUnavailable, TooManyRequests, reason)


def reply(data: Any = None, status: int = 200, message: Optional[str] = None,
          headers: Optional[Mapping[str, str]] = None) -> Response:
    body = to_json_bytes({"status": status, "message": message or reason(status), "data": data})
    resp = Response(body, status=status, mimetype="application/json")
    if headers:
        for k, v in headers.items():
            resp.headers[k] = v
    return resp


def reply_json(data_json: str, status: int = 200, message: Optional[str] = None) -> Response:
    """The envelope around ``data`` that is already JSON text (a cached answer):
    byte-identical to ``reply(json.loads(data_json), ...)``."""
    body = '{"status":%d,"message":%s,"data":%s}' % (status, to_json(message or reason(status)), data_json)
    return Response(body, status=status, mimetype="application/json")


def error_response(exc: ApiError) -> Response:
    """The envelope for an error a service raised."""
    return reply(exc.data, exc.status, exc.message, exc.headers)
