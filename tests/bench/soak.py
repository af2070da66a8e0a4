"""Soak benchmark: rfapi under dashboards and ordinary clients, with the shipped
gunicorn config, watching how many MariaDB connections it holds.

    .venv/bin/python -m tests.bench.soak [--seconds 180] [--dashboards 100] [--clients 48]

Sets up the office world (throwaway databases, the AMI peer) with a MariaDB user of
its own for rfapi (so PROCESSLIST can be filtered to rfapi's user and databases),
starts gunicorn with deploy/gunicorn.conf.py unchanged (only RFAPI_BIND), then:

1. streams: ``--streams`` GET /events streams opened at once, held a second, closed;
2. bursts: three bursts of ``--burst`` GET /dids, ``--concurrency`` at a time;
3. soak: for ``--seconds``, ``--dashboards`` clients open a stream, keep it 0.5-3 s,
   close it and open another, while ``--clients`` clients send ordinary requests
   (reads of config, CDRs and live state, and DID writes that the dashboards see).

A thread samples ``information_schema.PROCESSLIST`` every 0.1 s. Prints the most
connections rfapi held (per phase and overall) against workers x pool_size x 2,
p50/p99 latency per route class, and every non-2xx answer.
"""
from __future__ import annotations

import argparse
import collections
import json
import random
import selectors
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from tests.bench import load as L
from tests.bench.report import log
from tests.support.procs import Gunicorn
from tests.support import dbworld, office, world

DB_USER = "rfapi_soak"
DB_PASSWORD = "soak-Pass-0123"
ROUTES = [  # (class, method, path, weight)
    ("GET /dids", "GET", "/api/v1/dids", 30),
    ("GET /extensions", "GET", "/api/v1/extensions", 20),
    ("GET /cdr", "GET", "/api/v1/cdr?limit=50", 15),
    ("GET /state", "GET", "/api/v1/state", 15),
    ("GET /test", "GET", "/api/v1/test", 15),
    ("PUT /did", "PUT", "/api/v1/did/%s" % office.MAIN_DID, 5),
]


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency: Dict[str, List[float]] = collections.defaultdict(list)
        self.non2xx: Dict[Tuple[str, int, str], int] = collections.Counter()
        self.count: Dict[str, int] = collections.Counter()

    def add(self, route: str, status: int, seconds: float, body: bytes = b"") -> None:
        with self.lock:
            self.count[route] += 1
            self.latency[route].append(seconds)
            if not 200 <= status < 300:
                try:
                    msg = json.loads(body).get("message", "")[:100]
                except (ValueError, AttributeError):
                    msg = body[:100].decode("latin-1")
                self.non2xx[(route, status, msg)] += 1

    def table(self) -> List[Dict[str, Any]]:
        out = []
        for route in sorted(self.latency):
            lat = self.latency[route]
            out.append({"route": route, "requests": self.count[route],
                        "p50_ms": round(L.percentile(lat, 50) * 1000, 2), "p99_ms": round(L.percentile(lat, 99) * 1000, 2)})
        return out

    def errors(self) -> List[Dict[str, Any]]:
        return [{"route": r, "status": s, "message": m, "count": n} for (r, s, m), n in sorted(self.non2xx.items())]


