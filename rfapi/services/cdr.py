"""Call detail records: filters and exact paging (the statements and the row shape: rfapi.dao.cdr).

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
    # The rows are already in their JSON shape (see rfapi.dao.cdr): no copy.
    rows = fetched[:limit] if more else fetched
    nxt = None
    if more and rows:
        nxt = encode_cursor(*_last_position(rows, cursor, skipped))
    return {"rows": rows, "count": len(rows), "next": nxt}


def _last_position(page: List[Dict[str, Any]], cursor: Optional[Cursor], skipped: int) -> Cursor:
    """The cursor after ``page``: its last row's key and how many rows with that
    exact key have been sent, counting earlier pages when the key continues."""
    last = page[-1]
    c, u, s = last["calldate"], last["uniqueid"], last["sequence"]
    # Rows of one key are adjacent in paging order: count back from the end.
    seen = 0
    for r in reversed(page):
        if r["sequence"] != s or r["uniqueid"] != u or r["calldate"] != c:
            break
        seen += 1
    key = (dao.db_second(c), u, s)
    if cursor is not None and cursor[:3] == key:
        seen += skipped
    return key[0], u, s, seen
