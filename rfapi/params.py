"""Request parameters: declared once per route, used both to validate requests
and to write the OpenAPI document (one source of truth).

Parameters may come as a query string, a form-encoded or multipart body, or a
JSON object body. Unknown parameters are refused (a typo such as
``voicemial=yes`` must not be silently ignored on a live PBX)."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Sequence

from flask import request

from .http import BadRequest

TRUE = {"1", "true", "yes", "on", "y"}
FALSE = {"0", "false", "no", "off", "n", ""}

# Control characters are refused everywhere, in every parameter and path segment:
# every C0 control including TAB (U+0000-U+001F), DEL, every C1 control
# (U+0080-U+009F) and the Unicode line/paragraph separators U+2028/U+2029.
# CR/LF/NUL would break AMI framing, voicemail.conf lines and log lines; TAB is
# a field separator in Asterisk's and FreePBX's own files and splits words in
# dialplan; nothing legitimate in this API needs any of them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


def truthy(value: Any) -> bool:
    """FreePBX-style booleans; anything unrecognised is a ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.strip().lower()
        if v in TRUE:
            return True
        if v in FALSE:
            return False
    raise ValueError("must be a boolean (1/0, true/false, yes/no, on/off, y/n)")


@dataclass
class Param:
    name: str
    kind: str = "string"  # string | digits | integer | number | boolean | array | json | enum | file
    required: bool = False
    default: Any = None
    description: str = ""
    enum: Optional[Sequence[str]] = None
    pattern: Optional[str] = None
    pattern_help: str = ""
    minimum: Optional[float] = None
    maximum: Optional[float] = None
    max_length: int = 255
    min_length: int = 0
    items_pattern: Optional[str] = None
    secret: bool = False  # redacted in the audit log
    check: Optional[Callable[[Any], Any]] = None  # extra validation; raise ValueError(why)
    example: Any = None
    empty: bool = False  # '' is a value (it clears the field: PUT), not "not sent"; check() is not called for it

    def schema(self) -> Dict[str, Any]:
        k = self.kind
        if k == "boolean":
            s: Dict[str, Any] = {"type": "boolean"}
        elif k == "integer":
            s = {"type": "integer"}
        elif k == "number":
            s = {"type": "number"}
        elif k == "array":
            s = {"type": "array", "items": {"type": "string", "maxLength": self.max_length}}
            if self.items_pattern:
                s["items"]["pattern"] = "^(?:%s)$" % self.items_pattern
            s["minItems"] = 1
        elif k == "json":
            s = {"type": "string", "description": "JSON-encoded"}
        elif k == "file":
            s = {"type": "string", "format": "binary", "description": "an uploaded file (multipart) or the text"}
        else:
            s = {"type": "string", "maxLength": self.max_length}
            if self.min_length:
                s["minLength"] = self.min_length
            if k == "digits":
                s["pattern"] = r"^[0-9]+$"
            if self.pattern:
                # Validation uses fullmatch(); JSON Schema patterns search: anchor them.
                s["pattern"] = "^(?:%s)$" % self.pattern
        if self.enum:
            s["enum"] = list(self.enum)
        if self.minimum is not None:
            s["minimum"] = self.minimum
        if self.maximum is not None:
            s["maximum"] = self.maximum
        if self.default is not None and not callable(self.default):
            s["default"] = self.default
        if self.description:
            s["description"] = self.description
        return s

    def convert(self, raw: Any) -> Any:
        k = self.kind
        if k == "array":
            values = raw if isinstance(raw, list) else [raw]
            if len(values) == 1 and isinstance(values[0], str) and values[0].strip().startswith("["):
                try:
                    decoded = json.loads(values[0])
                except ValueError:
                    raise ValueError("must be a list (repeat the field, use name[], or a JSON array)") from None
                values = decoded if isinstance(decoded, list) else [decoded]
            out = []
            for v in values:
                if not isinstance(v, (str, int)) or isinstance(v, bool):
                    raise ValueError("every item must be a string")
                v = str(v)
                _plain(v, self.max_length)
                if self.items_pattern and not re.fullmatch(self.items_pattern, v):
                    raise ValueError("item %r is not valid" % v[:40])
                out.append(v)
            if not out:
                raise ValueError("must not be empty")
            return out
        if k == "json" and isinstance(raw, list) and not any(isinstance(v, str) for v in raw):
            return raw  # a JSON array in a JSON body is the value itself, not a repeated field
        if isinstance(raw, list):
            if len(raw) != 1:
                raise ValueError("given more than once")
            if k != "json":
                # a JSON array where one value belongs (repeated form fields arrive as several)
                raise ValueError("must be a single value, not an array")
            raw = raw[0]
        if k == "boolean":
            return truthy(raw)
        if k == "file":
            # An upload (werkzeug FileStorage) or the same content as a plain field: bytes.
            if hasattr(raw, "read"):
                return raw.read()
            if isinstance(raw, str):
                return raw.encode("utf-8")
            raise ValueError("must be an uploaded file or text")
        if k == "json":
            if not isinstance(raw, str):
                return raw
            try:
                return json.loads(raw)
            except ValueError:
                raise ValueError("must be valid JSON") from None
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)) \
                or (k not in ("integer", "number") and not isinstance(raw, str)):
            # JSON numbers, booleans, objects where text belongs: refused, not turned into text
            # ("0123" as a number loses its zero, 1e3 becomes "1000.0").
            raise ValueError("must be a %s" % ("number" if k in ("integer", "number") else "string"))
        if k == "integer":
            text = str(raw).strip()
            if not re.fullmatch(r"-?[0-9]{1,18}", text):
                raise ValueError("must be a whole number")
            val: Any = int(text)
        elif k == "number":
            try:
                val = float(str(raw).strip())
            except ValueError:
                raise ValueError("must be a number") from None
            if val != val or val in (float("inf"), float("-inf")):
                raise ValueError("must be a finite number")
        else:
            val = str(raw)
            _plain(val, self.max_length)
            if len(val) < self.min_length:
                raise ValueError("must be at least %d characters" % self.min_length)
            if k == "digits" and not re.fullmatch(r"[0-9]+", val):
                raise ValueError("must be digits only")
            if self.pattern and not re.fullmatch(self.pattern, val):
                raise ValueError(self.pattern_help or "has an invalid format")
            if self.enum and val not in self.enum:
                raise ValueError("must be one of: %s" % ", ".join(self.enum))
        if self.minimum is not None and val < self.minimum:
            raise ValueError("must be at least %s" % _fmt(self.minimum))
        if self.maximum is not None and val > self.maximum:
            raise ValueError("must be at most %s" % _fmt(self.maximum))
        return val


