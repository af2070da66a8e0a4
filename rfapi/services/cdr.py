"""Call detail records: filters and exact paging (the statements and the row shape: rfapi.dao.cdr).

Paging cursor: rows come newest first in a total order (calldate, uniqueid,
sequence, then every other column). ``next`` is an opaque token holding the
position of the last row sent: its (calldate, uniqueid, sequence) and how many
rows with exactly that key have been sent so far. Passing it back as
``cursor`` continues right after that row, so rows that share a calldate
second are never lost or repeated at a page boundary (identical duplicate rows
included). A bare timestamp (``next_end``) could not do that.

Also here: the CSV export (``export_csv``: the same order, streamed in batches) and
the incremental sync (``sync``: write order, see the comment above it).
"""
from __future__ import annotations

import base64
import csv
import datetime as _dt
import io
import json
import operator
import re
import time
from typing import Any, Dict, List, Optional, Tuple

from ..dao import cdr as dao
from ..dao.cdr import COLUMNS  # noqa: F401 (the record's fields, for the route's schema)
from ..errors import BadRequest
from ..runtime import runtime
from . import callrecordings, cdrsettings, csvsafe

MAX_LIMIT = 100000          # rows of one JSON page (and of one sync page)
MAX_CSV_LIMIT = 10000000    # rows of one CSV export (streamed in batches of CSV_BATCH)
CSV_BATCH = 5000
DEFAULT_LIMIT = 1000
MAX_TIMESTAMP = 2147483647  # FROM_UNIXTIME's range on MariaDB 10.x
_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
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


def search(params: Dict[str, Any]) -> Dict[str, Any]:
    if params.get("since") is not None:
        return sync(params)
    if params["limit"] > MAX_LIMIT:
        raise BadRequest({"limit": "must be at most %d" % MAX_LIMIT})  # format=csv: up to MAX_CSV_LIMIT
    q, cursor, limit = _search_query(params)
    # One row more than asked tells whether there is a next page.
    fetched, skipped = dao.fetch_page(runtime().db, q, cursor, limit + 1)
    more = len(fetched) > limit
    # The rows are already in their JSON shape (see rfapi.dao.cdr): no copy.
    rows = fetched[:limit] if more else fetched
    nxt = None
    if more and rows:
        nxt = encode_cursor(*_last_position(rows, cursor, skipped))
    if params.get("with_recordings"):
        _with_recordings(rows)
    return {"rows": rows, "count": len(rows), "next": nxt}


def _with_recordings(rows: List[Dict[str, Any]], base: Optional[str] = None) -> None:
    callrecordings.exists_for(rows, base)


def _search_query(params: Dict[str, Any]):
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
    q = dao.Query(cdrsettings.table(), start=start, end=end if end is not None else int(time.time()),
                  src=params["src"], dst=params["dest"], did=params["did"], gmt=cdrsettings.gmt())
    return q, cursor, limit


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


# -- CSV export ------------------------------------------------------------------------
#
# The same rows as the JSON answer, streamed: the export walks the paging order in
# batches of CSV_BATCH rows (each batch one fetch_page from the previous batch's
# position, i.e. exactly what a client paging with limit=CSV_BATCH would get), so a
# worker holds one batch at a time whatever the size of the export. The next cursor
# must be in a header, sent before the first row: ``boundary`` finds the position of
# the limit-th row first, from the calldate index (a probe, a COUNT and the rows of one
# second), and the stream stops exactly there.

# FreePBX's CDR report "CSV File" columns, in its order (cdr module, cdr_export_csv()).
CSV_COLUMNS = ("calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata",
               "duration", "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "did",
               "cnum", "cnam", "outbound_cnum", "outbound_cnam", "dst_cnam", "recordingfile", "linkedid",
               "peeraccount", "sequence")


_CSV_VALUES = operator.itemgetter(*CSV_COLUMNS)


def boundary(db, q: "dao.Query", cursor: Optional[Cursor], n: int) -> Optional[Cursor]:
    """The cursor after the n-th row from ``cursor`` in paging order, or None when
    there is no row after that one (the page is the last)."""
    before = cursor[0] if cursor is not None else None
    with db.transaction("cdr") as tx:
        left: List[Dict[str, Any]] = []
        skipped = 0
        if cursor is not None:
            left = tx.query(*q.second(before))
            dao.order_ties(left)
            left, skipped = dao._drop_sent(left, cursor)
            if len(left) > n:
                return _last_position(left[:n], cursor, skipped)
        m = n - len(left)
        if m == 0:
            return _last_position(left, cursor, skipped) if tx.query(*q.probe(before, 1)) else None
        got = tx.query(*q.probe(before, m))
        if not got:
            return None
        second = got[0]["s"]
        newer = tx.query(*q.count_between(second, before))[0]["n"]
        rows = tx.query(*q.second(second))
        dao.order_ties(rows)
        upto = m - int(newer)  # the n-th row is the upto-th row of that second
        if upto < len(rows) or tx.query(*q.probe(second, 1)):
            return _last_position(rows[:upto], None, 0)
        return None


