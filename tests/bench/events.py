"""Benchmark of GET /events: AMI event in -> SSE event out, and what streams
cost the ordinary requests.

    .venv/bin/python -m tests.bench.events [--subscribers 100] [--events 300] [--seconds 5]

Sets up the office world (throwaway databases, the AMI peer), starts rfapi under
gunicorn with deploy/gunicorn.conf.py unchanged (only RFAPI_BIND), then:

* latency: the peer sends PresenceStateChange events carrying their send time
  (time.perf_counter() in Message; same process, same clock) at a steady rate;
  every subscriber's stream is read by one selector loop, and each event's
  latency is receive time - send time, for 1 and for N subscribers (p50/p95/max
  over all deliveries);
* throughput: GET /test (wrk if installed, c=8) with no stream open, with N idle
  streams open, and with N streams receiving 20 events/s; ratio against none.
Prints the figures and a verdict against the targets (p95 <= 50 ms, ratio >= 0.7).
"""
from __future__ import annotations

import argparse
import json
import selectors
import socket
import tempfile
import time
from pathlib import Path
from typing import Dict, List

from tests.bench import load as L
from tests.bench.report import log
from tests.support import dbworld, world
from tests.support.procs import Gunicorn

P95_TARGET_MS = 50.0
RATIO_TARGET = 0.7


class Subscribers:
    """N streams read by one selector loop (no thread per stream in the client)."""

    def __init__(self, port: int, n: int, auth: Dict[str, str], query: str = "?types=presence"):
        self.sel = selectors.DefaultSelector()
        self.socks = []
        self.buf: Dict[socket.socket, bytes] = {}
        self.origins = []
        req = ("GET /api/v1/events%s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n"
               % (query, auth["Authorization"])).encode()
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(req)
            self.socks.append(s)
        for s in self.socks:  # headers and the first frame
            data = b""
            while b"rfapi events " not in data:
                chunk = s.recv(65536)
                if not chunk:
                    raise RuntimeError("stream closed: %r" % data[:300])
                data += chunk
            if b" 200 " not in data.split(b"\r\n", 1)[0]:
                raise RuntimeError("stream refused: %r" % data[:300])
            self.origins.append(data.split(b"rfapi events ", 1)[1][:8].decode())
            s.setblocking(False)
            self.buf[s] = b""
            self.sel.register(s, selectors.EVENT_READ)

    def collect(self, until: float, on_event) -> None:
        while True:
            left = until - time.perf_counter()
            if left <= 0:
                return
            for key, _ in self.sel.select(min(left, 0.05)):
                s = key.fileobj
                try:
                    chunk = s.recv(262144)
                except BlockingIOError:
                    continue
                now = time.perf_counter()
                if not chunk:
                    self.sel.unregister(s)
                    continue
                data = self.buf[s] + chunk
                # Frames are small; a data line carries the JSON with the send time.
                *lines, rest = data.split(b"\n")
                self.buf[s] = rest
                for line in lines:
                    if line.startswith(b"data: "):
                        on_event(json.loads(line[6:]), now)
                    # chunked-encoding size lines and ids are ignored

    def close(self) -> None:
        for s in self.socks:
            try:
                s.close()
            except OSError:
                pass
        self.sel.close()


def pct(values: List[float], p: float) -> float:
    return L.percentile(values, p) if values else float("nan")


