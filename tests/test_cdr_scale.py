"""GET /cdr on a table of 100,000+ generated rows: the statements use the cdr
indexes (EXPLAIN), read about `limit` rows (ANALYZE), and paging through a
whole day returns every row exactly once, ties and identical rows included."""
from __future__ import annotations

import collections
import datetime as dt
import json
import random
import time

import MySQLdb
import MySQLdb.cursors
import pytest

from rfapi.dao import cdr as dao
from tests.support import bulkload, dbworld, world
from tests.support.world import body

N_ROWS = 100_000
T0 = int(time.time()) - 3600          # newest generated call
DAY0 = T0 - 3 * 86400                 # the day that is paged through: [DAY0, DAY0 + 86399]
BURST = DAY0 + 40_000                 # one second with many rows
SRCS = ["555%07d" % i for i in range(0, 3_000_000, 1000)] + [str(100 + i) for i in range(40)]
DSTS = [str(100 + i) for i in range(40)] + ["400", "600", "vmu190"] + ["1212555%04d" % i for i in range(800)]
DIDS = ["55512301%02d" % i for i in range(60)]


def generate(n: int):
    """n CDR rows over the 30 days before T0, deterministic. Rows are legs of calls:
    1-3 legs share calldate, uniqueid and linkedid (different sequence)."""
    r = random.Random(20240611)
    rows, seq = [], 0
    while len(rows) < n:
        ts = T0 - r.randrange(30 * 86400)
        src, dst = r.choice(SRCS), r.choice(DSTS)
        did = r.choice(DIDS) if r.random() < 0.4 else ""
        uid = "%d.%d" % (ts, seq)
        for leg in range(r.choice((1, 1, 1, 2, 3))):
            seq += 1
            rows.append({
                "calldate": dt.datetime.fromtimestamp(ts), "clid": '"Caller" <%s>' % src, "src": src, "dst": dst,
                "dcontext": "from-internal", "channel": "PJSIP/%s-%08x" % (src[-3:], seq),
                "dstchannel": "PJSIP/%s-%08x" % (dst[-3:], seq + 1), "lastapp": "Dial", "lastdata": "PJSIP/%s" % dst,
                "duration": r.randrange(600), "billsec": r.randrange(500), "disposition": "ANSWERED",
                "amaflags": 3, "accountcode": "", "uniqueid": uid, "userfield": "", "did": did,
                "recordingfile": "", "cnum": src, "cnam": "Caller", "outbound_cnum": "", "outbound_cnam": "",
                "dst_cnam": "", "linkedid": uid, "peeraccount": "", "sequence": seq})
    rows = rows[:n]
    # Ties the paging must survive, inside the paged day and on both of its edges.
    burst = dt.datetime.fromtimestamp(BURST)
    for i in range(12):   # same second, same uniqueid, different sequence
        rows.append(dict(rows[i], calldate=burst, uniqueid="%d.1" % BURST, linkedid="%d.1" % BURST,
                         sequence=900000 + i))
    for i in range(6):    # same second and sequence, different uniqueid
        rows.append(dict(rows[20 + i], calldate=burst, uniqueid="%d.%d" % (BURST, 50 + i), sequence=77))
    for i in range(4):    # identical rows
        rows.append(dict(rows[30], calldate=burst, uniqueid="%d.9" % BURST, sequence=5))
    for edge in (DAY0, DAY0 + 86399, DAY0 - 1, DAY0 + 86400):
        for i in range(3):
            rows.append(dict(rows[40 + i], calldate=dt.datetime.fromtimestamp(edge), uniqueid="%d.%d" % (edge, i),
                             sequence=i))
    return rows


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    w = dbworld.create_world()
    try:
        rows = generate(N_ROWS)
        conn = dbworld.connect(w.cdr_db, autocommit=False)
        try:
            cur = conn.cursor()
            sql = "INSERT INTO cdr (%s) VALUES (%s)" % (", ".join(dao.COLUMNS), ", ".join(["%s"] * len(dao.COLUMNS)))
            with bulkload.indexes_built_after(cur, w.cdr_db, "cdr"):
                for k in range(0, len(rows), 5000):
                    cur.executemany(sql, [tuple(r[c] for c in dao.COLUMNS) for r in rows[k:k + 5000]])
                conn.commit()
            cur.execute("ANALYZE TABLE cdr")
            cur.fetchall()
        finally:
            conn.close()
        pbx = world.build(tmp_path_factory.mktemp("bigcdr"), w)
        try:
            yield pbx
        finally:
            pbx.close()
    finally:
        dbworld.drop_world(w)


