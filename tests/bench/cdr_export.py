"""Benchmark of the CDR export and the incremental sync on 1,000,000 rows (not collected by pytest).

    .venv/bin/python -m tests.bench.cdr_export            # --rows N (default 1,000,000)

Seeds a throwaway world (rows generated inside MariaDB: one call every 20 s, a third of
them with a second leg of the same uniqueid that ends later), then prints:
* CSV export of every row in one request: seconds, MB, rows/s and the worker's peak RSS,
  each in a fresh subprocess, next to a 10,000-row export (memory must not follow size);
* the initial sync (since=0) walked with limit=10000: pages, seconds, rows/s;
* a steady-state sync (one minute of new calls since the last position): p50/p95 ms.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from tests.support import dbworld, world
from tests.support.world import body

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import resource, sys, time
    sys.path.insert(0, sys.argv[3])
    from rfapi import create_app
    from tests.support import world
    c = create_app(sys.argv[1]).test_client()
    t = time.monotonic()
    resp = c.get("/api/v1/cdr", query_string={"format": "csv", "limit": sys.argv[2]},
                 headers=world.basic(world.API_USER, world.API_PASSWORD), buffered=False)
    n = lines = 0
    for chunk in resp.response:
        n += len(chunk)
        lines += chunk.count(b"\\n")
    print(n, lines - 1, round(time.monotonic() - t, 2), resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
""")


def seed(w, rows: int, now: int) -> None:
    conn = dbworld.connect(w.cdr_db, autocommit=True)
    try:
        cur = conn.cursor()
        calls = rows * 3 // 4
        cur.execute(
            "INSERT INTO cdr (calldate, clid, src, dst, dcontext, channel, lastapp, lastdata, duration, billsec,"
            " disposition, amaflags, uniqueid, linkedid, sequence) SELECT FROM_UNIXTIME(%d - seq * 20),"
            " CONCAT('\"Caller\" <555', LPAD(MOD(seq, 9973), 7, '0'), '>'), CONCAT('555', LPAD(MOD(seq, 9973), 7, '0')),"
            " CONCAT('1', MOD(seq, 50)), 'from-internal', CONCAT('PJSIP/carrier-', LPAD(HEX(seq), 8, '0')), 'Dial',"
            " 'PJSIP/101,20', MOD(seq, 600), MOD(seq, 500), 'ANSWERED', 3, CONCAT(%d - seq * 20, '.', seq),"
            " CONCAT(%d - seq * 20, '.', seq), 2 * seq FROM seq_1_to_%d" % (now, now, now, calls))
        cur.execute(
            "INSERT INTO cdr (calldate, src, dst, dcontext, lastapp, duration, billsec, disposition, amaflags,"
            " uniqueid, linkedid, sequence) SELECT FROM_UNIXTIME(%d - seq * 60 + MOD(seq, 600)), 'xfer', '105',"
            " 'from-internal-xfer', 'Dial', 900, 880, 'ANSWERED', 3, CONCAT(%d - seq * 60, '.', seq * 3),"
            " CONCAT(%d - seq * 60, '.', seq * 3), 2 * seq * 3 + 1 FROM seq_1_to_%d" % (
                now, now, now, rows - calls))
        cur.execute("ANALYZE TABLE cdr")
        cur.fetchall()
    finally:
        conn.close()


def child(ini: Path, limit: int):
    out = subprocess.run([sys.executable, "-c", CHILD, str(ini), str(limit), str(ROOT)], capture_output=True,
                         text=True, cwd=str(ROOT), timeout=900)
    if out.returncode:
        raise RuntimeError(out.stderr[-2000:])
    size, lines, secs, rss = out.stdout.strip().splitlines()[-1].split()
    return int(size), int(lines), float(secs), int(rss)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    now = int(time.time()) - 120
    w = dbworld.create_world()
    tmp = Path(tempfile.mkdtemp(prefix="rfapi-bench-cdrx-"))
    try:
        world.load_office(w)
        t = time.monotonic()
        seed(w, args.rows, now)
        print("seeded %d rows in %.0f s" % (args.rows, time.monotonic() - t))
        pbx = world.build(tmp / "pbx", w)
        try:
            small = child(pbx.ini, 10_000)
            big = child(pbx.ini, args.rows + 1000)
            print("csv export    rows      MB      s   rows/s  peak RSS MB")
            for name, r in (("10,000", small), ("all", big)):
                print("  %-8s %9d %7.1f %6.1f %8.0f %8d" % (name, r[1], r[0] / 2 ** 20, r[2], r[1] / r[2], r[3]))

            t = time.monotonic()
            since, pages, n = "0", 0, 0
            while True:
                d = body(pbx.get("cdr", query_string={"since": since, "limit": 10000}))["data"]
                pages += 1
                n += d["count"]
                since = d["next"]
                if not d["more"]:
                    break
            secs = time.monotonic() - t
            print("initial sync (since=0, limit=10000): %d rows, %d pages, %.1f s, %.0f rows/s" % (
                n, pages, secs, n / secs))

            times = []
            conn = dbworld.connect(w.cdr_db, autocommit=True)
            cur = conn.cursor()
            for k in range(20):
                # A minute of new calls (3), ended before the settle time.
                for i in range(3):
                    cur.execute("INSERT INTO cdr (calldate, src, dst, duration, uniqueid, sequence) VALUES "
                                "(NOW() - INTERVAL %s SECOND, 'new', '101', 30, %s, %s)",
                                (200 - k * 3 - i + 100, "%d.%d" % (now + k, i), 10 ** 8 + k * 3 + i))
                t = time.monotonic()
                d = body(pbx.get("cdr", query_string={"since": since, "limit": 1000}))["data"]
                times.append((time.monotonic() - t) * 1000)
                since = d["next"]
            conn.close()
            times.sort()
            print("steady sync (3 new rows each): p50 %.1f ms, p95 %.1f ms over %d syncs" % (
                statistics.median(times), times[int(len(times) * 0.95) - 1], len(times)))
        finally:
            pbx.close()
    finally:
        dbworld.drop_world(w)
    return 0


if __name__ == "__main__":
    sys.exit(main())
