"""The rows of POST /extensions/import, from whatever shape the client sends them in.

Accepted bodies (all give the same rows): a bare JSON array of row objects; a
JSON object ``{"rows": [...]}``; a multipart/form upload ``file`` holding a CSV
file or a JSON array; ``rows`` as a form field holding a JSON array.

Every field has one canonical name (the name PUT /extension/<ext> uses) and may
be sent under any of its aliases: the name POST /extension/add uses, and FreePBX
Bulk Handler's CSV column name. ``ALIASES`` below is the one table of them: the
reader, the export's CSV header, the OpenAPI description and
docs/bulk-and-csv.md all show it. A row that gives one field under two names
with different values is refused, naming both.

CSV cells are read back through ``csvsafe.uncell``: the quote the export puts in
front of a cell a spreadsheet would run (``=``, ``+``, ``-``, ``@``...) comes off.
"""
from __future__ import annotations

import csv
import io
import json
from typing import Any, Dict, List, Tuple

from .. import params as P
from ..errors import BadRequest
from . import csvsafe
from .extensions import EXTTYPES, resolve_tech

# canonical (PUT) name, CSV column the export writes (Bulk Handler's header where it has
# one for the field), other accepted names (POST /extension/add, Bulk Handler).
ALIASES: Tuple[Tuple[str, str, Tuple[str, ...]], ...] = (
    ("extension", "extension", ()),
    ("tech", "tech", ("exttype",)),
    ("displayname", "name", ("description",)),
    ("secret", "secret", ()),
    ("outboundcid", "outboundcid", ()),
    ("emergencycid", "emergency_cid", ()),
    ("voicemail", "voicemail_enable", ()),
    ("voicemailpassword", "voicemail_vmpwd", ()),
    ("email", "voicemail_email", ()),
    ("attach", "attach", ()),
    ("saycid", "saycid", ()),
    ("envelope", "envelope", ()),
    ("vmdelete", "vmdelete", ()),
    ("followme", "findmefollow_enabled", ()),
    ("followmegrptime", "findmefollow_grptime", ()),
    ("ringtimer", "ringtimer", ()),
    ("callwaiting", "callwaiting_enable", ()),
    ("max_contacts", "max_contacts", ()),
    ("dtmfmode", "dtmfmode", ()),
    ("noanswer_dest", "noanswer_dest", ()),
    ("busy_dest", "busy_dest", ()),
    ("chanunavail_dest", "chanunavail_dest", ()),
    ("recInternalIn", "recording_in_internal", ()),
    ("recInternalOut", "recording_out_internal", ()),
    ("recExternalIn", "recording_in_external", ()),
    ("recExternalOut", "recording_out_external", ()),
    ("recOndemand", "recording_ondemand", ()),
    ("recPriority", "recording_priority", ()),
)
FIELDS = tuple(f for f, _c, _a in ALIASES)
CSV_COLUMNS = tuple(c for _f, c, _a in ALIASES)
# every accepted name -> canonical name
CANONICAL: Dict[str, str] = {}
for _f, _c, _a in ALIASES:
    for _name in (_f, _c) + _a:
        CANONICAL[_name] = _f
ORDER = [n for _f, _c, _a in ALIASES for n in dict.fromkeys((_f, _c) + _a)]  # names in table order
BOOLEAN_FIELDS = ("voicemail", "attach", "saycid", "envelope", "vmdelete", "followme")
MAX_ROWS = 5000


def describe() -> str:
    """The alias table as one line of text (OpenAPI description)."""
    parts = []
    for f, c, a in ALIASES:
        others = [n for n in (c,) + a if n != f]
        parts.append("%s (also %s)" % (f, ", ".join(others)) if others else f)
    return "Field names (any of them; the first is canonical): " + "; ".join(parts) + \
        ". exttype takes POST /extension/add's values (sip = the PBX's SIP driver, pjsip, chansip, virtual)."


def markdown_table() -> str:
    """The alias table as Markdown (docs/bulk-and-csv.md is checked against it)."""
    lines = ["| field (PUT /extension) | CSV column (export) | also accepted |", "|---|---|---|"]
    for f, c, a in ALIASES:
        lines.append("| `%s` | `%s` | %s |" % (f, c, ", ".join("`%s`" % n for n in a) or "-"))
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------

