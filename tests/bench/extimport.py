"""Benchmark of the bulk routes: ``python -m tests.bench.extimport``.

Seeds a PBX with 5,000 extensions (tests/bench/seed.py: FreePBX's rows, AstDB in
the bench AMI peer, voicemail.conf with 3,000 boxes), then measures, in-process
(Flask test client: the HTTP hop is not what is measured):

* GET /extensions/export?format=json|csv of 5,000 (cache warm, and cold: the
  cache rebuilt first);
* POST /extensions/import of 100 and then of 1,000 new extensions (pjsip,
  voicemail, follow-me) — total seconds and cost per row, which must not grow
  with the number of rows in the file; plus the dry run of 1,000 and an update
  import of 1,000 existing extensions.

Prints numbers and ratios (never asserts: speed is measured here, not in tests).
"""
from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from tests.bench import seed as S
from tests.bench.peer import FastPeer
from tests.support import dbworld, world

REPO = Path(__file__).resolve().parents[2]
AUTH = world.basic(world.API_USER, world.API_PASSWORD)


def rows(first: int, count: int):
    return [{"extension": str(n), "tech": "pjsip", "displayname": "Bench User %d" % n,
             "secret": "Bench-Secret-%d-xyz" % n, "voicemail": True, "voicemailpassword": str(1000 + n % 9000),
             "email": "user%d@%s" % (n, S.DOMAIN), "followme": True} for n in range(first, first + count)]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--extensions", type=int, default=5000)
    ap.add_argument("--rows", type=int, default=1000)
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="rfapi-bench-import-"))
    w = dbworld.create_world()
    peer = None
    app = None
    try:
        scale = S.Scale(extensions=args.extensions, cdr_rows=1000, days=2, dids=10, hints=10, contacts=10)
        seeded = S.seed(scale, root, log=print, world=w)
        peer = FastPeer(users={world.AMI_USER: world.AMI_SECRET})
        peer.load_state(seeded.peer_state)
        peer.start()
        bindir = root / "bin"
        bindir.mkdir()
        fw = bindir / "fwconsole"
        shutil.copy2(REPO / "tests" / "support" / "fwconsole", fw)
        cache = root / "cache"
        cache.mkdir()
        vmconf = root / "etc" / "asterisk" / "voicemail.conf"
        ini = root / "rfapi.ini"
        ini.write_text(world.render_ini(w, peer, fw, root / "spool" / "voicemail", root / "sounds", vmconf, cache,
                                        root).replace("timeout = 3\n", "timeout = 30\n", 1))
        from rfapi import create_app

        app = create_app(str(ini))
        c = app.test_client()
        out = {"extensions": args.extensions}

        def timed(label, fn):
            t = time.perf_counter()
            r = fn()
            dt = time.perf_counter() - t
            assert r.status_code == 200, (label, r.status_code, r.get_data()[:500])
            print("%-44s %8.3f s" % (label, dt))
            out[label] = round(dt, 3)
            return r, dt

        timed("GET /extensions (cold: cache build)", lambda: c.get("/api/v1/extensions", headers=AUTH))
        for fmt in ("json", "csv"):
            r, _ = timed("export %s of %d (warm cache)" % (fmt, args.extensions),
                         lambda: c.get("/api/v1/extensions/export?format=%s" % fmt, headers=AUTH))
            out["export_%s_bytes" % fmt] = len(r.get_data())
        c.post("/api/v1/cache/extensions", data={"action": "reload"}, headers=AUTH)
        (cache / "extensions.generation").write_text("cold")
        timed("export json (cold: cache rebuilt first)",
              lambda: c.get("/api/v1/extensions/export?format=json", headers=AUTH))
        first = scale.first_extension + args.extensions + 1000
        small = rows(first, 100)
        big = rows(first + 1000, args.rows)
        _, t_dry = timed("import dry_run of %d new" % args.rows,
                         lambda: c.post("/api/v1/extensions/import", json={"rows": big, "dry_run": True},
                                        headers=AUTH))
        _, t100 = timed("import of 100 new", lambda: c.post("/api/v1/extensions/import", json={"rows": small},
                                                           headers=AUTH))
        peer.clear_busy()
        _, tbig = timed("import of %d new" % args.rows,
                        lambda: c.post("/api/v1/extensions/import", json={"rows": big}, headers=AUTH))
        busy = {k: list(v) for k, v in peer.busy.items()}  # the peer keeps counting in these lists
        upd = [{"extension": r["extension"], "ringtimer": 25, "attach": True} for r in big]
        _, tupd = timed("import of %d updates" % args.rows,
                        lambda: c.post("/api/v1/extensions/import", json={"rows": upd}, headers=AUTH))
        out["per_row_ms_100"] = round(t100 / 100 * 1000, 2)
        out["per_row_ms_%d" % args.rows] = round(tbig / args.rows * 1000, 2)
        out["per_row_ratio"] = round((tbig / args.rows) / (t100 / 100), 2)
        # What one more row costs once the fixed part (locks, reading AstDB and voicemail.conf) is paid.
        out["marginal_ms_per_row"] = round((tbig - t100) / (args.rows - 100) * 1000, 2)
        out["per_row_ms_updates"] = round(tupd / args.rows * 1000, 2)
        out["ami_actions_in_big_import"] = {k: v[0] for k, v in busy.items()}
        out["ami_peer_seconds_in_big_import"] = round(sum(v[1] for v in busy.values()), 2)
        print("per row: %.2f ms at 100, %.2f ms at %d (ratio %.2f); marginal %.2f ms/row; updates %.2f ms/row"
              % (out["per_row_ms_100"], out["per_row_ms_%d" % args.rows], args.rows, out["per_row_ratio"],
                 out["marginal_ms_per_row"], out["per_row_ms_updates"]))
        print("AMI actions during the big import: %s (peer busy %.1f s)"
              % (out["ami_actions_in_big_import"], out["ami_peer_seconds_in_big_import"]))
        print(json.dumps(out))
        return 0
    finally:
        if app is not None:
            app.extensions["rfapi"].close()
        if peer is not None:
            peer.stop()
        dbworld.drop_world(w)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
