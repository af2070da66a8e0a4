"""GET /cdr against the same SQL run by hand: the statements rfapi sent (captured on
the wire) replayed on one mysqlclient connection plus json encoding, each with its
EXPLAIN; and, for a few shapes, against the best single query for the page."""
from __future__ import annotations

import json
import time
import urllib.parse
from typing import Any, Dict, List

import MySQLdb
import MySQLdb.cursors

from tests.bench import load as L
from tests.bench.harness import PREFIX
from tests.bench.report import log, log_pair
from tests.support import dbworld, office

# The /cdr shapes also measured against the best single query.
SINGLE_QUERY_SHAPES = ("day", "day+src", "all")


class CdrSection:
    def section_cdr(self) -> None:
        log("\n== /cdr (limit=1000) vs the same SQL + json in this process")
        if not self.has("GET", PREFIX + "/cdr"):
            for v in ("day", "day+src", "day+dest", "day+did", "all"):
                self.missing("GET /cdr " + v, "GET /cdr")
            return
        conn = MySQLdb.connect(db=self.world.cdr_db, **dict(dbworld.server_args(), charset="utf8mb4"))
        conn.autocommit(True)
        cur = conn.cursor()
        # A busy weekday half a year back (a Wednesday), and the busiest src/dst/did of that day.
        day = office.local_midnight(self.seeded.now) - min(180, self.scale.days // 2) * 86400
        while time.localtime(day + 43200).tm_wday != 2:
            day -= 86400
        start, end = day, day + 86399
        window = "calldate BETWEEN FROM_UNIXTIME(%s) AND FROM_UNIXTIME(%s)"
        picks = {}
        for col, key in (("src", "src"), ("dst", "dest"), ("did", "did")):
            cur.execute("SELECT %s, COUNT(*) FROM cdr WHERE %s AND %s <> '' GROUP BY %s ORDER BY 2 DESC LIMIT 1"
                        % (col, window, col, col), (start, end))
            row = cur.fetchone()
            picks[key] = (row[0], row[1]) if row else ("", 0)
        cur.execute("SELECT COUNT(*) FROM cdr WHERE " + window, (start, end))
        day_rows = cur.fetchone()[0]
        self.results["cdr_window"] = {"start": start, "end": end, "date": time.strftime("%Y-%m-%d", time.localtime(day)),
                                      "rows_that_day": day_rows, "filters": {k: {"value": v[0], "rows_that_day": v[1]}
                                                                              for k, v in picks.items()}}
        log("  window %s (%d rows that day); src=%s (%d), dest=%s (%d), did=%s (%d)"
            % (self.results["cdr_window"]["date"], day_rows, picks["src"][0], picks["src"][1], picks["dest"][0],
               picks["dest"][1], picks["did"][0], picks["did"][1]))
        variants = [
            ("day", {"start": start, "end": end}),
            ("day+src", {"start": start, "end": end, "src": picks["src"][0]}),
            ("day+dest", {"start": start, "end": end, "dest": picks["dest"][0]}),
            ("day+did", {"start": start, "end": end, "did": picks["did"][0]}),
            ("all", {}),
        ]
        api = self.client()
        dcur = conn.cursor(MySQLdb.cursors.DictCursor)
        for name, q in variants:
            q = dict(q, limit=1000)
            path = PREFIX + "/cdr?" + urllib.parse.urlencode(q)
            status, statements, body = self.capture("GET", path)
            if status != 200:
                msg = body.get("message") if isinstance(body, dict) else body
                self.pair("GET /cdr " + name, "cdr", None, None, "", status="error %s: %s" % (status, msg))
                log("  %-10s error %s %s" % (name, status, msg))
                continue
            selects = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
            count = (body.get("data") or {}).get("count") if isinstance(body, dict) else None
            explains = []
            for sql in selects:
                dcur.execute("EXPLAIN " + sql)
                plan = [{k: (v.decode() if isinstance(v, bytes) else v) for k, v in r.items()} for r in dcur.fetchall()]
                full_scan = any(p.get("type") == "ALL" or p.get("key") in (None, "") for p in plan
                                if p.get("table") not in (None, ""))
                explains.append({"sql": sql, "plan": plan, "uses_index": not full_scan})
            self.results["explain"].append({"query": "GET /cdr " + name, "statements": statements,
                                            "explain": explains})

            def run_api():
                st, data, el = api.request("GET", path)
                if st != 200:
                    raise RuntimeError("GET %s -> %s %s" % (path, st, data[:200]))
                return el

            fetched = [0]

            def run_raw():
                t0 = time.perf_counter()
                rows = []
                n = 0
                for sql in statements:
                    dcur.execute(sql)
                    got = dcur.fetchall()
                    if sql.lstrip().upper().startswith("SELECT"):
                        rows.extend(got)  # every SELECT's rows, whatever order rfapi runs them in
                        n += len(got)
                # The answer holds at most `limit` rows (the statements may return one more, to know if
                # there is a next page).
                json.dumps({"status": 200, "message": "OK", "data": list(rows[:q["limit"]])}, default=str,
                           separators=(",", ":"), ensure_ascii=False)
                fetched[0] = n
                return time.perf_counter() - t0

            with self.profiled("cdr-" + name):
                a, b = self.interleaved(run_api, run_raw, self.n)
            uses_index = all(e["uses_index"] for e in explains)
            row = self.pair("GET /cdr " + name, "cdr", a, b,
                            "the captured statements replayed on one mysqlclient connection (DictCursor, fetchall), "
                            "json.dumps of the answer's rows",
                            extra={"rows": count, "statements": len(statements), "sql_rows_returned": fetched[0],
                                   "uses_index": uses_index})
            if not uses_index:
                row["holds"] = False
            log_pair(row)
            if name in SINGLE_QUERY_SHAPES:
                self._cdr_single_query(name, q, api, path, dcur)
        api.close()
        conn.close()

    def _cdr_single_query(self, name: str, q: Dict[str, Any], api: L.Client, path: str, dcur) -> None:
        """The tightest limit: the best single statement for this page, whatever rfapi sends —
        ``SELECT * ... WHERE calldate BETWEEN ... [AND src = ...] ORDER BY calldate DESC LIMIT n`` on one
        connection (DictCursor, fetchall) + json.dumps of the envelope, in this process."""
        start = q.get("start", 0)
        end = q.get("end", int(time.time()))
        sql = "SELECT * FROM cdr WHERE calldate BETWEEN FROM_UNIXTIME(%s) AND FROM_UNIXTIME(%s)"
        args: List[Any] = [start, end]
        if "src" in q:
            sql += " AND src = %s"
            args.append(q["src"])
        sql += " ORDER BY calldate DESC LIMIT %d" % q["limit"]
        got = [0]

        def run_api():
            st, data, el = api.request("GET", path)
            if st != 200:
                raise RuntimeError("GET %s -> %s %s" % (path, st, data[:200]))
            return el

        def run_single():
            t0 = time.perf_counter()
            dcur.execute(sql, args)
            rows = dcur.fetchall()
            json.dumps({"status": 200, "message": "OK", "data": {"rows": list(rows), "count": len(rows),
                                                                  "next": None}},
                       default=str, separators=(",", ":"), ensure_ascii=False)
            got[0] = len(rows)
            return time.perf_counter() - t0

        a, b = self.interleaved(run_api, run_single, self.n)
        dcur.execute("EXPLAIN " + sql, args)
        plan = [{k: (v.decode() if isinstance(v, bytes) else v) for k, v in r.items()} for r in dcur.fetchall()]
        row = self.pair("GET /cdr %s vs 1 query" % name, "cdr", a, b,
                        "one SELECT * ... ORDER BY calldate DESC LIMIT n (the best single query) + json.dumps",
                        extra={"sql": sql % tuple(repr(x) for x in args), "sql_rows_returned": got[0],
                               "plan": plan})
        log_pair(row)
