"""GET /test throughput (with the config user and with an ampusers login) against
a bare Flask app under the same gunicorn settings, per concurrency level."""
from __future__ import annotations

from tests.bench import load as L
from tests.bench.harness import PREFIX, TARGETS
from tests.bench.report import log


class ThroughputSection:
    def section_test(self) -> None:
        tool = "wrk" if L.have_wrk() else "python multi-process client"
        log("\n== GET /test throughput vs a bare Flask app under the same gunicorn settings (%s, %.0f s each)"
            % (tool, self.seconds))
        if not self.has("GET", PREFIX + "/test"):
            self.missing("GET /test", "GET /test")
            return
        for kind, label, key in (("api", "config user", "test"), ("db", "ampusers login", "test_db")):
            st, body, _ = self.client(kind).json("GET", PREFIX + "/test")
            if st != 200:
                self.results["throughput"].append({"login": label, "status": "error %s" % st})
                log("  %s: error %s" % (label, st))
                continue
        for c in self.concurrency:
            # Interleaved: bare, config user, ampusers login; background load hits all three alike.
            with self.profiled("bare-c%d" % c, self.bare):
                bare = L.throughput(self.bare.port, PREFIX + "/test", c, self.seconds, {})
            rows = []
            for kind, label, key in (("api", "config user", "test"), ("db", "ampusers login", "test_db")):
                with self.profiled("test-%s-c%d" % (kind, c)):
                    r = L.throughput(self.api.port, PREFIX + "/test", c, self.seconds, self.auth(kind))
                ratio = round(r["rps"] / bare["rps"], 2) if r.get("rps") and bare.get("rps") else None
                row = {"name": "GET /test c=%d %s" % (c, label), "concurrency": c, "login": label, "api": r,
                       "bare": bare, "ratio": ratio, "target": ">= %.2fx" % TARGETS[key],
                       "holds": (ratio >= TARGETS[key]) if ratio is not None and not r["non_2xx"] else None}
                self.results["throughput"].append(row)
                rows.append(row)
            for row in rows:
                log("  %-34s %8.0f req/s (p50 %6.2f ms, p95 %6.2f ms) vs bare %8.0f req/s  ratio %5s  %s%s"
                    % (row["name"], row["api"]["rps"] or 0, row["api"]["p50_ms"] or 0, row["api"]["p95_ms"] or 0,
                       row["bare"]["rps"] or 0, row["ratio"], row["target"],
                       "" if not row["api"]["non_2xx"] else "  (%d non-2xx!)" % row["api"]["non_2xx"]))