def latency(peer, port: int, auth, n: int, events: int, rate: float) -> Dict[str, float]:
    subs = Subscribers(port, n, auth)
    got: List[float] = []
    seen = [0]

    def on_event(d, now):
        if d.get("type") == "presence" and d.get("message", "").startswith("bench "):
            got.append((now - float(d["message"].split()[1])) * 1000.0)
            seen[0] += 1

    try:
        time.sleep(0.5)
        interval = 1.0 / rate
        for i in range(events):
            peer.emit_event("PresenceStateChange", [("Presentity", "CustomPresence:101"), ("Status", "available"),
                                                    ("Subtype", ""), ("Message", "bench %.6f" % time.perf_counter())])
            subs.collect(time.perf_counter() + interval, on_event)
        subs.collect(time.perf_counter() + 2.0, on_event)
    finally:
        workers = len(set(subs.origins))
        subs.close()
    return {"subscribers": n, "workers_serving": workers, "events": events, "deliveries": len(got),
            "expected": events * n, "p50_ms": round(pct(got, 50), 2), "p95_ms": round(pct(got, 95), 2),
            "max_ms": round(max(got), 2) if got else None}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subscribers", type=int, default=100)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--rate", type=float, default=50.0, help="events per second in the latency runs")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run")
    args = ap.parse_args()

    dbworld.drop_stale_worlds()
    db = dbworld.create_world()
    tmp = Path(tempfile.mkdtemp(prefix="rfapi-bench-events-"))
    pbx = None
    g = None
    try:
        world.load_office(db)
        pbx = world.build(tmp / "pbx", db)
        g = Gunicorn(tmp, name="rfapi-events", ini=pbx.ini)
        g.start()
        g.wait_ready("/api/v1/test")
        auth = pbx.auth
        log("gunicorn: deploy/gunicorn.conf.py, workers %s" % g.worker_pids())

        results = {"latency": [], "throughput": []}
        for n in (1, args.subscribers):
            r = latency(pbx.peer, g.port, auth, n, args.events, args.rate)
            results["latency"].append(r)
            log("latency  %3d subscriber(s) (%d worker(s)): p50 %6.2f ms  p95 %6.2f ms  max %6.2f ms  "
                "(%d/%d deliveries)" % (n, r["workers_serving"], r["p50_ms"], r["p95_ms"], r["max_ms"] or 0,
                                        r["deliveries"], r["expected"]))

        def tp(label):
            t = L.throughput(g.port, "/api/v1/test", 8, args.seconds, auth)
            t["label"] = label
            results["throughput"].append(t)
            log("throughput %-32s %8.0f r/s  p50 %.2f ms  p95 %.2f ms  non-2xx %s"
                % (label, t["rps"] or 0, t["p50_ms"] or 0, t["p95_ms"] or 0, t.get("non_2xx")))
            return t["rps"] or 0.0

        def rss_kb():
            total = 0
            for pid in g.worker_pids():
                for line in Path("/proc/%d/status" % pid).read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            return total

        base = tp("no streams")
        rss0 = rss_kb()
        subs = Subscribers(g.port, args.subscribers, auth)
        try:
            time.sleep(0.5)
            rss1 = rss_kb()
            results["rss_kb"] = {"no streams": rss0, "streams": rss1}
            log("workers' resident memory: %d KB without streams, %d KB with %d (%.0f KB per stream)"
                % (rss0, rss1, args.subscribers, (rss1 - rss0) / float(args.subscribers)))
            idle = tp("%d idle streams" % args.subscribers)
            # Streams receiving events while /test runs: 20 events/s from a helper thread.
            import threading

            stop = threading.Event()

            def pump():
                n = 0
                while not stop.wait(0.05):
                    n += 1  # a new value each time: unchanged values are not events
                    pbx.peer.emit_event("PresenceStateChange", [("Presentity", "CustomPresence:102"),
                                                                ("Status", "away"), ("Subtype", ""),
                                                                ("Message", "load %d" % n)])

            received = [0]

            def drain():
                while not stop.is_set():
                    subs.collect(time.perf_counter() + 0.2, lambda d, now: received.__setitem__(0, received[0] + 1))

            th = [threading.Thread(target=pump, daemon=True), threading.Thread(target=drain, daemon=True)]
            for t in th:
                t.start()
            busy = tp("%d streams, 20 events/s" % args.subscribers)
            stop.set()
            for t in th:
                t.join(5)
            log("  (%d events delivered to the streams during that run)" % received[0])
            results["delivered_during_load"] = received[0]
        finally:
            subs.close()
        base2 = tp("no streams (again)")
        ref = (base + base2) / 2
        log("")
        lat1, latn = results["latency"]
        log("p95 1 subscriber   %.2f ms   (target <= %.0f ms) %s" % (lat1["p95_ms"], P95_TARGET_MS,
                                                                   "ok" if lat1["p95_ms"] <= P95_TARGET_MS else "MISSED"))
        log("p95 %d subscribers %.2f ms   (target <= %.0f ms) %s" % (args.subscribers, latn["p95_ms"], P95_TARGET_MS,
                                                                   "ok" if latn["p95_ms"] <= P95_TARGET_MS else "MISSED"))
        for label, v in (("idle", idle), ("receiving", busy)):
            ratio = v / ref if ref else float("nan")
            log("/test with %d %s streams: %.2fx of none (target >= %.1fx) %s"
                % (args.subscribers, label, ratio, RATIO_TARGET, "ok" if ratio >= RATIO_TARGET else "MISSED"))
        out = Path("bench-results")
        out.mkdir(exist_ok=True)
        (out / "events.json").write_text(json.dumps(results, indent=2))
        return 0
    finally:
        if g is not None:
            g.stop()
        if pbx is not None:
            pbx.close()
        dbworld.drop_world(db)


if __name__ == "__main__":
    raise SystemExit(main())
