"""GET /extensions (warm: against reading its cache file; and against one raw
query of the same fields), its cold rebuild, and GET /extdump (time, SQL
statements, AMI actions and a worker's peak memory)."""
from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Dict

import MySQLdb
import MySQLdb.cursors

from tests.bench import load as L
from tests.bench.facts import proc_status, reset_peak
from tests.bench.harness import PREFIX
from tests.bench.report import log, log_pair
from tests.support import dbworld


class ExtensionsSection:
    def section_extensions(self) -> None:
        log("\n== /extensions (warm cache) vs reading the cache file + json")
        if not self.has("GET", PREFIX + "/extensions"):
            self.missing("GET /extensions (warm)", "GET /extensions")
            return
        api = self.client()
        st, body, el = api.json("GET", PREFIX + "/extensions")
        if st != 200:
            self.pair("GET /extensions (warm)", "extensions", None, None, "", status="error %s" % st)
            return
        listed = len(body.get("data") or []) if isinstance(body, dict) else None
        cache_file = self.cache / "extensions.json"
        files = sorted(p.name for p in self.cache.iterdir())
        if not cache_file.exists():
            # The cache was not stored (rfapi stores it only when complete, i.e. AstDB was read):
            # every request rebuilds. Time a few and say so instead of 30 rebuilds.
            times = [el] + [api.request("GET", PREFIX + "/extensions")[2] for _ in range(2)]
            row = self.pair("GET /extensions (warm)", "extensions", times, None, "",
                            status="never warm: %s not written after a GET (files: %s); every request rebuilt it, "
                                   "median %.0f ms" % (cache_file.name, ", ".join(files), L.summary(times)["median_ms"]),
                            extra={"extensions": listed, "cache_files": files})
            row["holds"] = False
            log("  %s" % row["status"])
            api.close()
            return

        def run_api():
            return api.request("GET", PREFIX + "/extensions")[2]

        def run_raw():
            t0 = time.perf_counter()
            with open(cache_file, "rb") as fh:
                doc = json.loads(fh.read().decode("utf-8"))
            data = doc["extensions"] if isinstance(doc, dict) and "extensions" in doc else doc
            json.dumps({"status": 200, "message": "OK", "data": data}, separators=(",", ":"), ensure_ascii=False)
            return time.perf_counter() - t0

        st_cap, statements, _ = self.capture("GET", PREFIX + "/extensions")
        with self.profiled("extensions"):
            a, b = self.interleaved(run_api, run_raw if cache_file.exists() else None, self.n)
        row = self.pair("GET /extensions (warm)", "extensions", a, b,
                        "read %s + json.loads + json.dumps" % cache_file.name if cache_file.exists()
                        else "no cache file found (%s)" % files,
                        extra={"extensions": listed, "cache_files": files,
                               "sql_statements_per_warm_request": [s[:200] for s in statements]})
        log_pair(row)
        self._extensions_raw_query(api)

        cold: Dict[str, Any] = {}
        if self.has("POST", PREFIX + "/cache/{context}"):
            times = []
            for _ in range(self.cold_reps):
                st, data, el = api.request("POST", PREFIX + "/cache/extensions", body=b"action=reload",
                                           headers={"Content-Type": "application/x-www-form-urlencoded"})
                times.append(el)
            cold["reload_route"] = dict(L.summary(times), status=st)
        else:
            cold["reload_route"] = "missing"
        times = []
        for _ in range(self.cold_reps):
            with contextlib.suppress(FileNotFoundError):
                cache_file.unlink()
            st, data, el = api.request("GET", PREFIX + "/extensions")
            times.append(el)
        cold["get_after_removing_cache_file"] = dict(L.summary(times), status=st)
        self.results["extensions_cold"] = cold
        rr = cold["reload_route"]
        log("  cold rebuild: POST /cache/extensions action=reload median %s ms; GET /extensions with the cache "
            "file removed median %.1f ms" % (rr["median_ms"] if isinstance(rr, dict) else rr,
                                              cold["get_after_removing_cache_file"]["median_ms"]))
        api.close()

    def _extensions_raw_query(self, api: L.Client) -> None:
        """The tightest baseline: one raw query returning the fields /extensions lists (users, their
        device's tech and CIDs, voicemail, the follow-me group, and the voicemail box's e-mail:
        voicemail.conf is not SQL: users.sipname stands in) + json.dumps, in this process."""
        conn = MySQLdb.connect(db=self.world.config_db, **dict(dbworld.server_args(), charset="utf8mb4"))
        conn.autocommit(True)
        cur = conn.cursor(MySQLdb.cursors.DictCursor)
        sql = ("SELECT u.extension, u.name, d.tech, u.voicemail, u.voicemail AS voicemail_context, "
               "u.sipname AS email, u.outboundcid, d.emergency_cid AS emergencycid, "
               "f.grpnum IS NOT NULL AS followme, f.strategy AS followme_enabled, u.recording "
               "FROM users u LEFT JOIN devices d ON d.id = u.extension "
               "LEFT JOIN findmefollow f ON f.grpnum = u.extension ORDER BY u.extension")

        def run_api():
            return api.request("GET", PREFIX + "/extensions")[2]

        def run_raw():
            t0 = time.perf_counter()
            cur.execute(sql)
            rows = cur.fetchall()
            json.dumps({"status": 200, "message": "OK", "data": list(rows)}, default=str, separators=(",", ":"),
                       ensure_ascii=False)
            return time.perf_counter() - t0

        try:
            a, b = self.interleaved(run_api, run_raw, self.n)
        finally:
            conn.close()
        row = self.pair("GET /extensions vs 1 query", "extensions", a, b,
                        "one SELECT of the same fields (users LEFT JOIN devices, findmefollow) + json.dumps",
                        extra={"sql": sql})
        log_pair(row)

    def section_extdump(self) -> None:
        log("\n== /extdump (all extensions): time, peak memory, queries")
        if not self.has("GET", PREFIX + "/extdump"):
            self.missing("GET /extdump", "GET /extdump")
            return
        st, statements, body = self.capture("GET", PREFIX + "/extdump")
        data = body.get("data") if isinstance(body, dict) else None
        n_items = len(data) if isinstance(data, (list, dict)) else None
        workers = self.api.worker_pids()
        before = {}
        for pid in workers:
            reset_peak(pid)
            before[pid] = proc_status(pid)
        api = self.client()
        self.peer.clear_actions()
        times, sizes = [], []
        reps = 3 if self.args.size != "tiny" else 1
        with self.profiled("extdump"):
            for _ in range(reps):
                s, payload, el = api.request("GET", PREFIX + "/extdump")
                times.append(el)
                sizes.append(len(payload))
        ami = len([a for a in self.peer.actions if a.name.lower() not in ("login", "logoff")])
        after = {pid: proc_status(pid) for pid in workers}
        peak = max((after[p].get("VmHWM", 0), p) for p in workers) if workers else (0, None)
        base_rss = before.get(peak[1], {}).get("VmRSS", 0)
        res = {"status": s, "extensions": n_items, "bytes": sizes[-1] if sizes else None, "time": L.summary(times),
               "sql_statements": len(statements), "sql": [x[:300] for x in statements],
               "ami_actions_per_request": ami / reps,
               "worker_peak_rss_mb": round(peak[0] / 1024, 1), "worker_rss_before_mb": round(base_rss / 1024, 1),
               "peak_minus_before_mb": round((peak[0] - base_rss) / 1024, 1), "workers": workers}
        self.results["extdump"] = res
        log("  status %s, %s extensions, %.1f MB JSON, median %.0f ms; %d SQL statements; %.1f AMI actions; "
            "worker peak RSS %.1f MB (%.1f MB before: +%.1f MB)"
            % (s, n_items, (sizes[-1] if sizes else 0) / 1e6, res["time"]["median_ms"] or 0, len(statements),
               res["ami_actions_per_request"], res["worker_peak_rss_mb"], res["worker_rss_before_mb"],
               res["peak_minus_before_mb"]))
        api.close()
