"""The benchmark: rfapi at PBX scale, each route measured against its physical limit.

    .venv/bin/python -m tests.bench.run [--quick | --tiny] [--out bench-results/latest.json]

One run: seed throwaway databases at scale (tests/bench/seed.py), start an AMI
peer (tests/bench/peer.py), start rfapi under gunicorn with the production
config (deploy/gunicorn.conf.py; only the bind address is overridden, through
its own RFAPI_BIND knob) and a bare Flask app under the same settings, then
measure each route and its baseline in the same run, print a table and write JSON.
Everything it created (databases, processes, temp dir) is removed at the end,
also on Ctrl-C or an error. A route that does not exist (yet) is reported as
"missing" and the run goes on.

How each number is taken (see also load.py):

* latencies: sequential requests on one keep-alive connection; the API and its
  baseline are sampled alternately so background load hits both alike;
* the SQL of a request: captured on the wire (sqlspy.py) while an in-process
  copy of the app (same code and config, database reached through the tap)
  serves the same request; the /cdr baseline replays exactly those statements
  with mysqlclient on one connection and json-encodes the rows;
* AMI actions per request: counted by the peer (every connection);
* /extdump memory: VmHWM of each gunicorn worker (reset through
  /proc/<pid>/clear_refs first), i.e. the worker's peak resident set;
* throughput: wrk if installed (else a multi-process Python client).

The code: ``harness`` (world, servers, measuring helpers), ``sections/`` (one
module per route group), ``facts`` (machine and process facts), ``report``
(table, verdicts, profiles); this module composes them and is the CLI.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence

from tests.bench import load as L
from tests.bench.facts import machine_facts, source_hash
from tests.bench.harness import REPO, Harness
from tests.bench.report import evaluate, log, table
from tests.bench.sections.cdr import CdrSection
from tests.bench.sections.extensions import ExtensionsSection
from tests.bench.sections.live import LiveSection
from tests.bench.sections.throughput import ThroughputSection
from tests.bench.sections.writes import WritesSection


class Bench(CdrSection, ExtensionsSection, LiveSection, WritesSection, ThroughputSection, Harness):
    """One benchmark run: set up, run the chosen sections, collect the results."""

    def run(self) -> Dict[str, Any]:
        t0 = time.monotonic()
        self.results["meta"] = machine_facts()
        self.results["meta"]["size"] = self.args.size
        self.results["meta"]["scale"] = vars(self.scale)
        self.results["meta"]["requests_per_latency_series"] = self.n
        self.results["meta"]["throughput_seconds"] = self.seconds
        self.results["meta"]["load_tool"] = "wrk (%s)" % shutil.which("wrk") if L.have_wrk() else \
            "python multi-process client (wrk not installed)"
        code_at_start = source_hash()
        self.setup()
        sections = {"extdump": self.section_extdump, "extensions": self.section_extensions,
                    "cdr": self.section_cdr, "live": self.section_live, "writes": self.section_writes,
                    "test": self.section_test}
        only = self.args.only.split(",") if self.args.only else list(sections)
        for name in only:
            try:
                sections[name]()
            except Exception as exc:  # one broken route must not lose the other numbers
                logging.getLogger("bench").exception("section %s failed", name)
                self.results["notes"].append("section %s failed: %r" % (name, exc))
        if source_hash() != code_at_start:
            self.results["notes"].append(
                "rfapi/ or deploy/ changed while the benchmark ran: gunicorn workers and the capture copy loaded the "
                "code at start, but workers recycled by max_requests (the /test section) may run newer code. "
                "Re-run on a quiet tree for comparable numbers.")
        self.results["meta"]["loadavg_end"] = os.getloadavg()
        self.results["meta"]["seconds_total"] = round(time.monotonic() - t0, 1)
        self.results["targets"] = evaluate(self.results)
        if self.profiles:
            self.results["profiles"] = self.profiles
        return self.results


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n\n")[0])
    size = ap.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="size", action="store_const", const="quick",
                      help="1,000 extensions, 200,000 CDR rows (development)")
    size.add_argument("--tiny", dest="size", action="store_const", const="tiny",
                      help="50 extensions, 2,000 CDR rows, a few requests (smoke test)")
    ap.set_defaults(size="full")
    ap.add_argument("--out", default="bench-results/latest.json", help="JSON results file (default: %(default)s)")
    ap.add_argument("--requests", type=int, help="requests per latency series (default 60 full / 15 quick)")
    ap.add_argument("--duration", type=float, help="seconds per throughput run (default 5 full / 3 quick)")
    ap.add_argument("--concurrency", default="1,8,32", help="throughput concurrencies (default %(default)s)")
    ap.add_argument("--only", help="comma-separated sections: extdump,extensions,cdr,live,writes,test")
    ap.add_argument("--profile", action="store_true", help="record py-spy profiles of the rfapi workers per section")
    ap.add_argument("--ami-timeout", type=float,
                    help="[ami] timeout for rfapi (default: rfapi's own default, 10 s)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the gunicorn logs (and profiles) of the run")
    args = ap.parse_args(argv)

    # SIGTERM behaves like Ctrl-C: the finally below still drops the databases.
    def _term(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _term)
    bench = Bench(args)
    results = None
    try:
        results = bench.run()
    except KeyboardInterrupt:
        log("\ninterrupted: cleaning up")
        return 130
    finally:
        bench.close()
    text = table(results)
    log("\n" + text)
    if results.get("profiles"):
        for name, prof in results["profiles"].items():
            log("\n-- profile %s --\n%s" % (name, prof))
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO / out
    out.parent.mkdir(parents=True, exist_ok=True)
    results["table"] = text
    out.write_text(json.dumps(results, indent=1, default=str))
    log("\nresults written to %s" % out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
