"""The cdr table of the CDR database: one page of rows, newest first.

Index notes (for the README). The reference cdr table (FreePBX's installer +
cdr module) has no primary key and single-column indexes on calldate, dst,
accountcode, uniqueid, did, recordingfile and linkedid - nothing on src, and
nothing we may add (FreePBX does not create it). So a page is read as:

1. ``scan``: ``WHERE <filters> AND calldate <= end [AND calldate < cursor second]
   ORDER BY calldate DESC LIMIT n`` - a range on the ``calldate`` index read
   backwards (``end`` defaults to now, so there is always an upper bound); it
   stops after n matching rows, so the work is proportional to ``limit``
   however big the table is;
2. ``second``: ``WHERE <filters> AND calldate = <s>`` (a ref lookup on the
   calldate index) for the second at each end of the page - the cursor's own
   second and the oldest second of the scan - so that every row sharing that
   second is known, sorted in the exact paging order and cut at the right row.

``dest`` and ``did`` filters may use their own indexes (ref) when the optimizer
finds them more selective than the calldate range. ``src`` has no index: it
is checked while walking the calldate range, so a caller that is rare over a
wide range makes the scan read the whole range. Narrow start/end help; an
index on cdr(src, calldate) would turn it into a ref lookup, but FreePBX does
not create one, so rfapi does not either.

calldate is stored in the PBX's local time (Asterisk writes ``start`` as local
time unless FreePBX's CDRUSEGMT is on, then UTC). Conversions happen inside
MariaDB in the same statement: bounds with FROM_UNIXTIME(%s) and the
``timestamp`` column with UNIX_TIMESTAMP(calldate), both in the session time
zone (the server's), so a row at the boundary second compares equal both ways.
With CDRUSEGMT the bounds are UTC datetimes and ``timestamp`` is seconds since
1970-01-01 00:00:00 taken as UTC.
"""
from __future__ import annotations

import datetime as _dt
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
# Old installs defaulted calldate to the zero date, which MySQLdb returns as None.
ZERO_DATE = "0000-00-00 00:00:00"
_REST = tuple(c for c in COLUMNS if c not in _KEY)


def _b(v):
    return v.encode("utf-8") if isinstance(v, str) else v


def sort_key(r: Dict[str, Any]) -> tuple:
    c = r["calldate"]  # None = the zero date of old installs, older than anything
    return ((0, _dt.datetime.min) if c is None else (1, c), _b(r["uniqueid"]), r["sequence"]) + tuple(
        _b(r[k]) for k in _REST)


class Query:
    """The statements of one page (see module doc); the tests EXPLAIN exactly these."""

    def __init__(self, table: str, *, start: Optional[int], end: int, src: Optional[str], dst: Optional[str],
                 did: Optional[str], gmt: bool):
        self.table = table
        if gmt:
            bound = "%s"
            conv = lambda ts: _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=ts)  # noqa: E731
            self.ts_expr = "TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', calldate)"
        else:
            bound = "FROM_UNIXTIME(%s)"
            conv = lambda ts: ts  # noqa: E731
            self.ts_expr = "UNIX_TIMESTAMP(calldate)"
        where: List[str] = ["calldate <= " + bound]
        params: List[Any] = [conv(end)]
        if start is not None:
            where.append("calldate >= " + bound)
            params.append(conv(start))
        for col, val in (("src", src), ("dst", dst), ("did", did)):
            if val is not None:
                where.append("%s = %%s" % col)
                params.append(val)
        self.where = where
        self.params = params

    def _select(self, extra: List[str]) -> str:
        return "SELECT %s, %s AS `timestamp` FROM `%s` WHERE %s" % (
            ", ".join(COLUMNS), self.ts_expr, self.table, " AND ".join(self.where + extra))

    def scan(self, before: Optional[Any], n: int) -> Tuple[str, List[Any]]:
        """Up to n rows, newest first, strictly older than the second ``before``."""
        extra, params = ([], []) if before is None else (["calldate < %s"], [before])
        return self._select(extra) + " ORDER BY calldate DESC LIMIT %s", self.params + params + [n]

    def second(self, calldate: Any) -> Tuple[str, List[Any]]:
        """Every row of one second."""
        return self._select(["calldate = %s"]), self.params + [calldate]


def fetch_page(db, q: Query, cursor: Optional[Tuple[str, str, int, int]], n: int) -> Tuple[List[Dict[str, Any]], int]:
    """The first n rows after ``cursor`` in paging order (fewer at the end), and
    how many rows of the cursor's own key were skipped as already sent.
    All statements run in one read transaction (one snapshot on InnoDB)."""
    with db.transaction("cdr") as tx:
        head: List[Dict[str, Any]] = []
        skipped = 0
        before = None
        if cursor is not None:
            c, u, s, seen = cursor
            before = c
            rows = sorted(tx.query(*q.second(c)), key=sort_key, reverse=True)
            pos = (u.encode("utf-8"), s)
            for r in rows:
                k = (_b(r["uniqueid"]), r["sequence"])
                if k > pos:
                    continue  # sent on an earlier page
                if k == pos and skipped < seen:
                    skipped += 1  # same key, already sent (identical rows are interchangeable)
                    continue
                head.append(r)
        if len(head) >= n:
            return head[:n], skipped
        rows = tx.query(*q.scan(before, n - len(head)))
        if len(rows) == n - len(head):
            # The scan stopped inside a second: take that whole second, in order.
            last = rows[-1]["calldate"]
            rows = [r for r in rows if r["calldate"] != last] + tx.query(
                *q.second(last if last is not None else ZERO_DATE))
        rows.sort(key=sort_key, reverse=True)
        return (head + rows)[:n], skipped
