"""GET /cdr?format=csv: the same rows in the same order as the JSON answer, FreePBX's CDR
report columns, the next cursor in X-Next-Cursor (the one JSON gives), exact paging across
ties and across the export's internal batches, and a worker's peak memory that does not
grow with the size of the export (1,000,000 rows, measured in a subprocess)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import re
import subprocess
import sys
import textwrap

import pytest

from rfapi.services import cdr as svc
from rfapi.services import csvsafe
from tests.support import bulkload, dbworld, office, world
from tests.support.world import body

# FreePBX cdr module (functions.inc.php, cdr_export_csv): the CSV header, in its order.
FREEPBX_HEADER = ("calldate,clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,duration,billsec,"
                  "disposition,amaflags,accountcode,uniqueid,userfield,did,cnum,cnam,outbound_cnum,outbound_cnam,"
                  "dst_cnam,recordingfile,linkedid,peeraccount,sequence").split(",")


def as_csv_row(r):
    """A JSON row as FreePBX's export writes it (text values, calldate as stored), cells a
    spreadsheet would run neutralised with a leading quote."""
    out = []
    for c in FREEPBX_HEADER:
        v = r[c]
        if c == "calldate":
            v = v[:10] + " " + v[11:19]
        out.append(csvsafe.cell(str(v)))
    return out


def get_csv(pbx, **q):
    resp = pbx.get("cdr", query_string=dict(q, format="csv"))
    assert resp.status_code == 200, resp.get_data(as_text=True)
    text = resp.get_data(as_text=True)
    parsed = list(csv.reader(io.StringIO(text, newline="")))
    return resp, text, parsed


def get_json(pbx, **q):
    resp = pbx.get("cdr", query_string=q)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return body(resp)["data"]


NOW = world.office_now()
CASES = [
    {},
    {"limit": 25},
    {"start": NOW - 3 * 86400, "end": NOW - 86400},
    {"src": "101"},
    {"dest": "400"},
    {"did": "5551230101"},
    {"start": NOW - 5 * 86400, "src": office.CALLERS[0][0]},
]


@pytest.mark.parametrize("q", CASES, ids=lambda q: ",".join(sorted(q)) or "plain")
def test_csv_is_the_json_answer_with_freepbx_columns(pbx, q):
    d = get_json(pbx, **q)
    resp, text, parsed = get_csv(pbx, **q)
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="cdr.csv"'
    assert parsed[0] == FREEPBX_HEADER
    assert parsed[1:] == [as_csv_row(r) for r in d["rows"]]
    assert len(parsed) - 1 == d["count"] and d["count"] > 0
    assert resp.headers.get("X-Next-Cursor") == d["next"]
    assert text.endswith("\r\n") and "\r\n" in text  # RFC 4180 line ends


def test_quotes_commas_and_non_ascii_survive(pbx_rw):
    odd = {c: "" for c in office.CDR_COLUMNS}
    odd.update(calldate=dt.datetime.fromtimestamp(NOW - 30), clid='"O\'Brien, ""K"" Zoë" <5551112222>',
               src="5551112222", dst="101", lastdata='PJSIP/101,20,"x"', uniqueid="%d.7" % (NOW - 30),
               disposition="ANSWERED", duration=3, billsec=2, amaflags=3, sequence=1, cnam="Zoë\nline2")
    cols = ", ".join(odd)
    pbx_rw.sql("INSERT INTO cdr (%s) VALUES (%s)" % (cols, ", ".join(["%s"] * len(odd))), list(odd.values()),
               which="cdr")
    _, _, parsed = get_csv(pbx_rw, limit=1)
    row = dict(zip(parsed[0], parsed[1]))
    assert row["clid"] == odd["clid"] and row["lastdata"] == odd["lastdata"] and row["cnam"] == "Zoë\nline2"


def test_formulas_and_plus_numbers_are_neutralised(pbx_rw):
    odd = {c: "" for c in office.CDR_COLUMNS}
    odd.update(calldate=dt.datetime.fromtimestamp(NOW - 20), clid='=HYPERLINK("http://evil.example/","y")',
               src="+15551234567", dst="101", lastdata="-1", uniqueid="%d.8" % (NOW - 20), disposition="ANSWERED",
               duration=3, billsec=2, amaflags=3, sequence=1, cnam="@SUM(A1)", cnum="\tx")
    cols = ", ".join(odd)
    pbx_rw.sql("INSERT INTO cdr (%s) VALUES (%s)" % (cols, ", ".join(["%s"] * len(odd))), list(odd.values()),
               which="cdr")
    _, text, parsed = get_csv(pbx_rw, limit=1)
    row = dict(zip(parsed[0], parsed[1]))
    assert (row["clid"], row["src"], row["lastdata"], row["cnam"], row["cnum"]) == (
        '\'=HYPERLINK("http://evil.example/","y")', "'+15551234567", "'-1", "'@SUM(A1)", "'\tx")
    assert row["dst"] == "101" and row["disposition"] == "ANSWERED"
    assert csvsafe.uncell(row["src"]) == "+15551234567"  # the value is there, as text
    for cells in parsed:
        assert not any(c[:1] in csvsafe.TRIGGERS for c in cells if c), cells


def test_paging_with_x_next_cursor_walks_every_row_once(pbx, monkeypatch):
    # Batches smaller than a page: the stream crosses batch boundaries inside a page.
    monkeypatch.setattr(svc, "CSV_BATCH", 7)
    all_rows = [as_csv_row(r) for r in get_json(pbx, limit=100000)["rows"]]
    got, cursor, pages = [], None, 0
    while True:
        q = {"limit": 50}
        if cursor:
            q["cursor"] = cursor
        resp, _, parsed = get_csv(pbx, **q)
        j = get_json(pbx, **q)
        assert parsed[1:] == [as_csv_row(r) for r in j["rows"]]
        assert resp.headers.get("X-Next-Cursor") == j["next"]
        got += parsed[1:]
        pages += 1
        cursor = resp.headers.get("X-Next-Cursor")
        if cursor is None:
            break
    assert got == all_rows and pages == -(-len(all_rows) // 50)


def test_ties_and_identical_rows_across_pages_and_batches(pbx_rw, monkeypatch):
    monkeypatch.setattr(svc, "CSV_BATCH", 4)
    sec = dt.datetime.fromtimestamp(NOW - 7200)
    base = {c: "" for c in office.CDR_COLUMNS}
    base.update(calldate=sec, src="777", dst="101", duration=5, billsec=4, amaflags=3, disposition="ANSWERED")
    rows = []
    for i in range(9):
        rows.append(dict(base, uniqueid="%d.1" % (NOW - 7200), sequence=100 + i))       # same uid, seq differs
    for i in range(5):
        rows.append(dict(base, uniqueid="%d.%d" % (NOW - 7200, 50 + i), sequence=7))    # same seq, uid differs
    for _ in range(6):
        rows.append(dict(base, uniqueid="%d.9" % (NOW - 7200), sequence=3))             # identical rows
    cols = ", ".join(base)
    for r in rows:
        pbx_rw.sql("INSERT INTO cdr (%s) VALUES (%s)" % (cols, ", ".join(["%s"] * len(r))), list(r.values()),
                   which="cdr")
    q = {"src": "777"}
    want = [as_csv_row(r) for r in get_json(pbx_rw, limit=1000, **q)["rows"]]
    assert len(want) == 20
    for limit in (1, 3, 5, 6, 19):
        got, cursor = [], None
        while True:
            qq = dict(q, limit=limit, **({"cursor": cursor} if cursor else {}))
            resp, _, parsed = get_csv(pbx_rw, **qq)
            assert len(parsed) - 1 <= limit
            got += parsed[1:]
            cursor = resp.headers.get("X-Next-Cursor")
            assert cursor == get_json(pbx_rw, **qq)["next"]
            if cursor is None:
                break
        assert got == want, limit
    # Unfiltered too (the probe/window path), starting inside the tie second.
    plain = get_json(pbx_rw, limit=100000)["rows"]
    k = next(i for i, r in enumerate(plain) if r["src"] == "777") + 4
    first = get_json(pbx_rw, limit=k)
    resp, _, parsed = get_csv(pbx_rw, limit=30, cursor=first["next"])
    assert parsed[1:] == [as_csv_row(r) for r in plain[k:k + 30]]
    assert resp.headers["X-Next-Cursor"] == get_json(pbx_rw, limit=30, cursor=first["next"])["next"]


def test_limits_and_errors(pbx):
    r = pbx.get("cdr", query_string={"limit": 100001})
    assert r.status_code == 400 and body(r)["data"] == {"errors": {"limit": "must be at most 100000"}}
    resp, _, parsed = get_csv(pbx, limit=200000)
    assert len(parsed) - 1 == len(office.cdr_rows(NOW)) and "X-Next-Cursor" not in resp.headers
    r = pbx.get("cdr", query_string={"format": "xml"})
    assert r.status_code == 400 and "format" in body(r)["data"]["errors"]
    r = pbx.get("cdr", query_string={"format": "csv", "cursor": "bm9wZQ"})
    assert r.status_code == 400 and r.headers["Content-Type"] == "application/json"
    assert "cursor" in body(r)["data"]["errors"]
    r = pbx.get("cdr", query_string={"format": "csv", "limit": 10000001})
    assert r.status_code == 400 and "limit" in body(r)["data"]["errors"]


def test_csv_with_recordings_adds_a_column(pbx):
    resp, _, parsed = get_csv(pbx, with_recordings="yes", limit=100000)
    assert parsed[0] == FREEPBX_HEADER + ["recording"]
    names = {rel.rsplit("/", 1)[1] for rel in world.monitor_files()}
    rows = [dict(zip(parsed[0], p)) for p in parsed[1:]]
    assert sum(r["recording"] == "1" for r in rows) == sum(r["recordingfile"] in names for r in rows) > 0
    assert all(r["recording"] == ("1" if r["recordingfile"] in names else "0") for r in rows)


# -- memory: a 1,000,000-row export in a subprocess ------------------------------------------

MEASURE = textwrap.dedent("""
    import resource, sys, time
    sys.path.insert(0, sys.argv[4])
    from rfapi import create_app
    from tests.support import world
    app = create_app(sys.argv[1])
    c = app.test_client()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.monotonic()
    resp = c.get("/api/v1/cdr", query_string={"format": "csv", "limit": sys.argv[2]},
                 headers=world.basic(world.API_USER, world.API_PASSWORD), buffered=False)
    assert resp.status_code == 200, resp.status_code
    n = lines = 0
    for chunk in resp.response:
        n += len(chunk)
        lines += chunk.count(b"\\n")
    resp.close()
    print(n, lines, base, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, round(time.monotonic() - t, 1))
