"""GET /cdr over the fixture office's week of calls: every column, calldate
conversion, each filter alone and together, inclusive bounds, validation, and
exact paging (ties and identical rows included)."""
from __future__ import annotations

import calendar
import collections
import datetime as dt
import json
import time

import pytest

from tests.support import office, world
from tests.support.world import body

COLS = office.CDR_COLUMNS


def ts_of(calldate: dt.datetime) -> int:
    # The office writes calldate as the local time of `ts`, like Asterisk; the
    # database server runs on this machine, in the same zone.
    return int(time.mktime(calldate.timetuple()))


def iso(calldate: dt.datetime, ts: int) -> str:
    # The offset is local wall clock minus UTC (09:30 local at 13:30Z is -04:00).
    off = calendar.timegm(calldate.timetuple()) - ts
    return calldate.isoformat() + "%s%02d:%02d" % ("+" if off >= 0 else "-", abs(off) // 3600, abs(off) % 3600 // 60)


def api_row(r):
    ts = ts_of(r["calldate"])
    out = {c: r[c] for c in COLS}
    out["calldate"] = iso(r["calldate"], ts)
    out["timestamp"] = ts
    return out


def order_key(r):
    """The documented paging order (newest first): calldate, uniqueid, sequence, then the other columns."""
    rest = tuple(r[c].encode() if isinstance(r[c], str) else r[c] for c in COLS if c not in
                 ("calldate", "uniqueid", "sequence"))
    return (r["calldate"], r["uniqueid"].encode(), r["sequence"]) + rest


def expected(rows=None, **flt):
    rows = office.cdr_rows(world.office_now()) if rows is None else rows
    out = []
    for r in rows:
        ts = ts_of(r["calldate"])
        if "start" in flt and ts < flt["start"]:
            continue
        if "end" in flt and ts > flt["end"]:
            continue
        if any(r[col] != flt[key] for key, col in (("src", "src"), ("dest", "dst"), ("did", "did")) if key in flt):
            continue
        out.append(r)
    return [api_row(r) for r in sorted(out, key=order_key, reverse=True)]


def get(pbx, **q):
    r = pbx.get("cdr", query_string=q)
    assert r.status_code == 200, r.get_data(as_text=True)
    d = body(r)["data"]
    assert d["count"] == len(d["rows"])
    return d


def test_all_rows_newest_first_every_column(pbx):
    want = expected()
    assert len(want) > 300
    d = get(pbx)
    assert d["rows"] == want and d["next"] is None
    first = d["rows"][0]
    assert set(first) == set(COLS) | {"timestamp"}
    # The newest call is the fixed internal call 103 -> 105 ten minutes before the anchor.
    assert first["src"] == "103" and first["dst"] == "105" and first["timestamp"] == world.office_now() - 600
    assert first["calldate"].startswith(dt.datetime.fromtimestamp(world.office_now() - 600).isoformat())


def test_row_field_by_field(pbx):
    rows = office.cdr_rows(world.office_now())
    fixed = [r for r in rows if r["src"] == "102" and r["dst"] == "2125550147"]
    assert len(fixed) == 1
    r = fixed[0]
    got = get(pbx, src="102", dest="2125550147")["rows"]
    assert len(got) == 1
    g = got[0]
    for c in COLS:
        if c != "calldate":
            assert g[c] == r[c], c
    assert g["timestamp"] == world.office_now() - 1800
    assert g["calldate"] == iso(r["calldate"], g["timestamp"])
    assert g["disposition"] == "ANSWERED" and g["outbound_cnum"] == "5551230100"


@pytest.mark.parametrize("flt", [{"src": "5557654321"}, {"dest": "400"}, {"dest": "vmu190"}, {"did": "5551230101"},
                                 {"did": office.MAIN_DID}, {"src": "nobody"}])
def test_each_filter_alone(pbx, flt):
    want = expected(**flt)
    got = get(pbx, **flt)["rows"]
    assert got == want
    if flt.get("src") != "nobody":
        assert got
    col = {"src": "src", "dest": "dst", "did": "did"}[next(iter(flt))]
    assert all(r[col] == next(iter(flt.values())) for r in got)


def test_start_and_end_are_inclusive(pbx):
    rows = expected()
    t = rows[len(rows) // 2]["timestamp"]
    at_t = [r for r in rows if r["timestamp"] == t]
    assert get(pbx, start=t, end=t)["rows"] == at_t
    assert get(pbx, start=t)["rows"] == [r for r in rows if r["timestamp"] >= t]
    assert get(pbx, end=t)["rows"] == [r for r in rows if r["timestamp"] <= t]
    assert get(pbx, start=t + 1, end=t + 1)["rows"] == [r for r in rows if r["timestamp"] == t + 1]
    assert get(pbx, end=t - 1)["rows"][0]["timestamp"] < t


def test_all_filters_together(pbx):
    pick = expected(did="5551230101", src=office.CALLERS[0][0], dest="101")
    assert pick, "the fixed call from CALLERS[0] to 101 is there"
    t = pick[0]["timestamp"]
    flt = dict(start=t - 7200, end=t, src=office.CALLERS[0][0], dest="101", did="5551230101")
    want = expected(**flt)
    assert want and all(r["dst"] == "101" and r["did"] == "5551230101" for r in want)
    assert get(pbx, **flt)["rows"] == want
    # Each filter narrows: dropping any one of them gives more rows.
    for k in flt:
        assert len(expected(**{kk: v for kk, v in flt.items() if kk != k})) >= len(want)


def test_default_end_is_now(pbx_rw):
    future = dt.datetime.fromtimestamp(int(time.time()) + 3600)
    pbx_rw.sql("INSERT INTO cdr (calldate, src, dst, uniqueid) VALUES (%s, 'x', 'y', 'future.1')", (future,),
               which="cdr")
    assert get(pbx_rw)["rows"][0]["uniqueid"] != "future.1"
    got = get(pbx_rw, end=int(time.time()) + 7200)["rows"]
    assert got[0]["uniqueid"] == "future.1"


@pytest.mark.parametrize("query,field,why", [
    ({"start": "yesterday"}, "start", "must be a whole number"),
    ({"end": "1.5"}, "end", "must be a whole number"),
    ({"start": "-1"}, "start", "must be at least 0"),
    ({"end": "99999999999"}, "end", "must be at most 2147483647"),
    ({"limit": "-5"}, "limit", "must be at least 1"),
    ({"limit": "0"}, "limit", "must be at least 1"),
    ({"limit": "ten"}, "limit", "must be a whole number"),
    ({"limit": "100001"}, "limit", "must be at most 100000"),
    ({"start": "200", "end": "100"}, "start", "must not be after end"),
    ({"cursor": "not-a-cursor"}, "cursor", "is not a cursor returned by this API (use data.next of the previous "
                                           "page)"),
    ({"cursor": "a b"}, "cursor", "is not a cursor returned by this API (use data.next of the previous page)"),
    ({"src": "1\n2"}, "src", "must not contain control characters (CR, LF, NUL, ...)"),
    ({"dst": "101"}, "dst", "unknown parameter"),
])
def test_bad_parameters_are_400_naming_the_field(pbx, query, field, why):
    r = pbx.get("cdr", query_string=query)
    assert r.status_code == 400
    assert body(r)["data"] == {"errors": {field: why}}
    assert field in body(r)["message"]


def test_limit_and_max(pbx):
    d = get(pbx, limit=5)
    assert d["rows"] == expected()[:5] and d["count"] == 5 and isinstance(d["next"], str)
    assert get(pbx, limit=100000)["rows"] == expected()


def page_all(pbx, limit, **flt):
    rows, cursor, pages = [], None, 0
    while True:
        q = dict(flt, limit=limit)
        if cursor:
            q["cursor"] = cursor
        d = get(pbx, **q)
        pages += 1
        assert d["count"] <= limit
        rows += d["rows"]
        cursor = d["next"]
        if cursor is None:
            return rows, pages
        assert d["count"] == limit
        assert pages < 10000


@pytest.mark.parametrize("limit", [1, 7, 50])
def test_paging_returns_every_row_once_in_order(pbx, limit):
    want = expected()
    got, pages = page_all(pbx, limit)
    assert got == want
    # The page after the last full one is never needed: the lookahead row tells there is no more.
    assert pages == -(-len(want) // limit)


def test_paging_with_filters(pbx):
    want = expected(did=office.MAIN_DID)
    got, _ = page_all(pbx, 3, did=office.MAIN_DID)
    assert got == want


def test_paging_through_ties_and_identical_rows(pbx_rw):
    """Rows sharing a second, a uniqueid, even every column: each comes back once."""
    base = office.cdr_rows(world.office_now())
    t = dt.datetime.fromtimestamp(world.office_now() - 5000)
    extra = []
    for i in range(9):  # same second, same uniqueid, different sequence
        extra.append(dict(base[0], calldate=t, uniqueid="1700000000.1", linkedid="1700000000.1", sequence=10 + i))
    for i in range(4):  # same second and sequence, different uniqueid
        extra.append(dict(base[1], calldate=t, uniqueid="1700000000.%d" % (20 + i), sequence=5))
    for i in range(5):  # identical rows (same everything), twice two kinds
        extra.append(dict(base[2], calldate=t, uniqueid="1700000000.9", sequence=7))
        extra.append(dict(base[2], calldate=t, uniqueid="1700000000.9", sequence=7, channel="SIP/x-1"))
    for r in extra:
        pbx_rw.sql("INSERT INTO cdr (%s) VALUES (%s)" % (", ".join(COLS), ", ".join(["%s"] * len(COLS))),
                   tuple(r[c] for c in COLS), which="cdr")
    all_rows = base + extra
    window = dict(start=ts_of(t) - 6 * 3600, end=ts_of(t) + 6 * 3600)
    want = expected(all_rows, **window)
    assert len(want) > len(extra)
    for limit in (1, 2, 3, 4, 6, 50):
        got, _ = page_all(pbx_rw, limit, **window)
        assert len(got) == len(want)
        assert collections.Counter(json.dumps(r, sort_keys=True) for r in got) == \
            collections.Counter(json.dumps(r, sort_keys=True) for r in want)
        assert got == want
    tied = get(pbx_rw, start=ts_of(t), end=ts_of(t))
    assert tied["count"] == len(extra) + len([r for r in base if r["calldate"] == t])


def test_cursor_ignores_rows_added_before_it(pbx_rw):
    """A new row newer than the cursor does not shift the next page (no repeat)."""
    first = get(pbx_rw, limit=10)
    pbx_rw.sql("INSERT INTO cdr (calldate, src, dst, uniqueid, sequence) VALUES (%s, 'n', 'n', 'new.1', 1)",
               (dt.datetime.fromtimestamp(int(time.time()) - 5),), which="cdr")
    second = get(pbx_rw, limit=10, cursor=first["next"])
    assert second["rows"] == expected()[10:20]


def test_cdrusegmt_means_calldate_is_utc(pbx_rw):
    pbx_rw.sql("UPDATE freepbx_settings SET value = '1' WHERE keyword = 'CDRUSEGMT'")
    utc = dt.datetime(2021, 3, 4, 5, 6, 7)
    t = calendar.timegm(utc.timetuple())
    pbx_rw.sql("INSERT INTO cdr (calldate, src, dst, uniqueid) VALUES (%s, 'gmt', 'x', 'g.1')", (utc,), which="cdr")
    got = get(pbx_rw, src="gmt", start=t, end=t)["rows"]
    assert len(got) == 1
    assert got[0]["timestamp"] == t and got[0]["calldate"] == "2021-03-04T05:06:07+00:00"
    assert get(pbx_rw, src="gmt", start=t + 1)["rows"] == []


def test_zero_dates_of_old_installs_page_once(pbx_rw):
    """FreePBX 13-era tables defaulted calldate to 0000-00-00 (MySQLdb reads it as None)."""
    for i in range(3):
        pbx_rw.sql("INSERT INTO cdr (calldate, src, uniqueid, sequence) VALUES ('0000-00-00 00:00:00', 'old', "
                   "%s, 1)", ("z.%d" % i,), which="cdr")
    got, pages = page_all(pbx_rw, 1, src="old")
    assert [r["uniqueid"] for r in got] == ["z.2", "z.1", "z.0"] and pages == 3
    assert {(r["calldate"], r["timestamp"]) for r in got} == {("0000-00-00T00:00:00", None)}


def insert_rows(pbx_rw, rows):
    for r in rows:
        pbx_rw.sql("INSERT INTO cdr (%s) VALUES (%s)" % (", ".join(COLS), ", ".join(["%s"] * len(COLS))),
                   tuple(r[c] for c in COLS), which="cdr")


def test_paging_through_ties_with_a_filter(pbx_rw):
    """The same ties, identical rows included, paged with a src filter: the
    filtered statements (scan, then the whole oldest second) keep the order too."""
    base = office.cdr_rows(world.office_now())
    t = dt.datetime.fromtimestamp(world.office_now() - 7000)
    extra = []
    for i in range(7):
        extra.append(dict(base[0], calldate=t, src="7007", uniqueid="1700000100.1", sequence=30 - i))
    for i in range(3):
        extra.append(dict(base[1], calldate=t, src="7007", uniqueid="1700000100.%d" % (5 + i), sequence=2))
    for _ in range(3):
        extra.append(dict(base[2], calldate=t, src="7007", uniqueid="1700000100.9", sequence=1))
        extra.append(dict(base[2], calldate=t, src="7007", uniqueid="1700000100.9", sequence=1, dst="x"))
    # and one second earlier and later, so pages cross into and out of the tied second
    for k, delta in enumerate((-1, 1, -1)):
        extra.append(dict(base[3], calldate=t + dt.timedelta(seconds=delta), src="7007",
                          uniqueid="1700000101.%d" % k, sequence=k))
    insert_rows(pbx_rw, extra)
    want = expected(base + extra, src="7007")
    assert len(want) == len(extra)
    for limit in (1, 2, 3, 5, 8, 50):
        got, pages = page_all(pbx_rw, limit, src="7007")
        assert got == want, limit
        assert pages == -(-len(want) // limit)


def test_order_inside_a_second_is_utf8_byte_order(pbx_rw):
    """uniqueid and the other text columns order as their UTF-8 bytes (what the
    cursor compares), not by the column collation: 'Z' < 'a' < 'e-acute' <
    U+FFFF < U+1F600 byte-wise, whatever case or accent folding would say."""
    base = office.cdr_rows(world.office_now())
    t = dt.datetime.fromtimestamp(world.office_now() - 9000)
    uids = ["Z.1", "a.1", "\u00e9.1", "\uffff.1", "\U0001F600.1", "~.1", "e.1", "E.1"]
    extra = [dict(base[0], calldate=t, uniqueid=u, sequence=1) for u in uids]
    for clid in ("\u00c9mile", "Zoe", "\u00e9mile", "emile", "\U0001F600"):  # same uniqueid and sequence
        extra.append(dict(base[1], calldate=t, uniqueid="tie.1", sequence=4, clid=clid))
    insert_rows(pbx_rw, extra)
    window = dict(start=ts_of(t), end=ts_of(t))
    want = expected(base + extra, **window)
    assert [r["uniqueid"] for r in want if r["uniqueid"] != "tie.1"] == \
        sorted(uids, key=lambda u: u.encode(), reverse=True)
    for limit in (1, 2, 3, 100):
        got, _ = page_all(pbx_rw, limit, **window)
        assert got == want, limit
    got, _ = page_all(pbx_rw, 1, src=base[1]["src"], **window)
    assert got == expected(base + extra, src=base[1]["src"], **window)


def _session_zone(pbx, zone):
    # The API converts in the database session's time zone (the server's); set a
    # fixed one on this test app's own connection (the test client serves the
    # request on this thread, over this same connection).
    pbx.app.extensions["rfapi"].db.execute("SET time_zone = %s", (zone,), which="cdr")


@pytest.mark.parametrize("zone,offset", [("-04:00", -4 * 3600), ("+05:30", 5 * 3600 + 1800)])
def test_calldate_offset_sign_and_timestamp_in_other_zones(pbx, zone, offset):
    """calldate's offset is local minus UTC: 09:30 local in UTC-4 is
    '09:30:00-04:00', the same instant as `timestamp`."""
    _session_zone(pbx, zone)
    rows = sorted(office.cdr_rows(world.office_now()), key=order_key, reverse=True)
    # (The office's calldates are local times of this machine's zone; in another
    # zone "now" is another wall clock, so look a day ahead.)
    got = get(pbx, limit=20, end=int(time.time()) + 86400)["rows"]
    assert [(g["uniqueid"], g["sequence"]) for g in got] == [(r["uniqueid"], r["sequence"]) for r in rows[:20]]
    for g, r in zip(got, rows):
        assert g["calldate"] == r["calldate"].isoformat() + zone
        assert g["timestamp"] == calendar.timegm(r["calldate"].timetuple()) - offset
        assert dt.datetime.fromisoformat(g["calldate"]).timestamp() == g["timestamp"]
    # Bounds are read in the same zone: the newest row's own second selects exactly its rows.
    t = got[0]["timestamp"]
    assert get(pbx, start=t, end=t)["rows"] == [g for g in got if g["timestamp"] == t]


def test_dates_outside_the_unix_range_page_without_filters(pbx_rw):
    """The zero date and the schema default '1000-01-01 00:00:00' have no
    timestamp and no offset; they sort oldest and page exactly also through the
    unfiltered statements (end=0 keeps only them)."""
    for i in range(3):
        pbx_rw.sql("INSERT INTO cdr (calldate, src, uniqueid, sequence) VALUES ('0000-00-00 00:00:00', 'old', "
                   "%s, 1)", ("z.%d" % i,), which="cdr")
    for i in range(2):
        pbx_rw.sql("INSERT INTO cdr (src, uniqueid, sequence) VALUES ('dflt', %s, 2)", ("d.%d" % i,), which="cdr")
    want = [("1000-01-01T00:00:00", None, "d.1"), ("1000-01-01T00:00:00", None, "d.0"),
            ("0000-00-00T00:00:00", None, "z.2"), ("0000-00-00T00:00:00", None, "z.1"),
            ("0000-00-00T00:00:00", None, "z.0")]
    for limit in (1, 2, 4, 10):
        got, pages = page_all(pbx_rw, limit, end=0)
        assert [(r["calldate"], r["timestamp"], r["uniqueid"]) for r in got] == want
        assert pages == -(-len(want) // limit)
    # Behind every office row, in the plain listing too.
    rows = get(pbx_rw, limit=100000)["rows"]
    assert [(r["calldate"], r["timestamp"], r["uniqueid"]) for r in rows[-5:]] == want
    assert all(r["timestamp"] is not None for r in rows[:-5])
