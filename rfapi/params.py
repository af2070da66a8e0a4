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

from .booleans import BOOLEAN_WORDS_PATTERN, FALSE, TRUE, truthy  # noqa: F401 (re-exported)
from .errors import BadRequest
from .requestparams import Gathered, gather  # noqa: F401 (re-exported: the request's raw parameters)
from .routewords import route_words

# Control characters are refused everywhere, in every parameter and path segment:
# every C0 control including TAB (U+0000-U+001F), DEL, every C1 control
# (U+0080-U+009F) and the Unicode line/paragraph separators U+2028/U+2029.
# CR/LF/NUL would break AMI framing, voicemail.conf lines and log lines; TAB is
# a field separator in Asterisk's and FreePBX's own files and splits words in
# dialplan; nothing legitimate in this API needs any of them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# The same rule as a JSON Schema pattern (ECMA-262 and Python read it alike): what
# the document says of a text parameter that has no narrower pattern of its own.
NO_CONTROL_PATTERN = r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]*$"


def has_control(text: str) -> bool:
    return _CONTROL.search(text) is not None


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
    # Messages for a broken rule, by rule ("min_length", "max_length", "pattern", "enum"), where the
    # generic one would not tell the user enough (e.g. how to get a generated secret).
    messages: Optional[Dict[str, str]] = None
    # The route whose path variable this value becomes (e.g. "/ampusers/<username>"): the
    # literal words of the routes beside it ("add" of /ampusers/add) are refused, since
    # such a name could never be read, changed or deleted by its URL.
    names: str = ""

    def _msg(self, rule: str, default: str) -> str:
        return (self.messages or {}).get(rule) or default

    def reserved(self) -> List[str]:
        if not self.names:
            return []
        return route_words(self.names)

    def schema(self) -> Dict[str, Any]:
        """What the document says of this parameter: every rule convert() and validate()
        apply, including what '' and null mean (see docs/openapi.md)."""
        k = self.kind
        s: Dict[str, Any]
        if k == "boolean":
            s = {"type": "boolean"}
        elif k == "integer":
            s = {"type": "integer"}
        elif k == "number":
            s = {"type": "number"}
        elif k == "array":
            item: Dict[str, Any] = {"type": "string", "maxLength": self.max_length,
                                    "pattern": ("^(?:%s)$" % self.items_pattern) if self.items_pattern
                                    else NO_CONTROL_PATTERN}
            s = {"type": "array", "items": item, "minItems": 1}
        elif k == "json":
            s = {"type": "array", "items": {"type": "object"}}
        elif k == "file":
            s = {"type": "string", "format": "binary"}
        else:
            s = {"type": "string", "maxLength": self.max_length}
            if self.min_length or self.required:  # a required '' is "is required"
                s["minLength"] = max(self.min_length, 1)
            if self.pattern:
                # Validation uses fullmatch(); JSON Schema patterns search: anchor them.
                s["pattern"] = "^(?:%s)$" % self.pattern
            elif k == "digits":
                s["pattern"] = r"^[0-9]+$"
            elif not self.enum:
                s["pattern"] = NO_CONTROL_PATTERN
            if self.enum:
                s["enum"] = list(self.enum)
            words = self.reserved()
            if words:
                s["not"] = {"enum": words}
        bounds = {}  # beside anyOf, where they bind the JSON number and leave its text to the pattern
        if self.minimum is not None:
            bounds["minimum"] = self.minimum
        if self.maximum is not None:
            bounds["maximum"] = self.maximum
        if k not in ("integer", "number"):
            s.update(bounds)
        if k == "integer":
            s = {"anyOf": [s, {"type": "string", "pattern": integer_text_pattern(self.minimum, self.maximum),
                               "description": "the number as text"}]}
        elif k == "number":
            s = {"anyOf": [s, {"type": "string", "pattern": r"^-?[0-9]+(?:\.[0-9]+)?$",
                               "description": "the number as text"}]}
        elif k == "array":
            s = {"anyOf": [s, dict(item, description="one item (a form's single field; the list "
                                                     "JSON-encoded is read too)")]}
        if k == "json":
            # A JSON body carries the array itself; a form carries its JSON text.
            s = {"anyOf": [s, {"type": "string", "description": "the same array, JSON-encoded"}]}
        if k == "boolean":
            s = {"anyOf": [s, {"type": "string", "pattern": BOOLEAN_WORDS_PATTERN,
                               "description": "1/0, true/false, yes/no, on/off, y/n (any case); '' is false"}]}
        elif not self.required and not _takes_empty(s):
            # '' is "not sent" (or, with empty, the value that clears the field): forms and
            # query strings have no other way to say it.
            empty = {"type": "string", "enum": [""]}
            s = {"anyOf": s["anyOf"] + [empty]} if "anyOf" in s else {"anyOf": [s, empty]}
        if not self.required:
            # null in a JSON body is "not sent"
            (s["anyOf"][0] if "anyOf" in s else s)["nullable"] = True
        out: Dict[str, Any] = s
        if k in ("integer", "number"):
            out.update(bounds)
        if self.default is not None and not callable(self.default):
            out["default"] = self.default
        desc = self.description
        if not self.required and k != "boolean":
            desc = (desc + "; " if desc else "") + ("'' clears it" if self.empty and "''" not in desc
                                                   else "" if self.empty else "'' or null: not sent")
            desc = desc.rstrip("; ")
        if desc:
            out["description"] = desc
        if self.example is not None:
            out["example"] = self.example
        return out

    def convert(self, raw: Any, typed: bool = False) -> Any:
        """``typed``: the value came from a JSON body, where it must have its documented
        JSON type (a string is a string, not a number or a list of one); forms and query
        strings carry only text."""
        k = self.kind
        if typed:
            _typed(self, raw)
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
            text = str(raw)
            if not re.fullmatch(r"-?[0-9]{1,18}", text):
                raise ValueError("must be a whole number")
            val: Any = int(text)
        elif k == "number":
            try:
                val = float(str(raw))
            except ValueError:
                raise ValueError("must be a number") from None
            if val != val or val in (float("inf"), float("-inf")):
                raise ValueError("must be a finite number")
        else:
            val = str(raw)
            if _CONTROL.search(val):
                raise ValueError("must not contain control characters (CR, LF, NUL, ...)")
            if len(val) > self.max_length:
                raise ValueError(self._msg("max_length", "must be at most %d characters" % self.max_length))
            if len(val) < self.min_length:
                raise ValueError(self._msg("min_length", "must be at least %d characters" % self.min_length))
            if k == "digits" and not re.fullmatch(r"[0-9]+", val):
                raise ValueError("must be digits only")
            if self.pattern and not re.fullmatch(self.pattern, val):
                if self.check is not None:
                    self.check(val)  # its message may name what is wrong (which item of a list)
                raise ValueError(self._msg("pattern", self.pattern_help or "has an invalid format"))
            if val in self.reserved():
                raise ValueError("must not be %r: %s is a route (%s)" % (
                    val, self.names.split("<")[0] + val, ", ".join(self.reserved())))
            if self.enum and val not in self.enum:
                raise ValueError(self._msg("enum", "must be one of: %s" % ", ".join(self.enum)))
        if self.minimum is not None and val < self.minimum:
            raise ValueError("must be at least %s" % _fmt(self.minimum))
        if self.maximum is not None and val > self.maximum:
            raise ValueError("must be at most %s" % _fmt(self.maximum))
        return val