""")

BIG = 1_000_000


@pytest.fixture(scope="module")
def million(tmp_path_factory):
    w = dbworld.create_world()
    try:
        world.load_office(w)
        conn = dbworld.connect(w.cdr_db, autocommit=True)
        try:
            cur = conn.cursor()
            # Generated inside MariaDB (sequence engine): one call every 20 s over ~8 months.
            with bulkload.indexes_built_after(cur, w.cdr_db, "cdr"):
                cur.execute(
                    "INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, dstchannel, lastapp, lastdata, duration,"
                    " billsec, disposition, amaflags, uniqueid, linkedid, did, cnum, cnam, sequence)"
                    " SELECT FROM_UNIXTIME(%s - seq * 20), CONCAT('\"Caller ', MOD(seq, 997), '\" <555', LPAD(MOD(seq, 9973), 7, '0'),"
                    " '>'), CONCAT('555', LPAD(MOD(seq, 9973), 7, '0')), CONCAT('1', MOD(seq, 50)),"
                    " 'from-internal', CONCAT('PJSIP/carrier-', LPAD(HEX(seq), 8, '0')), 'PJSIP/101-00000001', 'Dial',"
                    " 'PJSIP/101,20,HhtrIb(func-apply-sipheaders^s^1)', MOD(seq, 600), MOD(seq, 500), 'ANSWERED', 3,"
                    " CONCAT(%s - seq * 20, '.', seq), CONCAT(%s - seq * 20, '.', seq), '', '5551234567', 'Caller', seq"
                    " FROM seq_1_to_%s" % (NOW - 86400 * 8, NOW - 86400 * 8, NOW - 86400 * 8, BIG))
            cur.execute("ANALYZE TABLE cdr")
            cur.fetchall()
        finally:
            conn.close()
        pbx = world.build(tmp_path_factory.mktemp("millioncdr"), w)
        try:
            yield pbx
        finally:
            pbx.close()
    finally:
        dbworld.drop_world(w)


def measure(pbx, limit):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", MEASURE, str(pbx.ini), str(limit), "-", root],
                         capture_output=True, text=True, timeout=280, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    # the app's access line (flushed at exit) may follow the measurement on stdout
    measured = [l.split() for l in out.stdout.splitlines() if re.fullmatch(r"[\d. ]+", l.strip() or "x")]
    size, lines, base, peak, secs = measured[-1]
    return int(size), int(lines), int(base), int(peak), float(secs)


def test_memory_stays_flat_for_a_million_row_export(million):
    small = measure(million, 10_000)
    large = measure(million, BIG)
    assert small[1] == 10_000 + 1 and large[1] == BIG + 1
    assert large[0] > 150 * 1024 * 1024  # over 150 MB of CSV went through the worker
    growth_kb = (large[3] - large[2]) - (small[3] - small[2])
    print("csv export: %d rows, %.0f MB in %.1f s; peak RSS growth %d kB over a 10,000-row export "
          "(peak %d MB)" % (BIG, large[0] / 2 ** 20, large[4], growth_kb, large[3] // 1024))
    assert growth_kb < 16 * 1024, (small, large)
