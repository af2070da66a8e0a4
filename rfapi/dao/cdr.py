"""The cdr table of the CDR database: one page of rows, newest first.

Index notes (docs/api.md, CDR paging). The reference cdr table (FreePBX's installer +
cdr module) has no primary key and single-column indexes on calldate, dst,
accountcode, uniqueid, did, recordingfile and linkedid - nothing on src, and
nothing we may add (FreePBX does not create it). A page never reads more than
about ``limit`` rows (plus the rest of its oldest second):

* no src/dst/did filter (the common, big page):
  1. ``probe``: ``SELECT <calldate> ... ORDER BY calldate DESC LIMIT 1 OFFSET n-1``
     walks the calldate index backwards *without touching the rows* (the
     index covers it) and returns the second of the n-th newest row;
  2. ``window``: ``WHERE calldate BETWEEN <that second> AND <end or the
     cursor's second>`` - a bounded range on the calldate index that returns
     the page and every other row of its oldest second, in one statement;
* with a filter (the filter must be checked on each row, so a probe would read
  the rows twice):
  1. ``scan``: ``WHERE <filters> AND calldate <= end [AND calldate < cursor
     second] ORDER BY calldate DESC LIMIT n`` - a range on the ``calldate``
     index read backwards (``end`` defaults to now, so there is always an upper
     bound) that stops after n matching rows;
  2. ``second``: ``WHERE <filters> AND calldate = <s>`` (a ref lookup on the
     calldate index) for the cursor's own second, and for the scan's oldest
     second when the scan stopped inside it.
The statements of a page run in one read transaction (one snapshot).

``dest`` and ``did`` filters may use their own indexes (ref) when the optimizer
finds them more selective than the calldate range. ``src`` has no index: it
is checked while walking the calldate range, so a caller that is rare over a
wide range makes the scan read the whole range. Narrow start/end help; an
index on cdr(src, calldate) would turn it into a ref lookup, but FreePBX does
not create one, so rfapi does not either.

Rows leave MariaDB in their final JSON form (every column by name, ``calldate``
as ISO 8601 text, ``timestamp``), so Python only orders the rows that share a
second and cuts the page: no per-row conversion or copy.

calldate is stored in the PBX's local time (Asterisk writes ``start`` as local
time unless FreePBX's CDRUSEGMT is on, then UTC). Conversions happen inside
MariaDB in the same statement: bounds with FROM_UNIXTIME(%s) and the
``timestamp`` column with UNIX_TIMESTAMP(calldate), both in the session time
zone (the server's), so a row at the boundary second compares equal both ways;
the ISO offset is calldate minus that instant. With CDRUSEGMT the bounds are
UTC datetimes and ``timestamp`` is seconds since 1970-01-01 00:00:00 taken as
UTC (offset +00:00).
"""
from __future__ import annotations

import datetime as _dt
import operator
from typing import Any, Dict, List, Optional, Tuple

COLUMNS: Tuple[str, ...] = (
    "calldate", "clid", "src", "dst", "dcontext", "channel", "dstchannel", "lastapp", "lastdata", "duration",
    "billsec", "disposition", "amaflags", "accountcode", "uniqueid", "userfield", "did", "recordingfile", "cnum",
    "cnam", "outbound_cnum", "outbound_cnam", "dst_cnam", "linkedid", "peeraccount", "sequence")

# Paging order: newest first, then uniqueid and sequence (unique per CDR within an
# Asterisk run), then every other column, so that only fully identical rows tie
# (and those are interchangeable). Strings compare as UTF-8 bytes (what BINARY
# would do in SQL), whatever the column collation.
_KEY = ("calldate", "uniqueid", "sequence")
# Old installs defaulted calldate to the zero date.
ZERO_DATE = "0000-00-00 00:00:00"
_REST = tuple(c for c in COLUMNS if c not in _KEY)


def _b(v):
    return v.encode("utf-8") if isinstance(v, str) else v


def sort_key(r: Dict[str, Any]) -> tuple:
    """The paging order spelled out on database values (calldate a datetime, None
    for the zero date). Reference for tests; pages are ordered by ``order_ties``."""
    c = r["calldate"]  # None = the zero date of old installs, older than anything
    return ((0, _dt.datetime.min) if c is None else (1, c), _b(r["uniqueid"]), r["sequence"]) + tuple(
        _b(r[k]) for k in _REST)