def sql(pbx, query, params=()):
    # Autocommit, closed at once: no open transaction may hold the table when the world is dropped.
    conn = dbworld.connect(pbx.db.cdr_db, autocommit=True)
    try:
        cur = conn.cursor(MySQLdb.cursors.DictCursor)
        cur.execute(query, params)
        return list(cur.fetchall())
    finally:
        conn.close()


CASES = {
    "plain": {},
    "day": {"start": DAY0, "end": DAY0 + 86399},
    "src": {"src": SRCS[7]},
    "dest": {"dst": "101"},
    "did": {"did": DIDS[3]},
    "all": {"start": DAY0 - 5 * 86400, "end": DAY0 + 86399, "src": "101", "dst": "400", "did": DIDS[3]},
}


def query(case, end=None):
    kw = CASES[case]
    return dao.Query("cdr", start=kw.get("start"), end=kw.get("end", end or int(time.time())), src=kw.get("src"),
                     dst=kw.get("dst"), did=kw.get("did"), gmt=False)


def explain(pbx, stmt):
    return sql(pbx, "EXPLAIN " + stmt[0], stmt[1])


def uses_index(plan):
    for row in plan:
        kind = row["type"].split("|")[0]
        assert kind in ("range", "ref", "eq_ref", "const", "index_merge"), plan  # never ALL / full index
        assert row["key"], plan


