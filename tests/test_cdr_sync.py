"""GET /cdr?since=...: incremental sync in write order (the end of each call chain: the
rows sharing a uniqueid, which Asterisk writes together when that channel ends), every row
exactly once across syncs and pages, calls that end out of order (a long call started
earlier and written later, a transferred call whose first leg ended long before), rows
inserted between two syncs, rows not yet settled, filters, CSV and validation."""
from __future__ import annotations

import csv
import datetime as dt
import io
import random

import pytest

from rfapi.services import cdr as svc
from tests.support import office, world
from tests.support.world import body

COLS = office.CDR_COLUMNS
REST = tuple(c for c in COLS if c not in ("calldate", "uniqueid", "sequence"))


def db_now(pbx) -> dt.datetime:
    return pbx.sql("SELECT NOW() AS n", which="cdr")[0]["n"]


def insert(pbx, calldate, duration, uniqueid, **kw):
    row = {c: "" for c in COLS}
    row.update(calldate=calldate, duration=duration, billsec=max(0, duration - 3), uniqueid=uniqueid,
               linkedid=kw.pop("linkedid", uniqueid), amaflags=3, disposition="ANSWERED", sequence=0,
               src="5550001111", dst="101", lastapp="Dial")
    row.update(kw)
    cols = ", ".join("`%s`" % c for c in row)
    pbx.sql("INSERT INTO cdr (%s) VALUES (%s)" % (cols, ", ".join(["%s"] * len(row))), list(row.values()),
            which="cdr")
    return row


def reference(pbx, after=None, upto=None, **flt):
    """The documented sync order over the database's rows: chain end (max calldate+duration over
    a uniqueid), then uniqueid, sequence, the other columns; ends in (after, upto]."""
    rows = pbx.sql("SELECT * FROM cdr", which="cdr")
    ends = {}
    for r in rows:
        e = r["calldate"] + dt.timedelta(seconds=r["duration"])
        ends[r["uniqueid"]] = max(ends.get(r["uniqueid"], e), e)
    upto = upto or db_now(pbx) - dt.timedelta(seconds=svc.SETTLE_SECONDS)
    out = [r for r in rows if (after is None or ends[r["uniqueid"]] > after) and ends[r["uniqueid"]] <= upto
           and all(r[{"dest": "dst"}.get(k, k)] == v for k, v in flt.items())]
    out.sort(key=lambda r: (ends[r["uniqueid"]], r["uniqueid"], r["sequence"]) + tuple(r[c] for c in REST))
    return [key(r) for r in out]


def stable(pbx, fn, **ref):
    """fn()'s rows, and the reference just before and just after it: a chain of the office that
    settles during the call (its end crosses now - 60 s) is in one of the two."""
    before = reference(pbx, **ref)
    out = fn()
    after = reference(pbx, **ref)
    return out, before, after


def key(r):
    """A row, API or database shape, as comparable values (calldate to the second)."""
    c = r["calldate"]
    c = c.strftime("%Y-%m-%d %H:%M:%S") if isinstance(c, dt.datetime) else c[:10] + " " + c[11:19]
    return (c,) + tuple(r[k] for k in COLS[1:])


def sync(pbx, since, **q):
    resp = pbx.get("cdr", query_string=dict(q, since=since))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    d = body(resp)["data"]
    assert d["count"] == len(d["rows"]) and isinstance(d["next"], str) and d["next"]
    return d


def drain(pbx, since, **q):
    """Sync until more=false: (rows, next, pages)."""
    got, pages = [], 0
    while True:
        d = sync(pbx, since, **q)
        pages += 1
        got += d["rows"]
        since = d["next"]
        if not d["more"]:
            return got, since, pages
        assert pages < 10000


def test_first_sync_is_every_settled_row_in_write_order(pbx):
    (rows, nxt, _), want, want2 = stable(pbx, lambda: drain(pbx, "0", limit=100000))
    assert [key(r) for r in rows] in (want, want2)
    # The office's rows are the whole week, except calls still "in progress" around the anchor.
    assert len(want) > 300
    assert set(rows[0]) == set(COLS) | {"timestamp"}
    # Nothing new: an empty answer with the same position.
    d = sync(pbx, nxt)
    assert d["rows"] == [] and d["more"] is False and d["next"] == nxt


