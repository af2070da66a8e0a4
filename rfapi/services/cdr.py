"""Call detail records: filters, exact paging, calldate conversion.

Paging cursor: rows come newest first in a total order (calldate, uniqueid,
sequence, then every other column). ``next`` is an opaque token holding the
position of the last row sent: its (calldate, uniqueid, sequence) and how many
rows with exactly that key have been sent so far. Passing it back as
``cursor`` continues right after that row, so rows that share a calldate
second are never lost or repeated at a page boundary (identical duplicate rows
included). A bare timestamp (``next_end``) could not do that.
"""
from __future__ import annotations

import base64
import calendar
import datetime as _dt
import json
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from ..dao import cdr as dao
from ..http import BadRequest
from ..runtime import runtime

MAX_LIMIT = 100000
DEFAULT_LIMIT = 1000
MAX_TIMESTAMP = 2147483647  # FROM_UNIXTIME's range on MariaDB 10.x
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_TABLE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
ZERO_DATE = dao.ZERO_DATE

Cursor = Tuple[str, str, int, int]


def encode_cursor(calldate: str, uniqueid: str, sequence: int, seen: int) -> str:
    raw = json.dumps([calldate, uniqueid, sequence, seen], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        c, u, s, k = json.loads(raw.decode())
        if not (isinstance(c, str) and _DATETIME.match(c) and isinstance(u, str) and len(u) <= 32
                and isinstance(s, int) and not isinstance(s, bool) and isinstance(k, int)
                and not isinstance(k, bool) and 1 <= k <= 10 ** 9):
            raise ValueError
        if c != ZERO_DATE:
            _dt.datetime.strptime(c, "%Y-%m-%d %H:%M:%S")
        return c, u, s, k
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValueError("is not a cursor returned by this API (use data.next of the previous page)") from None


def _table() -> str:
    # CDRDBTABLENAME: empty means `cdr`. It becomes an identifier in SQL, so only
    # a plain table name is accepted.
    name = runtime().settings.get("CDRDBTABLENAME", "cdr")
    return name if _TABLE.match(name) else "cdr"


def _gmt() -> bool:
    return runtime().settings.get("CDRUSEGMT", "0").strip().lower() in ("1", "true", "yes", "on")


def _iso(calldate: Optional[_dt.datetime], ts: Optional[int]) -> Tuple[str, Optional[int]]:
    """calldate as ISO 8601 with the UTC offset that MariaDB's conversion implies
    (so calldate and timestamp always name the same instant)."""
    if calldate is None:
        return ZERO_DATE.replace(" ", "T"), None
    if ts is None or (ts == 0 and calldate.year < 1970) or ts < 0:
        return calldate.isoformat(), None  # outside the Unix range (e.g. the '1000-01-01' default)
    offset = int(ts) - calendar.timegm(calldate.timetuple())
    sign = "+" if offset >= 0 else "-"
    return calldate.isoformat() + "%s%02d:%02d" % (sign, abs(offset) // 3600, abs(offset) % 3600 // 60), int(ts)


def _key(r: Dict[str, Any]) -> Tuple[str, str, int]:
    c = r["calldate"]
    return (c.strftime("%Y-%m-%d %H:%M:%S") if c is not None else ZERO_DATE), r["uniqueid"], r["sequence"]


def search(params: Dict[str, Any]) -> Dict[str, Any]:
    start, end = params["start"], params["end"]
    if start is not None and end is not None and start > end:
        raise BadRequest({"start": "must not be after end"})
    cursor = None
    if params["cursor"] is not None:
        try:
            cursor = decode_cursor(params["cursor"])
        except ValueError as exc:
            raise BadRequest({"cursor": str(exc)}) from None
    limit = params["limit"]
    q = dao.Query(_table(), start=start, end=end if end is not None else int(time.time()),
                  src=params["src"], dst=params["dest"], did=params["did"], gmt=_gmt())
    # One row more than asked tells whether there is a next page.
    fetched, skipped = dao.fetch_page(runtime().db, q, cursor, limit + 1)
    more = len(fetched) > limit
    page = fetched[:limit]
    rows: List[Dict[str, Any]] = []
    for r in page:
        out = {c: r[c] for c in dao.COLUMNS}
        out["calldate"], out["timestamp"] = _iso(r["calldate"], r["timestamp"])
        rows.append(out)
    nxt = None
    if more and page:
        last = _key(page[-1])
        seen = sum(1 for r in page if _key(r) == last)
        if cursor is not None and cursor[:3] == last:
            seen += skipped
        nxt = encode_cursor(last[0], last[1], last[2], seen)
    return {"rows": rows, "count": len(rows), "next": nxt}