# Inside one second. Python compares str by code point, and UTF-8 preserves code
# point order byte for byte, so comparing the str values is comparing their
# UTF-8 bytes (the key above) without encoding anything; ints are ints.
_TIE_KEY = operator.itemgetter("uniqueid", "sequence", *_REST)
_CALLDATE = operator.itemgetter("calldate")


def order_ties(rows: List[Dict[str, Any]]) -> None:
    """Put rows in paging order, in place. ``rows`` come from SQL ordered by
    calldate DESC, so only runs of one second (equal ``calldate`` text) need
    sorting - usually none or a few short ones."""
    if len(rows) < 2:
        return
    secs = list(map(_CALLDATE, rows))
    same = list(map(operator.eq, secs, secs[1:]))  # same[i]: rows i and i+1 share a second
    if True not in same:
        return
    i, end = same.index(True), len(same)
    while True:
        j = i
        while j < end and same[j]:
            j += 1
        rows[i:j + 1] = sorted(rows[i:j + 1], key=_TIE_KEY, reverse=True)
        try:
            i = same.index(True, j)
        except ValueError:
            return


def iso_second(cursor_calldate: str) -> str:
    """'YYYY-MM-DD HH:MM:SS' -> the first 19 characters of the row's ``calldate`` text."""
    return cursor_calldate[:10] + "T" + cursor_calldate[11:]


def db_second(calldate_text: str) -> str:
    """A row's ``calldate`` text -> 'YYYY-MM-DD HH:MM:SS' (SQL literal, cursor)."""
    return calldate_text[:10] + " " + calldate_text[11:19]


class Query:
    """The statements of one page (see module doc); the tests EXPLAIN exactly these."""

    def __init__(self, table: str, *, start: Optional[int], end: int, src: Optional[str], dst: Optional[str],
                 did: Optional[str], gmt: bool):
        self.table = table
        fmt = "DATE_FORMAT(calldate, '%%Y-%%m-%%dT%%H:%%i:%%s')"
        if gmt:
            bound = "%s"
            conv = lambda ts: _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=ts)  # noqa: E731
            ts = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', calldate)"
            offset = "'+00:00'"
        else:
            bound = "FROM_UNIXTIME(%s)"
            conv = lambda ts: ts  # noqa: E731
            ts = "UNIX_TIMESTAMP(calldate)"
            # The PBX's UTC offset at that moment: local wall clock minus the instant.
            off = "(TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', calldate) - %s)" % ts
            # '+HH:MM' / '-HH:MM' (TIME_FORMAT keeps the minus of a negative time;
            # '+-' -> '-' spares computing the offset twice).
            offset = "REPLACE(CONCAT('+', TIME_FORMAT(SEC_TO_TIME(" + off + "), '%%H:%%i')), '+-', '-')"
        # Outside the Unix range (the '1000-01-01' default, the zero date, pre-1970 local
        # times) there is no timestamp and no offset.
        valid = "(%s > 0 OR (%s = 0 AND calldate >= '1970-01-01 00:00:00'))" % (ts, ts)
        out = ["IF(%s, CONCAT(%s, %s), %s) AS calldate" % (valid, fmt, offset, fmt)]
        out += list(COLUMNS[1:])
        out.append("IF(%s, %s, NULL) AS `timestamp`" % (valid, ts))
        self.columns = ", ".join(out)
        where: List[str] = ["calldate <= " + bound]
        params: List[Any] = [conv(end)]
        if start is not None:
            where.append("calldate >= " + bound)
            params.append(conv(start))
        for col, val in (("src", src), ("dst", dst), ("did", did)):
            if val is not None:
                where.append("%s = %%s" % col)
                params.append(val)
        self.filtered = src is not None or dst is not None or did is not None
        self.where = where
        self.params = params
        # ORDER BY must name the column: the bare name would be the ISO text alias.
        self.order = " ORDER BY `%s`.calldate DESC" % table

    def _select(self, extra: List[str]) -> str:
        return "SELECT %s FROM `%s` WHERE %s" % (self.columns, self.table, " AND ".join(self.where + extra))

    def scan(self, before: Optional[Any], n: int) -> Tuple[str, List[Any]]:
        """Up to n rows, newest first, strictly older than the second ``before``."""
        extra, params = ([], []) if before is None else (["calldate < %s"], [before])
        return self._select(extra) + self.order + " LIMIT %s", self.params + params + [n]

    def second(self, calldate: Any) -> Tuple[str, List[Any]]:
        """Every row of one second."""
        return self._select(["calldate = %s"]), self.params + [calldate]

    def probe(self, before: Optional[Any], n: int) -> Tuple[str, List[Any]]:
        """The second of the n-th newest row strictly older than ``before`` (as
        'YYYY-MM-DD HH:MM:SS' text, exact also for zero dates). Index only when
        there is no src/dst/did filter."""
        extra, params = ([], []) if before is None else (["calldate < %s"], [before])
        sql = "SELECT DATE_FORMAT(calldate, '%%Y-%%m-%%d %%H:%%i:%%s') AS s FROM `" + self.table + "` WHERE "
        return (sql + " AND ".join(self.where + extra) + self.order + " LIMIT 1 OFFSET %s",
                self.params + params + [n - 1])

    def count_between(self, above: str, before: Optional[Any]) -> Tuple[str, List[Any]]:
        """How many rows lie strictly between the seconds ``above`` and ``before``."""
        extra, params = ["calldate > %s"], [above]
        if before is not None:
            extra.append("calldate < %s")
            params.append(before)
        return ("SELECT COUNT(*) AS n FROM `%s` WHERE %s" % (self.table, " AND ".join(self.where + extra)),
                self.params + params)

    def window(self, lowest: Optional[str], upto: Optional[Any]) -> Tuple[str, List[Any]]:
        """Every row from the second ``lowest`` up to the second ``upto`` (both
        inclusive; None: no bound beyond start/end), newest first."""
        extra: List[str] = []
        params: List[Any] = []
        if upto is not None:
            extra.append("calldate <= %s")
            params.append(upto)
        if lowest is not None:
            extra.append("calldate >= %s")
            params.append(lowest)
        return self._select(extra) + self.order, self.params + params