def test_small_pages_give_the_same_rows_once(pbx):
    (paged, _, pages), want, want2 = stable(pbx, lambda: drain(pbx, "0", limit=7))
    assert [key(r) for r in paged] in (want, want2) and pages >= len(want) // 7


def test_since_a_unix_time_starts_after_calls_that_ended_by_then(pbx):
    now = db_now(pbx)
    t = now - dt.timedelta(days=2)
    unix = int(pbx.sql("SELECT UNIX_TIMESTAMP(%s) AS u", (t,), which="cdr")[0]["u"])
    (rows, _, _), want, want2 = stable(pbx, lambda: drain(pbx, str(unix), limit=50), after=t)
    assert [key(r) for r in rows] in (want, want2)
    assert 0 < len(rows) < len(reference(pbx))


def test_calls_that_end_out_of_order_and_rows_written_between_syncs(pbx_rw):
    p = pbx_rw
    # The office's last hour would end after these calls: keep its older rows only.
    p.sql("DELETE FROM cdr WHERE calldate > NOW() - INTERVAL 2 DAY", which="cdr")
    now = db_now(p)
    s = lambda n: now - dt.timedelta(seconds=n)  # noqa: E731
    # Start from "everything that ended before an hour ago".
    unix = int(p.sql("SELECT UNIX_TIMESTAMP(%s) AS u", (s(3600),), which="cdr")[0]["u"])
    before, pos, _ = drain(p, str(unix))
    seen = [key(r) for r in before]

    b = insert(p, s(900), 60, "9000000001.1", src="201")          # ends now-840
    c = insert(p, s(800), 100, "9000000002.1", src="202")         # ends now-700
    rows, pos, _ = drain(p, pos)
    assert [key(r) for r in rows][-2:] == [key(b), key(c)]
    seen += [key(r) for r in rows]

    # Written after that sync: a long call that started before both (calldate older than
    # everything returned so far) and ended after them; a transferred call whose first leg
    # ended before b did (same uniqueid: written with the second leg, at the chain's end);
    # a short call; and a call that ended 10 s ago (not settled: not returned yet).
    a = insert(p, s(5000), 4700, "9000000003.1", src="203")       # ends now-300
    t1 = insert(p, s(1500), 700, "9000000004.1", src="204", sequence=1, dst="109")  # leg 1 ends now-800
    t2 = insert(p, s(800), 400, "9000000004.1", src="204", sequence=2, dst="105")   # leg 2 ends now-400
    d = insert(p, s(200), 30, "9000000005.1", src="205")          # ends now-170
    e = insert(p, s(40), 30, "9000000006.1", src="206")           # ends now-10
    rows, pos, _ = drain(p, pos)
    got = [key(r) for r in rows]
    assert got == [key(t1), key(t2), key(a), key(d)]
    assert key(e) not in got
    seen += got

    d2 = sync(p, pos)
    assert d2["rows"] == [] and d2["more"] is False and d2["next"] == pos
    # Time passes for e (its end moves 60 s further into the past): now it is settled.
    p.sql("UPDATE cdr SET calldate = calldate - INTERVAL 60 SECOND WHERE uniqueid = %s", (e["uniqueid"],),
          which="cdr")
    rows, pos, _ = drain(p, pos)
    e_now = dict(e, calldate=e["calldate"] - dt.timedelta(seconds=60))
    assert [key(r) for r in rows] == [key(e_now)]
    seen += [key(r) for r in rows]
    # Every row exactly once overall, and nothing that ended after `unix` left out.
    assert len(seen) == len(set(seen))
    assert seen[-len(reference(p, after=s(3600))):] == reference(p, after=s(3600))