def _fmt(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def _plain(val: str, max_length: int) -> None:
    if _CONTROL.search(val):
        raise ValueError("must not contain control characters (CR, LF, NUL, ...)")
    if len(val) > max_length:
        raise ValueError("must be at most %d characters" % max_length)


_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")


def gather(array_param: str = "") -> Dict[str, Any]:
    """All parameters of the current request, by name (lists where repeated).
    ``array_param``: a bare JSON array body is this parameter's value (a route
    whose body is a list of items, e.g. POST /extensions/import's rows)."""
    req = request._get_current_object()
    if not req.query_string and req.method not in _BODY_METHODS:
        return {}  # the polls (GET /test, /state, ...): nothing to gather
    found: Dict[str, Any] = {}

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
                add(array_param, [body])
            elif not isinstance(body, dict):
                raise BadRequest({"body": "must be a JSON object" + (
                    " or array" if array_param else "")})
            else:
                for key, val in body.items():
                    add(key, [val])  # a JSON array stays one value (a list), not a repeated field
        else:
            for key in request.form:
                add(key, request.form.getlist(key))
            for key in request.files:
                add(key, request.files.getlist(key))
    return {k: (v[0] if len(v) == 1 else v) for k, v in found.items()}


def validate(params: Sequence[Param], raw: Dict[str, Any]) -> Dict[str, Any]:
    """Validate everything first, then report every bad field at once."""
    errors: Dict[str, str] = {}
    out: Dict[str, Any] = {}
    declared = {p.name: p for p in params}
    for key in raw:
        if key not in declared:
            errors[key[:64] + ("..." if len(key) > 64 else "")] = "unknown parameter"
    for p in params:
        if p.empty and raw.get(p.name) == "":
            out[p.name] = ""
            continue
        if p.name not in raw or raw[p.name] is None or (raw[p.name] == "" and p.kind not in ("boolean",)):
            if p.required:
                errors[p.name] = "is required"
            else:
                out[p.name] = p.default() if callable(p.default) else p.default
            continue
        try:
            val = p.convert(raw[p.name])
            if p.check is not None:
                val = p.check(val)
            out[p.name] = val
        except ValueError as exc:
            errors[p.name] = str(exc)
    if errors:
        raise BadRequest(errors)
    return out


def require_changes(params: Sequence[Param], selectors: Sequence[str] = ()) -> None:
    """For a PUT that changes only what is sent: a body that sends nothing (empty, ``{}``,
    only nulls) is a client's mistake, not an "Unchanged"; and ``null`` is never a value
    (a field is cleared with ``''`` where it can be). ``selectors`` name which record
    (e.g. a DID's cidnum) and are not a change on their own."""
    raw = gather()
    names = [p.name for p in params]
    nulls = {n: "must not be null (send a value, or '' where the field can be cleared)"
             for n in names if n in raw and (raw[n] is None or (isinstance(raw[n], list) and None in raw[n]))}
    if nulls:
        raise BadRequest(nulls)
    if not any(n in raw for n in names if n not in selectors):
        raise BadRequest({"body": "has no field to change: send at least one of the fields of this PUT "
                                  "(an empty body or {} changes nothing)"})