def _drop_sent(rows: List[Dict[str, Any]], cursor: Tuple[str, str, int, int]) -> Tuple[List[Dict[str, Any]], int]:
    """Rows (in paging order) without those an earlier page sent: the cursor's
    second holds them before the cursor row. Also returns how many rows of
    exactly the cursor's key were skipped."""
    c, u, s, seen = cursor
    second = iso_second(c)
    pos = (u, s)
    skipped = 0
    keep: List[Dict[str, Any]] = []
    i = 0
    for i, r in enumerate(rows):
        if r["calldate"][:19] != second:
            break  # older seconds: nothing there was sent
        k = (r["uniqueid"], r["sequence"])
        if k > pos:
            continue  # sent on an earlier page
        if k == pos and skipped < seen:
            skipped += 1  # same key, already sent (identical rows are interchangeable)
            continue
        keep.append(r)
    else:
        i = len(rows)
    return (keep + rows[i:] if i else rows), skipped


def fetch_page(db, q: Query, cursor: Optional[Tuple[str, str, int, int]], n: int) -> Tuple[List[Dict[str, Any]], int]:
    """The first n rows after ``cursor`` in paging order (fewer at the end), and
    how many rows of the cursor's own key were skipped as already sent."""
    before = cursor[0] if cursor is not None else None
    skipped = 0
    with db.transaction("cdr") as tx:
        if not q.filtered:
            got = tx.query(*q.probe(before, n))
            rows = tx.query(*q.window(got[0]["s"] if got else None, before))
            order_ties(rows)
            if cursor is not None:
                rows, skipped = _drop_sent(rows, cursor)
        else:
            rows = []
            if cursor is not None:
                rows = tx.query(*q.second(before))
                order_ties(rows)
                rows, skipped = _drop_sent(rows, cursor)
            if len(rows) < n:
                more = tx.query(*q.scan(before, n - len(rows)))
                if len(more) == n - len(rows):
                    # The scan stopped inside a second: take that whole second instead.
                    last = more[-1]["calldate"]
                    cut = len(more) - 1
                    while cut > 0 and more[cut - 1]["calldate"] == last:
                        cut -= 1
                    del more[cut:]
                    more += tx.query(*q.second(db_second(last)))
                order_ties(more)
                rows += more
    return rows[:n], skipped