def test_billing_loop_gets_every_row_exactly_once(pbx_rw):
    """Ten rounds: each round writes calls (some long ones that started hours before), with ties
    at one second, then the billing system syncs with a small page size."""
    p = pbx_rw
    p.sql("DELETE FROM cdr WHERE calldate > NOW() - INTERVAL 2 DAY", which="cdr")
    now = db_now(p)
    rnd = random.Random(14)
    unix = int(p.sql("SELECT UNIX_TIMESTAMP(%s) AS u", (now - dt.timedelta(hours=3),), which="cdr")[0]["u"])
    got, pos, _ = drain(p, str(unix), limit=9)
    written = []
    for k in range(10):
        lo = 3 * 3600 - 1000 * k  # this round's calls end between now-lo and now-lo+900 (after the last round's)
        for i in range(rnd.randint(3, 12)):
            end = now - dt.timedelta(seconds=lo - rnd.randint(0, 900))
            dur = rnd.choice((5, 60, 600, 7200))
            uid = "%d.%d" % (8000000000 + k, i)
            for leg in range(rnd.choice((1, 1, 2, 3))):
                written.append(key(insert(p, end - dt.timedelta(seconds=dur + 50 * leg), dur, uid, sequence=leg,
                                          src=str(300 + k))))
        tie = now - dt.timedelta(seconds=lo - 950)
        for j in range(4):  # identical rows ending in the same second
            written.append(key(insert(p, tie - dt.timedelta(seconds=5), 5, "%d.99" % (8000000000 + k), sequence=9)))
        rows, pos, _ = drain(p, pos, limit=rnd.choice((1, 2, 5, 9)))
        got += rows
    mine = [key(r) for r in got if r["uniqueid"].startswith("80000000")]
    assert sorted(mine) == sorted(written) and len(mine) == len(written)
    assert [key(r) for r in got] == reference(p, after=now - dt.timedelta(hours=3))


def test_filters_keep_the_chain_end_of_the_whole_chain(pbx_rw):
    p = pbx_rw
    now = db_now(p)
    leg1 = insert(p, now - dt.timedelta(seconds=4000), 100, "9100000001.1", src="401", sequence=1)
    leg2 = insert(p, now - dt.timedelta(seconds=3000), 2000, "9100000001.1", src="402", sequence=2)
    rows, _, _ = drain(p, "0", src="401", limit=100000)
    assert [key(r) for r in rows] == reference(p, src="401")
    assert key(leg1) in [key(r) for r in rows]
    # leg1 is placed at its chain's end (now-1000), after calls that ended before that.
    (full, _, _), want, want2 = stable(p, lambda: drain(p, "0", limit=100000))
    keys = [key(r) for r in full]
    assert keys in (want, want2) and keys.index(key(leg2)) == keys.index(key(leg1)) + 1
    assert [k for k in keys if k[2] == "401"] == [key(leg1)]
    dest = drain(p, "0", dest="400", limit=100000)[0]
    assert [key(r) for r in dest] == reference(p, dest="400") and dest


def test_csv_sync_headers(pbx):
    d = sync(pbx, "0", limit=40)
    resp = pbx.get("cdr", query_string={"since": "0", "limit": 40, "format": "csv"})
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["X-Next-Cursor"] == d["next"] and resp.headers["X-More"] == ("1" if d["more"] else "0")
    parsed = list(csv.reader(io.StringIO(resp.get_data(as_text=True), newline="")))
    assert len(parsed) - 1 == d["count"] > 0
    assert [r[14] for r in parsed[1:]] == [r["uniqueid"] for r in d["rows"]]  # column 15: uniqueid


@pytest.mark.parametrize("q, field, why", [
    ({"since": "0", "start": 1}, "start", "cannot be combined with since"),
    ({"since": "0", "end": 1}, "end", "cannot be combined with since"),
    ({"since": "0", "cursor": "abc"}, "cursor", "cannot be combined with since"),
    ({"since": "bm9wZQ"}, "since", "is not a sync cursor"),
    ({"since": "WyJzIiwiMjAyNC0wMS0wMSAwMDowMDowMCIsbnVsbCwwLDBd" + "x"}, "since", "is not a sync cursor"),
    ({"since": "99999999999"}, "since", "is not a sync cursor"),
    ({"since": "0", "limit": 100001}, "limit", "must be at most 100000"),
    ({"since": "a b"}, "since", "is not a sync cursor"),
])
def test_bad_sync_parameters_are_400(pbx, q, field, why):
    r = pbx.get("cdr", query_string=q)
    assert r.status_code == 400, r.get_data(as_text=True)
    errors = body(r)["data"]["errors"]
    assert list(errors) == [field] and why in errors[field]