def _position_key(r: Dict[str, Any]) -> Tuple[str, str, int]:
    return dao.db_second(r["calldate"]), r["uniqueid"], r["sequence"]


def iter_rows(db, q: "dao.Query", cursor: Optional[Cursor], stop: Optional[Cursor]):
    """Rows in paging order after ``cursor`` up to and including the position ``stop``
    (None: to the end), fetched CSV_BATCH at a time."""
    pos = cursor
    stop_key = stop[:3] if stop is not None else None
    seen = cursor[3] if cursor is not None else 0
    last_key = cursor[:3] if cursor is not None else None
    while True:
        rows, skipped = dao.fetch_page(db, q, pos, CSV_BATCH)
        for r in rows:
            key = _position_key(r)
            if stop_key is not None and key < stop_key:
                return  # past the boundary (its row was deleted meanwhile)
            seen = seen + 1 if key == last_key else 1
            last_key = key
            yield r
            if key == stop_key and seen >= stop[3]:
                return
        if len(rows) < CSV_BATCH:
            return
        pos = _last_position(rows, pos, skipped)


def csv_lines(rows, monitor: Optional[str], batch: int = 1000):
    """CSV text (RFC 4180: CRLF, quotes doubled), the header line first, in chunks; cells
    starting with = + - @ TAB CR get a ' in front (services/csvsafe.py)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    with_recordings = monitor is not None  # the stream runs after the request context is gone
    w.writerow(CSV_COLUMNS + (("recording",) if with_recordings else ()))
    pending: List[Dict[str, Any]] = []

    def flush():
        if with_recordings:
            _with_recordings(pending, monitor)
        for r in pending:
            vals = list(_CSV_VALUES(r))
            vals[0] = dao.db_second(r["calldate"])  # as stored, like FreePBX's export
            # caller names and numbers come from outside callers: no cell a spreadsheet would run
            vals = csvsafe.cells(vals)
            if with_recordings:
                vals.append(1 if r["recording"] else 0)
            w.writerow(vals)
        del pending[:]

    for r in rows:
        pending.append(r)
        if len(pending) >= batch:
            flush()
            yield buf.getvalue().encode("utf-8")
            buf.seek(0)
            buf.truncate()
    flush()
    yield buf.getvalue().encode("utf-8")


def export_csv(params: Dict[str, Any]):
    """(chunks, next cursor or None, more) of ``GET /cdr?format=csv``."""
    monitor = runtime().path("monitor") if params.get("with_recordings") else None
    if params.get("since") is not None:
        page = sync(dict(params, with_recordings=False))
        return csv_lines(iter(page["rows"]), monitor), page["next"], page["more"]
    q, cursor, limit = _search_query(params)
    db = runtime().db
    stop = boundary(db, q, cursor, limit)
    return (csv_lines(iter_rows(db, q, cursor, stop), monitor),
            encode_cursor(*stop) if stop is not None else None, stop is not None)


# -- incremental sync --------------------------------------------------------------------
#
# FreePBX's cdr table has no primary key and no insert time, so "rows written after X"
# must be derived from what Asterisk writes. Asterisk (12+) keeps one chain of CDR
# records per channel (Party A) and dispatches the whole chain to the backends when
# that channel is destroyed; every record of the chain carries the channel's uniqueid.
# So a chain is written (within batch delay) at its end: MAX(calldate + duration) over
# the rows of its uniqueid - always at or before the moment it is written.
# Sync order is that chain end, then uniqueid, sequence and the other columns. A row is
# returned only once its chain ended at least SETTLE_SECONDS (plus CDR_BATCH_TIME when
# FreePBX's CDR batch mode is on) before the database's clock: by then every chain
# ending earlier has been written, so a position in that order never has rows appear
# behind it. The cursor is the position of the last row returned (as for paging), so a
# later sync also picks up a late row that ended after it. Rows are looked up through
# the calldate index over [cursor end - MAX_CHAIN_SECONDS, ...]: a chain lasting longer
# than that is not seen (see docs/api.md, incremental sync: limits).

SETTLE_SECONDS = 60
MAX_CHAIN_SECONDS = 86400

SyncCursor = Tuple[str, Optional[str], int, int]  # (end second, uniqueid or None = every row of that end, seq, seen)


def encode_sync(end: str, uniqueid: Optional[str], sequence: int, seen: int) -> str:
    raw = json.dumps(["s", end, uniqueid, sequence, seen], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_sync(token: str) -> SyncCursor:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        tag, e, u, s, k = json.loads(raw.decode())
        if not (tag == "s" and isinstance(e, str) and _DATETIME.match(e) and (u is None or (
                isinstance(u, str) and len(u) <= 32)) and isinstance(s, int) and not isinstance(s, bool)
                and isinstance(k, int) and not isinstance(k, bool) and 0 <= k <= 10 ** 9):
            raise ValueError
        _dt.datetime.strptime(e, "%Y-%m-%d %H:%M:%S")
        return e, u, s, k
    except (ValueError, TypeError, UnicodeDecodeError):
        raise ValueError("is not a sync cursor returned by this API (data.next of the previous sync), "
                         "nor a Unix time") from None


def _lag() -> int:
    st = runtime().settings
    lag = SETTLE_SECONDS
    if st.get("CDR_BATCH", "0").strip().lower() in ("1", "true", "yes", "on"):
        try:
            lag += max(0, int(st.get("CDR_BATCH_TIME", "300")))
        except ValueError:
            lag += 300
    return lag


def _minus(second: str, seconds: int) -> str:
    t = _dt.datetime.strptime(second, "%Y-%m-%d %H:%M:%S") - _dt.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%d %H:%M:%S") if t.year >= 1000 else "1000-01-01 00:00:00"


def sync(params: Dict[str, Any]) -> Dict[str, Any]:
    for name in ("start", "end", "cursor"):
        if params.get(name) is not None:
            raise BadRequest({name: "cannot be combined with since (since is a position in write order)"})
    limit = params["limit"]
    if limit > MAX_LIMIT:
        raise BadRequest({"limit": "must be at most %d with since" % MAX_LIMIT})
    raw = params["since"]
    unix = None
    if raw.isdigit() and len(raw) <= 10:
        unix = int(raw)
        if unix > MAX_TIMESTAMP:
            raise BadRequest({"since": "must be at most %d" % MAX_TIMESTAMP})
        cur: Optional[SyncCursor] = None
    else:
        try:
            cur = decode_sync(raw)
        except ValueError as exc:
            raise BadRequest({"since": str(exc)}) from None
    q = dao.SyncQuery(cdrsettings.table(), src=params["src"], dst=params["dest"], did=params["did"], gmt=cdrsettings.gmt())
    db = runtime().db
    with db.transaction("cdr") as tx:
        clock = tx.query(*q.clock(_lag(), unix))[0]
        horizon = clock["h"]
        if cur is None:
            cur = (clock["b"], None, 0, 0)  # after every row whose chain ended at or before `since`
        end = cur[0]
        if horizon <= end:
            return _sync_answer([], cur, False)
        up = tx.query(*q.upper(end, horizon, limit))
        window = min(up[0]["u"], horizon) if up else horizon
        rows = tx.query(*q.chains(_minus(end, MAX_CHAIN_SECONDS), window, end, window, cur[1] is None))
    rows.sort(key=dao.sync_key)
    if cur[1] is not None:
        rows = _drop_synced(rows, cur)
    page = rows[:limit]
    more = len(rows) > limit or window < horizon
    if page:
        nxt = _sync_position(page, cur)
    elif window < horizon:
        nxt = (window, None, 0, 0)  # nothing ended in (end, window]: skip it
    else:
        nxt = cur
    if params.get("with_recordings"):
        _with_recordings(page)
    return _sync_answer(page, nxt, more)


def _sync_answer(rows, nxt: SyncCursor, more: bool) -> Dict[str, Any]:
    for r in rows:
        r.pop("_end", None)
    return {"rows": rows, "count": len(rows), "next": encode_sync(*nxt), "more": more}


def _drop_synced(rows: List[Dict[str, Any]], cur: SyncCursor) -> List[Dict[str, Any]]:
    """Rows (in sync order) after the row position ``cur``."""
    e, u, s, seen = cur
    out = []
    n = 0
    for r in rows:
        if r["_end"] == e:
            k = (r["uniqueid"], r["sequence"])
            if k < (u, s):
                continue
            if k == (u, s) and n < seen:
                n += 1
                continue
        out.append(r)
    return out


def _sync_position(page: List[Dict[str, Any]], cur: SyncCursor) -> SyncCursor:
    last = page[-1]
    key = (last["_end"], last["uniqueid"], last["sequence"])
    seen = 0
    for r in reversed(page):
        if (r["_end"], r["uniqueid"], r["sequence"]) != key:
            break
        seen += 1
    if cur[1] is not None and cur[:3] == key and len(page) == seen:
        seen += cur[3]
    return key[0], key[1], key[2], seen