class ConnectionSampler:
    """The most connections rfapi's MariaDB user holds on the world's databases."""

    def __init__(self, dbs: Tuple[str, str], interval: float = 0.1):
        self.dbs = dbs
        self.interval = interval
        self.most = 0
        self.phase_most: Dict[str, int] = {}
        self.phase = "start"
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def count(self, conn) -> int:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = %s AND DB IN (%s, %s)",
                    (DB_USER,) + self.dbs)
        return int(cur.fetchone()[0])

    def _run(self) -> None:
        conn = dbworld.connect(autocommit=True)
        try:
            while not self._stop.wait(self.interval):
                n = self.count(conn)
                self.samples += 1
                self.most = max(self.most, n)
                self.phase_most[self.phase] = max(self.phase_most.get(self.phase, 0), n)
        finally:
            conn.close()

    def start(self) -> "ConnectionSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def _request_bytes(path: str, auth: Dict[str, str]) -> bytes:
    return ("GET %s HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % (path, auth["Authorization"])).encode()


def _open_stream(port: int, auth) -> Tuple[socket.socket, float]:
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    s.sendall(_request_bytes("/api/v1/events?types=config", auth))
    return s, time.perf_counter()


def _first_answer(s: socket.socket) -> Tuple[int, bytes]:
    """Status and what came with it, once the headers (and a stream's first frame) are in."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
        if b"\r\n\r\n" in data:
            head, _, rest = data.partition(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            if status != 200 or b"rfapi events " in rest:
                if status != 200:
                    length = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
                    while length and len(rest) < length[0]:
                        more = s.recv(65536)
                        if not more:
                            break
                        rest += more
                return status, rest
    raise ConnectionError("closed before an answer: %r" % data[:200])


def open_close_streams(port: int, auth, n: int, res: Results, hold: float = 1.0) -> int:
    """n streams at once (every request sent, then every answer read), held, closed."""
    opened = [_open_stream(port, auth) for _ in range(n)]
    ok = 0
    for s, t0 in opened:
        status, body = _first_answer(s)
        res.add("GET /events (open)", status, time.perf_counter() - t0, body)
        ok += status == 200
    time.sleep(hold)
    for s, _ in opened:
        s.close()
    return ok


def bursts(port: int, auth, n: int, concurrency: int, res: Results, count: int = 3) -> None:
    for _ in range(count):
        left = [n]
        lock = threading.Lock()

        def worker():
            c = L.Client(port, auth, timeout=60)
            while True:
                with lock:
                    if left[0] <= 0:
                        break
                    left[0] -= 1
                status, body, el = c.request("GET", "/api/v1/dids")
                res.add("GET /dids (burst)", status, el, body)
            c.close()

        ts = [threading.Thread(target=worker) for _ in range(concurrency)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()


def dashboards(port: int, auth, n: int, until: float, res: Results) -> int:
    """n dashboards that open a stream, keep it 0.5-3 s, close it and open another."""
    rng = random.Random(7)
    sel = selectors.DefaultSelector()
    pending: Dict[socket.socket, float] = {}     # waiting for the first answer: sent at
    live: List[Tuple[float, socket.socket]] = []  # (close at, socket)
    opened = 0

    def start_one():
        s, t0 = _open_stream(port, auth)
        pending[s] = t0
        sel.register(s, selectors.EVENT_READ)

    for _ in range(n):
        start_one()
    while time.perf_counter() < until or pending:
        for key, _ in sel.select(0.05):
            s = key.fileobj
            sel.unregister(s)
            t0 = pending.pop(s)
            try:
                status, body = _first_answer(s)
            except (OSError, ValueError) as exc:
                status, body = 599, str(exc).encode()
            res.add("GET /events (open)", status, time.perf_counter() - t0, body)
            if status == 200:
                opened += 1
                live.append((time.perf_counter() + rng.uniform(0.5, 3.0), s))
            else:
                s.close()
                if time.perf_counter() < until:
                    start_one()
        now = time.perf_counter()
        keep = []
        for at, s in live:
            if at <= now:
                s.close()
                if now < until:
                    start_one()
            else:
                keep.append((at, s))
        live = keep
    for _, s in live:
        s.close()
    sel.close()
    return opened


def clients(port: int, auth, n: int, until: float, res: Results) -> None:
    weights = [w for *_, w in ROUTES]

    def worker(i):
        rng = random.Random(i)
        c = L.Client(port, auth, timeout=60)
        k = 0
        while time.perf_counter() < until:
            name, method, path, _ = rng.choices(ROUTES, weights)[0]
            body = None
            headers = None
            if method == "PUT":
                k += 1
                body = json.dumps({"description": "Main Number %d-%d" % (i, k)}).encode()
                headers = {"Content-Type": "application/json"}
            status, data, el = c.request(method, path, body=body, headers=headers)
            res.add(name, status, el, data)
        c.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def _create_db_user(db) -> None:
    conn = dbworld.connect(autocommit=True)
    try:
        cur = conn.cursor()
        for host in ("%", "localhost", "127.0.0.1"):
            cur.execute("CREATE USER IF NOT EXISTS %s@%s IDENTIFIED BY %s", (DB_USER, host, DB_PASSWORD))
            for name in db.databases:
                cur.execute("GRANT ALL PRIVILEGES ON `%s`.* TO %%s@%%s" % name.replace("`", ""), (DB_USER, host))
    finally:
        conn.close()


def _with_db_user(text: str) -> str:
    """The INI text with [database] user/password set to the soak's own MariaDB user."""
    out, section = [], ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.strip()
            out.append(line)
            if section == "[database]":
                out += ["user = %s" % DB_USER, "password = %s" % DB_PASSWORD]
            continue
        if section == "[database]" and line.split("=")[0].strip() in ("user", "password"):
            continue
        out.append(line)
    return "\n".join(out) + "\n"


def _drop_db_user() -> None:
    conn = dbworld.connect(autocommit=True)
    try:
        cur = conn.cursor()
        for host in ("%", "localhost", "127.0.0.1"):
            cur.execute("DROP USER IF EXISTS %s@%s", (DB_USER, host))
    finally:
        conn.close()


def run(seconds: float = 180.0, streams: int = 250, burst: int = 300, concurrency: int = 48,
        n_dashboards: int = 100, n_clients: int = 48, workdir: Optional[Path] = None) -> Dict[str, Any]:
    """Every phase; the figures as a dict (the test runs a short one)."""
    db = dbworld.create_world()
    tmp = workdir or Path(tempfile.mkdtemp(prefix="rfapi-bench-soak-"))
    pbx = g = sampler = None
    try:
        world.load_office(db)
        pbx = world.build(tmp / "pbx", db)
        _create_db_user(db)
        pbx.ini.write_text(_with_db_user(pbx.ini.read_text()))
        g = Gunicorn(tmp, name="rfapi-soak", ini=pbx.ini)  # the shipped deploy/gunicorn.conf.py
        g.start()
        g.wait_ready("/api/v1/test")
        deadline = time.monotonic() + 30
        while len(g.worker_pids()) < 2 and time.monotonic() < deadline:  # the shipped config's 2 workers
            time.sleep(0.05)
        from rfapi import config as config_mod

        cfg = config_mod.load(str(pbx.ini))
        workers = len(g.worker_pids())
        bound = workers * cfg.database.pool_size * 2
        auth = pbx.auth
        res = Results()
        sampler = ConnectionSampler(db.databases).start()
        t_start = time.perf_counter()

        sampler.phase = "streams"
        accepted = open_close_streams(g.port, auth, streams, res)
        sampler.phase = "bursts"
        bursts(g.port, auth, burst, concurrency, res)
        sampler.phase = "soak"
        until = time.perf_counter() + seconds
        opened = [0]
        dash = threading.Thread(target=lambda: opened.__setitem__(0, dashboards(g.port, auth, n_dashboards,
                                                                               until, res)))
        dash.start()
        clients(g.port, auth, n_clients, until, res)
        dash.join()
        time.sleep(0.3)
        sampler.stop()
        errors = res.errors()
        return {"workers": workers, "pool_size": cfg.database.pool_size, "bound": bound,
                "bound_formula": "workers (%d) x pool_size (%d) x databases (2)" % (workers, cfg.database.pool_size),
                "most_connections": sampler.most, "most_by_phase": sampler.phase_most, "samples": sampler.samples,
                "streams_accepted": accepted, "streams_asked": streams, "dashboard_streams_opened": opened[0],
                "seconds": round(time.perf_counter() - t_start, 1), "routes": res.table(), "non_2xx": errors,
                "server_errors": sum(e["count"] for e in errors if e["status"] >= 500)}
    finally:
        if sampler is not None:
            sampler.stop()
        if g is not None:
            g.stop()
        if pbx is not None:
            pbx.close()
        _drop_db_user()
        dbworld.drop_world(db)


def report(r: Dict[str, Any]) -> None:
    log("gunicorn: deploy/gunicorn.conf.py, %d workers; %.0f s in all" % (r["workers"], r["seconds"]))
    log("streams phase: %d of %d streams accepted" % (r["streams_accepted"], r["streams_asked"]))
    log("dashboard streams opened during the soak: %d" % r["dashboard_streams_opened"])
    log("most MariaDB connections held by rfapi: %d (bound %d = %s; by phase %s; %d samples)"
        % (r["most_connections"], r["bound"], r["bound_formula"], r["most_by_phase"], r["samples"]))
    log("%-22s %9s %9s %9s" % ("route", "requests", "p50 ms", "p99 ms"))
    for t in r["routes"]:
        log("%-22s %9d %9.2f %9.2f" % (t["route"], t["requests"], t["p50_ms"], t["p99_ms"]))
    if r["non_2xx"]:
        log("non-2xx answers:")
        for e in r["non_2xx"]:
            log("  %4d x %d %s: %s" % (e["count"], e["status"], e["route"], e["message"]))
    else:
        log("non-2xx answers: none")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=180.0, help="length of the soak phase")
    ap.add_argument("--streams", type=int, default=250)
    ap.add_argument("--burst", type=int, default=300)
    ap.add_argument("--concurrency", type=int, default=48)
    ap.add_argument("--dashboards", type=int, default=100)
    ap.add_argument("--clients", type=int, default=48)
    a = ap.parse_args()
    dbworld.drop_stale_worlds()
    r = run(a.seconds, a.streams, a.burst, a.concurrency, a.dashboards, a.clients)
    report(r)
    out = Path("bench-results")
    out.mkdir(exist_ok=True)
    (out / "soak.json").write_text(json.dumps(r, indent=2))
    return 0 if r["server_errors"] == 0 and r["most_connections"] <= r["bound"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
