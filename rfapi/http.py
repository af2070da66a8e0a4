"""The answer envelope and the errors every route may raise.

Every answer is ``{"status": <int>, "message": <str>, "data": <any>}`` with the
HTTP status equal to ``status``; ``message`` is the standard reason phrase
unless a sentence helps the caller more ("Extension 101 already exists")."""
from __future__ import annotations

import datetime
import decimal
import json
from typing import Any, Dict, List, Mapping, Optional

from flask import Response
from werkzeug.http import HTTP_STATUS_CODES


def reason(status: int) -> str:
    if status == 404:
        return "Not Found"
    return HTTP_STATUS_CODES.get(status, "Unknown")


def _default(obj: Any):
    if isinstance(obj, datetime.datetime):
        return obj.isoformat()
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, datetime.timedelta):
        return obj.total_seconds()
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    if isinstance(obj, (bytes, bytearray)):
        return obj.decode("utf-8", "replace")
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError("not JSON serialisable: %s" % type(obj).__name__)


# One encoder for the process: json.dumps() with options builds a new one per call,
# a measurable share of a small answer. JSONEncoder.encode keeps no state between calls.
_ENCODER = json.JSONEncoder(default=_default, ensure_ascii=False, separators=(",", ":"))

try:  # orjson writes the same text 5-8x faster (a 1,000-row /cdr page: 4.8 ms -> 0.6 ms)
    import orjson as _orjson

    _ORJSON_OPTIONS = _orjson.OPT_NON_STR_KEYS  # int keys become strings, as json does
except ImportError:  # not installed (e.g. a wheelhouse without it): the standard library's encoder
    _orjson = None


def to_json_bytes(payload: Any) -> bytes:
    """``to_json(payload)`` as UTF-8 bytes (what a Response sends).

    orjson's output is byte-identical to the json encoder above (compact, UTF-8
    unescaped, the same escapes, key order kept, ``_default`` for the rest);
    what it refuses (an int over 64 bits, a lone surrogate, nesting over 254
    levels) goes to the json encoder, which then answers or raises as before."""
    if _orjson is not None:
        try:
            return _orjson.dumps(payload, default=_default, option=_ORJSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            pass
    return _ENCODER.encode(payload).encode("utf-8")


def to_json(payload: Any) -> str:
    if _orjson is not None:
        try:
            return _orjson.dumps(payload, default=_default, option=_ORJSON_OPTIONS).decode("utf-8")
        except TypeError:
            pass
    return _ENCODER.encode(payload)


def to_json_each(items: List[Dict[str, Any]], first_key: str) -> List[str]:
    """``[to_json(x) for x in items]`` in one encoder pass (one call per item costs
    more than the encoding of a small object). Every item must be a dict whose first
    key is ``first_key`` and that key must appear nowhere nested inside the items:
    the text ``,{"<first_key>":`` then occurs only where an item starts, never in a
    string (a quote inside a JSON string is always escaped)."""
    if not items:
        return []
    text = to_json(items)
    sep = ',{"%s":' % first_key
    parts = text[1:-1].split(sep)
    if len(parts) != len(items):  # a caller broke the contract: stay correct, just slower
        return [to_json(x) for x in items]
    return [parts[0]] + [sep[1:] + p for p in parts[1:]]


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


class ApiError(Exception):
    """Raise anywhere in a request to answer with this status/message/data."""

    status = 500

    def __init__(self, message: Optional[str] = None, data: Any = None, status: Optional[int] = None,
                 headers: Optional[Dict[str, str]] = None):
        if status is not None:
            self.status = status
        self.message = message or reason(self.status)
        self.data = data
        self.headers = headers or {}
        super().__init__(self.message)

    def response(self) -> Response:
        return reply(self.data, self.status, self.message, self.headers)


class BadRequest(ApiError):
    """400 with ``data: {"errors": {field: why}}``."""

    status = 400

    def __init__(self, errors: Dict[str, str], message: Optional[str] = None):
        if message is None:
            fields = ", ".join(sorted(errors))
            message = "Invalid parameter%s: %s" % ("s" if len(errors) > 1 else "", fields)
        super().__init__(message, {"errors": errors})


class Forbidden(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class Conflict(ApiError):
    status = 409


class TooManyRequests(ApiError):
    status = 429


class ServiceUnavailable(ApiError):
    status = 503


class GatewayTimeout(ApiError):
    status = 504