def read(p: Dict[str, Any]) -> Tuple[List[Dict[str, Any]], str]:
    """(rows as sent, the parameter they came in): each row a dict of accepted names
    -> values, empty values dropped (an empty cell leaves a field alone)."""
    if p.get("file") is not None and p.get("rows") is not None:
        raise BadRequest({"rows": "send either file or rows, not both"})
    if p.get("file") is not None:
        f = p["file"]
        raw = f.read() if hasattr(f, "read") else f
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest({"file": "must be UTF-8 text (CSV or a JSON array)"}) from None
        if text.lstrip().startswith("["):
            try:
                data = json.loads(text)
            except ValueError:
                raise BadRequest({"file": "is not valid JSON"}) from None
            return _json_rows(data, "file"), "file"
        return _csv_rows(text), "file"
    if p.get("rows") is not None:
        return _json_rows(p["rows"], "rows"), "rows"
    raise BadRequest({"file": "send a CSV file (multipart field file), or rows (a JSON array of objects, bare or "
                              "as {\"rows\": [...]})"})


def _csv_rows(text: str) -> List[Dict[str, Any]]:
    if "\x00" in text:
        raise BadRequest({"file": "contains a NUL character: not a CSV text file"})
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if not header or not any(h.strip() for h in header):
            raise BadRequest({"file": "is empty: the first line must name the columns"})
        names = [h.strip() for h in header]
        unknown = [h for h in names if h not in CANONICAL]
        if unknown:
            raise BadRequest({"file": "unknown column(s): %s" % ", ".join(repr(c) for c in unknown[:10])})
        dup = sorted({h for h in names if names.count(h) > 1})
        if dup:
            raise BadRequest({"file": "column(s) given more than once: %s" % ", ".join(dup)})
        rows = []
        for rec in reader:
            if not rec:
                continue  # a blank line
            if len(rec) > len(names):
                raise BadRequest({"file": "line %d has more cells than the header" % reader.line_num})
            row = {}
            for name, v in zip(names, rec):
                v = csvsafe.uncell(v)
                if v.strip() != "":
                    row[name] = v
            rows.append(row)
            if len(rows) > MAX_ROWS:
                break
    except csv.Error as exc:
        raise BadRequest({"file": "is not valid CSV (line %d: %s)" % (reader.line_num, exc)}) from None
    return _limit(rows, "file")


def _json_rows(data: Any, field: str) -> List[Dict[str, Any]]:
    if isinstance(data, dict):
        data = [data]  # a one-row array in a JSON body arrives unwrapped
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise BadRequest({field: "must be a JSON array of objects"})
    rows = []
    for i, r in enumerate(data, start=1):
        unknown = [k for k in r if k not in CANONICAL]
        if unknown:
            raise BadRequest({field: "row %d: unknown field(s): %s" % (i, ", ".join(sorted(map(str, unknown))[:10]))})
        rows.append({k: v for k, v in r.items() if v is not None and v != ""})
    return _limit(rows, field)


def _limit(rows: List[Dict[str, Any]], field: str) -> List[Dict[str, Any]]:
    if not rows:
        raise BadRequest({field: "has no rows"})
    if len(rows) > MAX_ROWS:
        raise BadRequest({field: "has more than %d rows; at most %d per import" % (MAX_ROWS, MAX_ROWS)})
    return rows


# ---------------------------------------------------------------------------
# Aliases -> canonical names
# ---------------------------------------------------------------------------

def _same(field: str, a: Any, b: Any) -> bool:
    if field in BOOLEAN_FIELDS:
        try:
            return P.truthy(a) == P.truthy(b)
        except ValueError:
            pass
    return _text(a) == _text(b)


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v).strip() if isinstance(v, (str, int, float)) else json.dumps(v, sort_keys=True)


def canonical(rows: List[Dict[str, Any]], field: str, settings: Dict[str, str]) -> List[Dict[str, Any]]:
    """Rows under canonical names. ``exttype`` (POST /extension/add's vocabulary) becomes
    ``tech`` (sip -> the PBX's driver). The same field under two names with different
    values -> 400 naming both."""
    out = []
    for i, r in enumerate(rows, start=1):
        row: Dict[str, Any] = {}
        given: Dict[str, str] = {}
        for name, v in r.items():
            f = CANONICAL[name]
            if isinstance(v, int) and not isinstance(v, bool):
                v = str(v)  # a row is a spreadsheet line: 150 and "150" are the same cell
            if name == "exttype":
                kind = str(v).strip().lower() if isinstance(v, str) else None
                if kind not in EXTTYPES:
                    raise BadRequest({field: "row %d: exttype must be one of: %s" % (i, ", ".join(EXTTYPES))})
                v = resolve_tech(kind, settings)
            if f in row:
                if not _same(f, row[f], v):
                    a, b = sorted((given[f], name), key=ORDER.index)
                    raise BadRequest({field: "row %d: %s and %s give different values for %s" % (i, a, b, f)})
                continue
            row[f] = v
            given[f] = name
        out.append(row)
    return out
