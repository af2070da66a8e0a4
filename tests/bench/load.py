"""Load generation and statistics.

* Latency: one Python thread with an ``http.client`` keep-alive connection,
  requests one after another (the client is idle while the server works, so
  it is not the bottleneck). Requests/s of a latency series = 1 / mean.
* Throughput at a concurrency: ``wrk`` (C, epoll; Debian package ``wrk``) when it
  is installed, else ``python_load``: one process per 4 connections, each
  connection a thread with its own keep-alive http.client connection, summed.
"""
from __future__ import annotations

import http.client
import json
import math
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

WRK_LUA = r"""
done = function(summary, latency, requests)
  io.write(string.format("BENCH p50_us=%d p95_us=%d p99_us=%d requests=%d\n",
    latency:percentile(50), latency:percentile(95), latency:percentile(99), summary.requests))
end
"""


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100]: the smallest sample with at least p % of the samples at or below it."""
    s = sorted(values)
    if not s:
        return float("nan")
    return s[max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))]


def summary(samples: Sequence[float]) -> Dict[str, Any]:
    """median/p95/mean in ms, sequential requests/s (1 / mean) and the samples themselves (seconds)."""
    if not samples:
        return {"n": 0, "median_ms": None, "p95_ms": None, "mean_ms": None, "rps": None, "samples_ms": []}
    mean = sum(samples) / len(samples)
    return {"n": len(samples), "median_ms": round(statistics.median(samples) * 1000, 3),
            "p95_ms": round(percentile(samples, 95) * 1000, 3), "mean_ms": round(mean * 1000, 3),
            "rps": round(1.0 / mean, 2) if mean > 0 else None,
            "samples_ms": [round(x * 1000, 3) for x in samples]}


class Client:
    """A keep-alive HTTP/1.1 client for one server (reconnects when the server closed the connection)."""

    def __init__(self, port: int, headers: Optional[Dict[str, str]] = None, timeout: float = 120.0):
        self.port = port
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.conn: Optional[http.client.HTTPConnection] = None

    def _connection(self) -> http.client.HTTPConnection:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        return self.conn

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[Dict[str, str]] = None) -> Tuple[int, bytes, float]:
        """(status, body, seconds from sending to the last byte read)."""
        h = dict(self.headers)
        h.update(headers or {})
        for attempt in (0, 1):
            conn = self._connection()
            try:
                t0 = time.perf_counter()
                conn.request(method, path, body=body, headers=h)
                resp = conn.getresponse()
                data = resp.read()
                elapsed = time.perf_counter() - t0
                if resp.getheader("Connection", "").lower() == "close":
                    self.close()
                return resp.status, data, elapsed
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError,
                    http.client.CannotSendRequest, http.client.BadStatusLine):
                # gunicorn closes idle keep-alive connections after `keepalive` s: retry once on a new one.
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def json(self, method: str, path: str, **kw) -> Tuple[int, Any, float]:
        status, data, elapsed = self.request(method, path, **kw)
        try:
            return status, json.loads(data), elapsed
        except ValueError:
            return status, data, elapsed

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# ---------------------------------------------------------------------------
# Throughput
# ---------------------------------------------------------------------------

def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk(port: int, path: str, connections: int, seconds: float, headers: Dict[str, str]) -> Dict[str, Any]:
    threads = max(1, min(2, connections))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as fh:
        fh.write(WRK_LUA)
        lua = fh.name
    try:
        cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % max(1, int(round(seconds))),
               "--timeout", "10s", "-s", lua]
        for k, v in headers.items():
            cmd += ["-H", "%s: %s" % (k, v)]
        cmd.append("http://127.0.0.1:%d%s" % (port, path))
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60).stdout
    finally:
        os.unlink(lua)
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    b = re.search(r"BENCH p50_us=(\d+) p95_us=(\d+) p99_us=(\d+) requests=(\d+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "tool": "wrk", "connections": connections, "threads": threads,
        "rps": float(m.group(1)) if m else None,
        "p50_ms": int(b.group(1)) / 1000.0 if b else None, "p95_ms": int(b.group(2)) / 1000.0 if b else None,
        "requests": int(b.group(4)) if b else None,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
    }


def _py_worker(port, path, headers, conns, seconds, start_at, q):
    results: List[Tuple[int, List[float]]] = []
    lock = threading.Lock()

    def one():
        c = Client(port, headers, timeout=10)
        lat: List[float] = []
        bad = 0
        while time.monotonic() < start_at:
            time.sleep(0.001)
        end = start_at + seconds
        while time.monotonic() < end:
            try:
                status, _, el = c.request("GET", path)
            except OSError:
                bad += 1
                continue
            lat.append(el)
            if status >= 300:
                bad += 1
        with lock:
            results.append((bad, lat))

    ts = [threading.Thread(target=one) for _ in range(conns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put(results)


def python_load(port: int, path: str, connections: int, seconds: float, headers: Dict[str, str]) -> Dict[str, Any]:
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    per = 4
    procs = []
    start_at = time.monotonic() + 0.5
    left = connections
    while left > 0:
        n = min(per, left)
        left -= n
        p = ctx.Process(target=_py_worker, args=(port, path, headers, n, seconds, start_at, q))
        p.start()
        procs.append(p)
    lat: List[float] = []
    bad = 0
    for _ in procs:
        for b, l in q.get(timeout=seconds + 60):
            bad += b
            lat.extend(l)
    for p in procs:
        p.join()
    return {"tool": "python (%d processes x <=%d keep-alive connections)" % (len(procs), per),
            "connections": connections, "threads": connections, "rps": round(len(lat) / seconds, 2),
            "p50_ms": round(percentile(lat, 50) * 1000, 3) if lat else None,
            "p95_ms": round(percentile(lat, 95) * 1000, 3) if lat else None,
            "requests": len(lat), "non_2xx": bad, "socket_errors": 0}


def throughput(port: int, path: str, connections: int, seconds: float, headers: Dict[str, str]) -> Dict[str, Any]:
    if have_wrk():
        return wrk(port, path, connections, seconds, headers)
    return python_load(port, path, connections, seconds, headers)