def page_through(big, params, limit, expected_rows):
    """Follow ``next`` from the first page to the last: rows in paging order across
    pages, every page full but the last, as many pages as the rows need."""
    got, cursor, pages, last = [], None, 0, None
    while True:
        q = dict(params, limit=limit)
        if cursor:
            q["cursor"] = cursor
        d = body(big.get("cdr", query_string=q))["data"]
        pages += 1
        for row in d["rows"]:
            key = dao.sort_key(dict(row, calldate=dt.datetime.fromtimestamp(row["timestamp"])))
            assert last is None or key <= last, "rows out of order across pages"
            last = key
        got += d["rows"]
        cursor = d["next"]
        if not cursor:
            break
        assert d["count"] == limit
    assert pages == -(-expected_rows // limit)
    return got


def as_counter(rows):
    """Answer rows as the multiset of their column values (comparable with the table's)."""
    return collections.Counter(json.dumps([dt.datetime.fromtimestamp(r["timestamp"]) if c == "calldate" else r[c]
                                           for c in dao.COLUMNS], default=str) for r in rows)


def test_table_is_big(big):
    assert sql(big, "SELECT COUNT(*) AS n FROM cdr")[0]["n"] >= 100_000


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_statement_uses_an_index(big, case):
    q = query(case)
    uses_index(explain(big, q.scan(None, 1001)))
    uses_index(explain(big, q.scan(None, 51)))
    # A page's oldest second / a cursor's second (inside every case's range), and
    # the scan strictly before a cursor.
    uses_index(explain(big, q.second(dt.datetime.fromtimestamp(BURST))))
    uses_index(explain(big, q.scan(dt.datetime.fromtimestamp(BURST), 51)))
    if "end" not in CASES[case]:
        newest = sql(big, "SELECT MAX(calldate) AS c FROM cdr")[0]["c"]
        uses_index(explain(big, q.second(newest)))


UNFILTERED = [c for c in sorted(CASES) if not {"src", "dst", "did"} & set(CASES[c])]


def probe_second(big, q, before, n):
    got = sql(big, *q.probe(before, n))
    return got[0]["s"] if got else None


@pytest.mark.parametrize("case", UNFILTERED)
def test_unfiltered_statements_use_the_calldate_index(big, case):
    """Pages without src/dst/did: the probe reads the calldate index only (no
    row), the window is a range on it bounded at both ends."""
    q = query(case)
    assert not q.filtered
    burst = dt.datetime.fromtimestamp(BURST)
    for before, n in ((None, 1001), (None, 51), (burst, 51), (burst, 1001)):
        plan = explain(big, q.probe(before, n))
        uses_index(plan)
        assert plan[0]["key"] == "calldate" and "Using index" in plan[0]["Extra"], plan
        assert "filesort" not in plan[0]["Extra"], plan
        lowest = probe_second(big, q, before, n)
        assert lowest is not None
        plan = explain(big, q.window(lowest, before))
        uses_index(plan)
        assert plan[0]["key"] == "calldate" and "filesort" not in plan[0]["Extra"], plan


@pytest.mark.parametrize("case,limit", [("plain", 1000), ("plain", 50), ("day", 1000), ("day", 50)])
def test_unfiltered_page_reads_about_limit_rows(big, case, limit):
    """ANALYZE: the probe walks limit + 1 index entries, the window reads the page
    plus the rest of its oldest second - not the size of the range."""
    q = query(case)
    n = limit + 1
    plan = sql(big, "ANALYZE " + q.probe(None, n)[0], q.probe(None, n)[1])
    uses_index(plan)
    assert float(plan[0]["r_rows"]) <= n, plan
    lowest = probe_second(big, q, None, n)
    stmt = q.window(lowest, None)
    plan = sql(big, "ANALYZE " + stmt[0], stmt[1])
    uses_index(plan)
    same_second = sql(big, "SELECT COUNT(*) AS n FROM cdr WHERE calldate = %s", (lowest,))[0]["n"]
    assert float(plan[0]["r_rows"]) <= n + same_second, plan
    assert float(plan[0]["r_rows"]) >= n


@pytest.mark.parametrize("case,limit", [("plain", 1000), ("plain", 50), ("day", 1000), ("day", 50), ("dest", 50),
                                        ("did", 50)])
def test_scan_reads_about_limit_rows(big, case, limit):
    """ANALYZE runs the statement and reports the rows it really read (r_rows):
    limit + 1 on the calldate range, thanks to the backward index walk that
    stops early - not the size of the range. When the optimizer prefers the
    dst / did index (ref) it reads that index value's rows, no more."""
    stmt = query(case).scan(None, limit + 1)
    plan = sql(big, "ANALYZE " + stmt[0], stmt[1])
    uses_index(plan)
    read = sum(float(r["r_rows"] or 0) for r in plan)
    bound = limit + 1
    if plan[0]["type"].split("|")[0] != "range":
        col, val = next((c, v) for c, v in CASES[case].items() if c in ("dst", "did"))
        bound = max(bound, sql(big, "SELECT COUNT(*) AS n FROM cdr WHERE %s = %%s" % col, (val,))[0]["n"])
    assert read <= bound, plan
    assert read < N_ROWS / 20


def test_plain_query_returns_the_newest_rows(big):
    r = big.get("cdr", query_string={"limit": 5})
    assert r.status_code == 200
    got = body(r)["data"]["rows"]
    newest = sql(big, "SELECT uniqueid, sequence, UNIX_TIMESTAMP(calldate) AS ts FROM cdr "
                      "ORDER BY calldate DESC, BINARY uniqueid DESC, sequence DESC LIMIT 5")
    assert [(g["uniqueid"], g["sequence"], g["timestamp"]) for g in got] == [
        (n["uniqueid"], n["sequence"], n["ts"]) for n in newest]


def test_filters_on_the_big_table(big):
    for flt, col in (({"src": SRCS[7]}, "src"), ({"dest": "101"}, "dst"), ({"did": DIDS[3]}, "did")):
        value = next(iter(flt.values()))
        want = sql(big, "SELECT COUNT(*) AS n FROM cdr WHERE %s = %%s AND calldate <= NOW()" % col, (value,))[0]["n"]
        d = body(big.get("cdr", query_string=dict(flt, limit=100000)))["data"]
        assert d["count"] == want > 0 and d["next"] is None
        assert {row[col] for row in d["rows"]} == {value}


def test_paging_a_whole_day_returns_every_row_once(big):
    truth = sql(big, "SELECT %s FROM cdr WHERE calldate BETWEEN FROM_UNIXTIME(%%s) AND FROM_UNIXTIME(%%s)"
                % ", ".join(dao.COLUMNS), (DAY0, DAY0 + 86399))
    assert len(truth) > 3000
    want = collections.Counter(json.dumps([r[c] for c in dao.COLUMNS], default=str) for r in truth)
    got = page_through(big, {"start": DAY0, "end": DAY0 + 86399}, 97, len(truth))
    assert as_counter(got) == want
    # The edges are inclusive; the seconds just outside are not returned.
    stamps = {r["timestamp"] for r in got}
    assert DAY0 in stamps and DAY0 + 86399 in stamps
    assert DAY0 - 1 not in stamps and DAY0 + 86400 not in stamps
    assert sum(1 for r in got if r["timestamp"] == BURST) >= 22


def test_paging_with_a_filter_returns_every_row_once(big):
    """The filtered statements (scan + whole oldest second) over a big table:
    every row of a DID once, in order, pages full until the last."""
    truth = sql(big, "SELECT %s FROM cdr WHERE did = %%s AND calldate <= NOW()" % ", ".join(dao.COLUMNS),
                (DIDS[3],))
    assert len(truth) > 500
    want = collections.Counter(json.dumps([r[c] for c in dao.COLUMNS], default=str) for r in truth)
    got = page_through(big, {"did": DIDS[3]}, 61, len(truth))
    assert as_counter(got) == want