def test_a_paging_cursor_is_not_a_sync_cursor(pbx):
    nxt = body(pbx.get("cdr", query_string={"limit": 2}))["data"]["next"]
    r = pbx.get("cdr", query_string={"since": nxt})
    assert r.status_code == 400 and "since" in body(r)["data"]["errors"]
    s = sync(pbx, "0", limit=2)["next"]
    r = pbx.get("cdr", query_string={"cursor": s})
    assert r.status_code == 400 and "cursor" in body(r)["data"]["errors"]


def test_cdr_batch_mode_adds_its_delay_to_the_settle_time(pbx_rw):
    from rfapi import create_app

    p = pbx_rw
    p.sql("DELETE FROM cdr", which="cdr")
    now = db_now(p)
    early = insert(p, now - dt.timedelta(seconds=500), 60, "9200000001.1")   # ended now-440
    late = insert(p, now - dt.timedelta(seconds=160), 60, "9200000002.1")    # ended now-100
    rows = drain(p, "0")[0]
    assert [key(r) for r in rows] == [key(early), key(late)]
    for kw, val in (("CDR_BATCH", "1"), ("CDR_BATCH_TIME", "300")):
        p.sql("INSERT INTO freepbx_settings (keyword, value, name, level, description, type, options, defaultval,"
              " readonly, hidden, category, module, emptyok, sortorder) VALUES (%s, %s, %s, 3, '', 'int', '',"
              " '', 0, 0, 'CDR Report Module', 'cdr', 0, 0)", (kw, val, kw))
    app = create_app(str(p.ini))  # a fresh settings cache
    try:
        d = body(app.test_client().get("/api/v1/cdr", query_string={"since": "0"}, headers=p.auth))["data"]
    finally:
        app.extensions["rfapi"].close()
    # Batches post up to CDR_BATCH_TIME late: the call that ended 100 s ago is not settled yet.
    assert [key(r) for r in d["rows"]] == [key(early)] and d["more"] is False


@pytest.mark.parametrize("gmt", [False, True])
def test_settle_horizon_and_since_use_the_calldate_clock(pbx_rw, gmt):
    """calldate is the PBX's local time, or UTC with FreePBX's CDRUSEGMT: the horizon (now - 60 s)
    and a Unix-time since are taken on the same clock. The session runs 4 h behind UTC, so
    mixing the two clocks would hide (or release) these rows."""
    p = pbx_rw
    p.sql("DELETE FROM cdr", which="cdr")
    if gmt:
        p.sql("UPDATE freepbx_settings SET value = '1' WHERE keyword = 'CDRUSEGMT'")
    p.get("test")  # build the app, then put its CDR connection in another zone
    p.app.extensions["rfapi"].db.execute("SET time_zone = '-04:00'", which="cdr")
    clock = p.app.extensions["rfapi"].db.query_one(
        "SELECT UTC_TIMESTAMP() AS utc, NOW() AS loc, UNIX_TIMESTAMP() AS unix", which="cdr")
    now = clock["utc"] if gmt else clock["loc"]
    settled = insert(p, now - dt.timedelta(seconds=200), 60, "9300000001.1")    # ended 140 s ago
    fresh = insert(p, now - dt.timedelta(seconds=40), 10, "9300000002.1")       # ended 30 s ago
    old = insert(p, now - dt.timedelta(seconds=4000), 60, "9300000003.1")       # ended 3940 s ago
    d = sync(p, "0")
    assert [key(r) for r in d["rows"]] == [key(old), key(settled)] and key(fresh) not in map(key, d["rows"])
    d = sync(p, str(int(clock["unix"]) - 3600))  # chains that ended in the last hour
    assert [key(r) for r in d["rows"]] == [key(settled)]