def _takes_empty(s: Dict[str, Any]) -> bool:
    """Does this (string) schema already allow ''?"""
    if s.get("type") != "string" or s.get("minLength", 0) > 0:
        return False
    if "enum" in s:
        return "" in s["enum"]
    return re.fullmatch(s.get("pattern", "").lstrip("^").rstrip("$") or "", "") is not None


def _typed(p: "Param", raw: Any) -> None:
    """The type check of a value from a JSON body (see Param.convert): its text form,
    or its own JSON type; a number where text is documented, or a list where one
    value is, is refused."""
    k = p.kind
    if k == "json" or isinstance(raw, str):
        return
    if k == "boolean":
        ok = isinstance(raw, bool)
    elif k == "integer":
        ok = isinstance(raw, int) and not isinstance(raw, bool)
    elif k == "number":
        ok = isinstance(raw, (int, float)) and not isinstance(raw, bool)
    elif k == "array":
        ok = isinstance(raw, list) and all(isinstance(v, str) for v in raw)
    else:
        ok = False
    if not ok:
        raise ValueError({"boolean": "must be a boolean", "integer": "must be a whole number",
                          "number": "must be a number", "array": "must be a list of strings"}.get(
                              k, "must be a string"))


def integer_text_pattern(minimum: Optional[float], maximum: Optional[float]) -> str:
    """The text forms convert() takes for an integer in this range, as a pattern
    (exact for the small ranges parameters have; a sign and digits otherwise)."""
    if minimum is None or maximum is None or minimum < 0 or maximum - minimum > 400:
        return r"^-?[0-9]{1,18}$"
    lo, hi = int(minimum), int(maximum)
    alts = [str(n) for n in range(max(lo, 1), hi + 1)]
    zero = "-?0+" if lo == 0 else None
    body = "0*(?:%s)" % "|".join(alts) if alts else ""
    return "^(?:%s)$" % "|".join(x for x in (zero, body) if x)


def _fmt(n: float) -> str:
    return str(int(n)) if float(n).is_integer() else str(n)


def _plain(val: str, max_length: int) -> None:
    if _CONTROL.search(val):
        raise ValueError("must not contain control characters (CR, LF, NUL, ...)")
    if len(val) > max_length:
        raise ValueError("must be at most %d characters" % max_length)


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
            val = p.convert(raw[p.name], p.name in getattr(raw, "typed", ()))
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