def rows_of_uniqueid(db, table: str, uniqueid: str) -> List[Dict[str, Any]]:
    """Every row of one uniqueid (the uniqueid index), oldest first: the date of
    calldate, recordingfile and sequence. The column's _ci collation would also
    match other spellings, so the caller compares exactly."""
    sql = ("SELECT DATE_FORMAT(calldate, '%%Y%%m%%d') AS day, uniqueid, recordingfile, sequence FROM `" + table
           + "` WHERE uniqueid = %s ORDER BY calldate, sequence")
    return db.query(sql, (uniqueid,), which="cdr")


# -- incremental sync (see rfapi.services.cdr: the sync cursor) -------------------------

_SECOND_FMT = "'%%Y-%%m-%%d %%H:%%i:%%s'"


class SyncQuery:
    """The statements of one sync page: rows of every call chain (rows sharing a
    uniqueid) whose end, MAX(calldate + duration) over the chain, lies in a window."""

    def __init__(self, table: str, *, src: Optional[str], dst: Optional[str], did: Optional[str], gmt: bool):
        self.table = table
        self.gmt = gmt
        # The row shape of /cdr (same columns, same conversions).
        self.columns = Query(table, start=None, end=0, src=None, dst=None, did=None, gmt=gmt).columns
        self.where: List[str] = []
        self.params: List[Any] = []
        for col, val in (("src", src), ("dst", dst), ("did", did)):
            if val is not None:
                self.where.append("c.%s = %%s" % col)
                self.params.append(val)

    def clock(self, lag: int, since: Optional[int]) -> Tuple[str, List[Any]]:
        """The horizon (now - lag) and the bound of a Unix-time ``since``, as calldate text."""
        now = "UTC_TIMESTAMP()" if self.gmt else "NOW()"
        bound = ("'1970-01-01 00:00:00' + INTERVAL %s SECOND" if self.gmt else "FROM_UNIXTIME(%s)")
        sql = "SELECT DATE_FORMAT(%s - INTERVAL %%s SECOND, %s) AS h, DATE_FORMAT(%s, %s) AS b" % (
            now, _SECOND_FMT, bound, _SECOND_FMT)
        return sql, [lag, since if since is not None else 0]

    def upper(self, after: str, horizon: str, n: int) -> Tuple[str, List[Any]]:
        """calldate of the (n+1)-th row that started after ``after`` (the calldate index)."""
        sql = ("SELECT DATE_FORMAT(calldate, " + _SECOND_FMT + ") AS u FROM `" + self.table + "` WHERE calldate > %s"
               " AND calldate <= %s ORDER BY calldate LIMIT 1 OFFSET %s")
        return sql, [after, horizon, n]

    def chains(self, lowest: str, highest: str, end_from: str, end_to: str, strict: bool) -> Tuple[str, List[Any]]:
        """Rows of the chains that have a row starting in [lowest, highest] and end in
        [end_from, end_to] (``strict``: end after end_from), each with ``_end``."""
        t = "`%s`" % self.table
        sql = ("SELECT " + self.columns + ", DATE_FORMAT(g.e, " + _SECOND_FMT + ") AS _end FROM " + t + " AS c JOIN ("
               "SELECT x.uniqueid AS u, MAX(x.calldate + INTERVAL x.duration SECOND) AS e FROM " + t + " AS x "
               "WHERE x.uniqueid IN (SELECT y.uniqueid FROM " + t + " AS y WHERE y.calldate >= %s AND y.calldate <= %s) "
               "GROUP BY x.uniqueid HAVING e " + (">" if strict else ">=") + " %s AND e <= %s) AS g "
               "ON c.uniqueid = g.u")
        if self.where:
            sql += " WHERE " + " AND ".join(self.where)
        return sql, [lowest, highest, end_from, end_to] + self.params


def sync_key(r: Dict[str, Any]) -> tuple:
    """Sync order: chain end, then the paging tie order (uniqueid, sequence, the rest), ascending."""
    return (r["_end"],) + _TIE_KEY(r)
