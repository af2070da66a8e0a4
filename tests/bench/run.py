"""The benchmark (issue 7): rfapi at PBX scale, each route measured against its physical limit.

    .venv/bin/python -m tests.bench.run [--quick | --tiny] [--out bench-results/latest.json]

One run: seed throwaway databases at scale (tests/bench/seed.py), start an AMI
peer (tests/bench/peer.py), start rfapi under gunicorn with the production
config (deploy/gunicorn.conf.py; only the bind address is overridden, through
its own RFAPI_BIND knob) and a bare Flask app under the same settings, then
measure each pair of the issue in the same run, print a table and write JSON.
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
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import json
import logging
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import MySQLdb
import MySQLdb.cursors

from tests.bench import load as L
from tests.bench import seed as S
from tests.bench.peer import FastPeer
from tests.bench.rawami import RawAmi
from tests.bench.sqlspy import SqlSpy
from tests.support import dbworld, office, world

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"
PREFIX = "/api/v1"
ADMIN = next(u for u in office.AMPUSERS if u["sections"] == "*")  # an ampusers login with ALL SECTIONS

# The /cdr shapes also measured against the best single query (issue 15).
SINGLE_QUERY_SHAPES = ("day", "day+src", "all")

TARGETS = {
    "cdr": 1.25,          # /cdr median <= 1.25 x raw SQL + encoding
    "extensions": 1.25,   # warm /extensions median <= 1.25 x cache read + encoding
    "ami": 1.5,           # /state, /registrations median <= 1.5 x one raw AMI round trip
    "test": 0.8,          # /test throughput >= 0.8 x bare Flask
    "test_db": 0.7,       # with an ampusers login >= 0.7 x bare Flask
}


def log(msg: str = "") -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """A gunicorn master started in its own session (so Ctrl-C reaches only us; we stop it)."""

    def __init__(self, app: str, name: str, logdir: Path, env: Dict[str, str]):
        self.app = app
        self.name = name
        self.port = free_port()
        self.logdir = logdir
        self.env = dict(os.environ, **env)
        self.proc: Optional[subprocess.Popen] = None
        self.settings = ""

    def start(self) -> "Gunicorn":
        cmd = [sys.executable, "-m", "gunicorn"]
        if GUNICORN_CONF.exists():
            # The production file, unchanged; its own knob sets the bind address.
            cmd += ["-c", str(GUNICORN_CONF)]
            self.env["RFAPI_BIND"] = "127.0.0.1:%d" % self.port
            self.settings = "deploy/gunicorn.conf.py (RFAPI_BIND=127.0.0.1:<port>)"
        else:
            cmd += ["--worker-class", "gthread", "--workers", "2", "--threads", "4", "--keep-alive", "5",
                    "--bind", "127.0.0.1:%d" % self.port]
            self.settings = "deploy/gunicorn.conf.py missing: gthread, 2 workers x 4 threads (as deploy/demo.sh)"
        cmd.append(self.app)
        out = open(self.logdir / ("%s.log" % self.name), "wb")
        self.proc = subprocess.Popen(cmd, cwd=str(REPO), env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        out.close()
        return self

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.log_tail()))
            try:
                c = L.Client(self.port, timeout=5)
                status, _, _ = c.request("GET", path)
                c.close()
                if status < 500 and len(self.workers()) >= 1:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError("%s did not answer within %.0f s:\n%s" % (self.name, timeout, self.log_tail()))

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = (self.logdir / ("%s.log" % self.name)).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def workers(self) -> List[int]:
        if self.proc is None:
            return []
        pid = self.proc.pid
        try:
            raw = Path("/proc/%d/task/%d/children" % (pid, pid)).read_text()
            return [int(x) for x in raw.split()]
        except OSError:
            out = []
            for d in Path("/proc").iterdir():
                if d.name.isdigit():
                    try:
                        if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                            out.append(int(d.name))
                    except (OSError, IndexError, ValueError):
                        pass
            return out

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()  # gunicorn: graceful stop of the workers
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(OSError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the session we created for it
            self.proc.wait(timeout=5)


def proc_status(pid: int) -> Dict[str, int]:
    out = {}
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


def reset_peak(pid: int) -> bool:
    try:
        Path("/proc/%d/clear_refs" % pid).write_text("5")  # 5 = reset the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------
# The world
# ---------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.scale = {"full": S.Scale.full, "quick": S.Scale.quick, "tiny": S.Scale.tiny}[args.size]()
        self.n = {"full": 60, "quick": 15, "tiny": 3}[args.size] if args.requests is None else args.requests
        self.seconds = {"full": 5.0, "quick": 3.0, "tiny": 1.0}[args.size] if args.duration is None \
            else args.duration
        self.cold_reps = {"full": 2, "quick": 3, "tiny": 1}[args.size]
        self.concurrency = [int(c) for c in args.concurrency.split(",")]
        self.root = Path(tempfile.mkdtemp(prefix="rfapi-bench-"))
        self.results: Dict[str, Any] = {"pairs": [], "throughput": [], "explain": [], "notes": [], "targets": []}
        self.world = None
        self.peer: Optional[FastPeer] = None
        self.servers: List[Gunicorn] = []
        self.spy: Optional[SqlSpy] = None
        self.capture_app = None
        self.seeded: Optional[S.Seeded] = None
        self.routes: set = set()
        self.profiles: Dict[str, str] = {}

    # -- setup ----------------------------------------------------------------
    def setup(self) -> None:
        t0 = time.monotonic()
        self.world = dbworld.create_world()
        self.results["world"] = {"config_db": self.world.config_db, "cdr_db": self.world.cdr_db}
        log("world: %s / %s" % (self.world.config_db, self.world.cdr_db))
        self.seeded = S.seed(self.scale, self.root, log=log, world=self.world)
        self.results["seeding"] = {
            "seconds": round(time.monotonic() - t0, 1), "timings": {k: round(v, 1) for k, v in
                                                                 self.seeded.timings.items()},
            "extensions": len(self.seeded.exts), "voicemail_boxes": sum(1 for e in self.seeded.exts if e["voicemail"]),
            "followme_groups": sum(1 for e in self.seeded.exts if e["followme"]), "dids": len(self.seeded.dids),
            "cdr_rows": self.seeded.cdr_count, "cdr_days": self.scale.days, "cdr_method": self.seeded.cdr_method,
            "hints": len(self.seeded.peer_state["hints"]),
            "contacts": sum(len(v) for v in self.seeded.peer_state["pjsip_contacts"].values()),
            "astdb_keys": len(self.seeded.peer_state["astdb"]),
        }
        log("seeding took %.1f s" % self.results["seeding"]["seconds"])

        self.peer = FastPeer(users={world.AMI_USER: world.AMI_SECRET})
        self.peer.login_fail_delay = 0.05
        self.peer.load_state(self.seeded.peer_state)
        self.peer.start()

        bindir = self.root / "bin"
        bindir.mkdir()
        fw = bindir / "fwconsole"
        shutil.copy2(REPO / "tests" / "support" / "fwconsole", fw)
        args = dbworld.server_args()
        (bindir / "fwconsole.control").write_text(json.dumps({
            "mode": "ok", "needreload_db": self.world.config_db, "db_host": args.get("host", "127.0.0.1"),
            "db_port": args.get("port", 3306), "db_user": args.get("user", "root")}))
        self.cache = self.root / "cache"
        self.cache.mkdir()
        spool, sounds = self.root / "spool" / "voicemail", self.root / "sounds"
        vmconf = self.root / "etc" / "asterisk" / "voicemail.conf"
        self.ini = self.root / "rfapi.ini"
        self.ini.write_text(self.ini_text(world.render_ini(self.world, self.peer, fw, spool, sounds, vmconf,
                                                           self.cache, self.root)))

        # The capture copy: same config, database through the wire tap, its own cache dir.
        self.spy = SqlSpy((args.get("host", "127.0.0.1"), int(args.get("port", 3306)))).start()
        cap_cache = self.root / "cache-capture"
        cap_cache.mkdir()
        text = self.ini_text(world.render_ini(self.world, self.peer, fw, spool, sounds, vmconf, cap_cache, self.root))
        text = text.replace("port = %s\n" % args.get("port", 3306), "port = %d\n" % self.spy.port, 1)
        (self.root / "rfapi-capture.ini").write_text(text)

        logdir = self.root / "logs"
        logdir.mkdir()
        self.api = Gunicorn("rfapi:create_app()", "rfapi", logdir, {"RFAPI_CONFIG": str(self.ini)}).start()
        self.bare = Gunicorn("tests.bench.bare_app:app", "bare", logdir, {}).start()
        self.servers = [self.api, self.bare]
        self.api.wait_ready(PREFIX + "/openapi.json")
        self.bare.wait_ready(PREFIX + "/test")
        self.results["gunicorn"] = self.api.settings
        log("gunicorn: %s; rfapi on :%d (workers %s), bare Flask on :%d"
            % (self.api.settings, self.api.port, self.api.workers(), self.bare.port))

        # The in-process copy imports rfapi now, at the moment the workers did, so both run the same code
        # even if rfapi/ is edited while the benchmark runs (that is detected and reported, see run()).
        self._capture_app()
        c = L.Client(self.api.port)
        status, doc, _ = c.json("GET", PREFIX + "/openapi.json")
        c.close()
        for path, methods in (doc.get("paths", {}) if isinstance(doc, dict) else {}).items():
            for m in methods:
                self.routes.add((m.upper(), path))

    def ini_text(self, text: str) -> str:
        """The test world's INI with production values where it deviates: the test world
        shortens the AMI timeout to 3 s; the benchmark keeps the config default (10 s)
        unless --ami-timeout says otherwise."""
        ami, rest = text.split("[ami]\n", 1)
        section, tail = rest.split("[fwconsole]\n", 1)
        section = re.sub(r"(?m)^timeout = .*\n", "", section)
        if self.args.ami_timeout is not None:
            section += "timeout = %s\n" % self.args.ami_timeout
        self.results["meta"]["ami_timeout_s"] = self.args.ami_timeout if self.args.ami_timeout is not None \
            else "10 (config default)"
        return ami + "[ami]\n" + section + "[fwconsole]\n" + tail

    def has(self, method: str, path: str) -> bool:
        return (method, path) in self.routes

    def auth(self, kind: str = "api") -> Dict[str, str]:
        if kind == "db":
            return world.basic(ADMIN["username"], ADMIN["password"])
        return world.basic(world.API_USER, world.API_PASSWORD)

    def client(self, kind: str = "api") -> L.Client:
        return L.Client(self.api.port, self.auth(kind))

    def _capture_app(self):
        if self.capture_app is None:
            from rfapi import create_app

            self.capture_app = create_app(str(self.root / "rfapi-capture.ini"))
            for name in ("rfapi", "rfapi.access"):
                logging.getLogger(name).setLevel(logging.WARNING)
        return self.capture_app

    def capture(self, method: str, path: str, data: Optional[dict] = None) -> Tuple[int, List[str], Any]:
        """Serve one request in-process through the wire tap: (status, SQL statements, body)."""
        tc = self._capture_app().test_client()
        call = getattr(tc, method.lower())
        call(path, headers=self.auth(), data=data)  # warm: connections, settings
        self.spy.clear()
        resp = call(path, headers=self.auth(), data=data)
        return resp.status_code, self.spy.statements, resp.get_json(silent=True)

    def close(self) -> None:
        for s in self.servers:
            with contextlib.suppress(Exception):
                s.stop()
        if self.capture_app is not None:
            with contextlib.suppress(Exception):
                self.capture_app.extensions["rfapi"].close()
        if self.spy is not None:
            self.spy.stop()
        if self.peer is not None:
            with contextlib.suppress(Exception):
                self.peer.stop()
        if self.world is not None:
            dbworld.drop_world(self.world)
            log("dropped %s / %s" % (self.world.config_db, self.world.cdr_db))
        if self.args.keep_logs:
            log("logs kept in %s" % (self.root / "logs"))
            for p in self.root.iterdir():
                if p.name != "logs":
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink()
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- helpers --------------------------------------------------------------
    def pair(self, name: str, target_key: Optional[str], api: Optional[List[float]], base: Optional[List[float]],
             baseline: str, status: str = "ok", extra: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        a, b = L.summary(api or []), L.summary(base or [])
        ratio = None
        if a["median_ms"] and b["median_ms"]:
            ratio = round(a["median_ms"] / b["median_ms"], 2)
        limit = TARGETS.get(target_key) if target_key else None
        row = {"name": name, "status": status, "api": a, "baseline": b, "baseline_is": baseline, "ratio": ratio,
               "target": ("<= %.2fx" % limit) if limit else None,
               "holds": (ratio <= limit) if (limit and ratio is not None and status == "ok") else None}
        row.update(extra or {})
        self.results["pairs"].append(row)
        return row

    def missing(self, name: str, route: str) -> None:
        self.pair(name, None, None, None, "", status="missing: %s" % route)
        log("  %-28s missing (%s not in openapi.json)" % (name, route))

    def interleaved(self, api_fn: Callable[[], float], base_fn: Optional[Callable[[], float]], n: int,
                    warmup: int = 2) -> Tuple[List[float], List[float]]:
        for _ in range(warmup):
            api_fn()
            if base_fn:
                base_fn()
        a, b = [], []
        for _ in range(n):
            a.append(api_fn())
            if base_fn:
                b.append(base_fn())
        return a, b

    @contextlib.contextmanager
    def profiled(self, name: str, server: Optional["Gunicorn"] = None):
        """py-spy over every worker of ``server`` (default: rfapi) while the block runs (--profile)."""
        server = server or self.api
        pyspy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if not self.args.profile or not pyspy:
            yield
            return
        out = self.root / "logs" / ("profile-%s.txt" % name)
        p = subprocess.Popen([pyspy, "record", "--subprocesses", "-r", "200", "-f", "raw", "-o",
                              str(out), "-p", str(server.proc.pid)], stdout=subprocess.DEVNULL,
                             stderr=open(self.root / "logs" / ("profile-%s.err" % name), "wb"))
        time.sleep(1.0)
        try:
            yield
        finally:
            p.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)
            if out.exists():
                self.profiles[name] = profile_summary(out)

    # -- sections -------------------------------------------------------------
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
        day = S._local_midnight(self.seeded.now) - min(180, self.scale.days // 2) * 86400
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
        """The limit of issue 15: the best single statement for this page, whatever rfapi sends —
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
        """Issue 15's baseline: one raw query returning the fields /extensions lists (users, their
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
        workers = self.api.workers()
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

    def section_live(self) -> None:
        log("\n== /state and /registrations vs one raw AMI event-list round trip")
        defaults = {"/state": [[("Action", "ExtensionStateList")]],
                    "/registrations": [[("Action", "PJSIPShowContacts")]]}
        raw = RawAmi(self.peer.host, self.peer.port, world.AMI_USER, world.AMI_SECRET)
        try:
            for route in ("/state", "/registrations"):
                name = "GET " + route
                if not self.has("GET", PREFIX + route):
                    self.missing(name, name)
                    continue
                api = self.client()
                for _ in range(2):  # warm: AMI login, settings
                    st, _, _ = api.request("GET", PREFIX + route)
                self.peer.clear_actions()
                st, body, _ = api.json("GET", PREFIX + route)
                sent = [a for a in self.peer.actions if a.name.lower() not in ("login", "logoff")]
                actions = [[(k, v) for k, v in a.headers if k.lower() != "actionid"] for a in sent] \
                    or defaults[route]
                if st != 200:
                    self.pair(name, "ami", None, None, "", status="error %s: %s"
                              % (st, body.get("message") if isinstance(body, dict) else ""))
                    continue
                data = body.get("data") if isinstance(body, dict) else None
                # Actions per request, counted on their own (the raw client's are not mixed in).
                k = max(3, self.n // 3)
                self.peer.clear_actions()
                for _ in range(k):
                    api.request("GET", PREFIX + route)
                got = [x for x in self.peer.actions if x.name.lower() not in ("login", "logoff")]
                api_actions = len(got) / k
                with self.profiled(route.strip("/")):
                    a, b = self.interleaved(lambda: api.request("GET", PREFIX + route)[2],
                                            lambda: raw.timed(actions)[0], self.n, warmup=1)
                names = sorted({x.name for x in got})
                row = self.pair(name, "ami", a, b, "raw socket: %s (send, read to EventList: Complete, parse)"
                                % " + ".join(dict(h)["Action"] for h in actions),
                                extra={"items": len(data) if isinstance(data, (list, dict)) else None,
                                       "ami_actions_per_request": round(api_actions, 2), "ami_action_names": names})
                if api_actions > 1.0001:
                    row["holds"] = False
                log_pair(row)
                log("  %-28s %.2f AMI action(s) per request (%s)" % ("", api_actions, ", ".join(names)))
                api.close()
        finally:
            raw.close()

    def section_writes(self) -> None:
        log("\n== POST /extension/add + DELETE /extension/<ext> round trips")
        if not (self.has("POST", PREFIX + "/extension/add") and self.has("DELETE", PREFIX + "/extension/{extension}")):
            self.missing("add+delete extension", "POST /extension/add or DELETE /extension/<ext>")
            return
        api = self.client()
        first = self.scale.first_extension + self.scale.extensions + 1000
        adds, dels, pairs, errors = [], [], [], []
        n = max(3, self.n // 2)
        self.peer.clear_actions()
        self.peer.clear_busy()
        with self.profiled("writes"):
            for i in range(n + 1):
                ext = str(first + i)
                form = {"extension": ext, "exttype": "pjsip", "displayname": "Bench Temp %s" % ext,
                        "secret": "BenchSecret-%s-0123456789" % ext, "voicemail": "yes",
                        "email": "temp%s@%s" % (ext, S.DOMAIN), "voicemailpassword": "4321", "followme": "yes"}
                t0 = time.perf_counter()
                st, body, el_add = api.json("POST", PREFIX + "/extension/add",
                                            body=urllib.parse.urlencode(form).encode(),
                                            headers={"Content-Type": "application/x-www-form-urlencoded"})
                st2, body2, el_del = api.json("DELETE", PREFIX + "/extension/" + ext + "?deletevoicemail=1")
                total = time.perf_counter() - t0
                if st != 201 or st2 != 200:
                    errors.append({"extension": ext,
                                   "add": [st, body.get("message") if isinstance(body, dict) else None],
                                   "delete": [st2, body2.get("message") if isinstance(body2, dict) else None]})
                    if len(errors) >= 2:
                        break
                    continue
                if i == 0:
                    continue  # warm-up
                adds.append(el_add)
                dels.append(el_del)
                pairs.append(total)
        rounds = len(pairs) + 1 if pairs else 0  # the warm-up pair is included in the peer's counts
        busy = dict(self.peer.busy)
        res = {"pairs": len(pairs), "add": L.summary(adds), "delete": L.summary(dels),
               "round_trips_per_s": round(len(pairs) / sum(pairs), 2) if pairs else None, "errors": errors[:3],
               "ami_actions_per_round_trip": round(sum(c for c, _ in busy.values()) / rounds, 1) if rounds else None,
               "ami_peer_ms_per_round_trip": round(1000 * sum(t for _, t in busy.values()) / rounds, 1)
               if rounds else None,
               "ami_actions": {k: {"count": c, "peer_ms": round(t * 1000, 1)} for k, (c, t) in sorted(busy.items())}}
        self.results["writes"] = res
        if pairs:
            log("  %d pairs: %.2f add+delete round trips/s; add median %.0f ms (p95 %.0f), delete median %.0f ms "
                "(p95 %.0f)" % (len(pairs), res["round_trips_per_s"], res["add"]["median_ms"], res["add"]["p95_ms"],
                                res["delete"]["median_ms"], res["delete"]["p95_ms"]))
        if rounds:
            log("  per round trip: %s AMI actions, %s ms of them spent in the AMI peer answering (%s)"
                % (res["ami_actions_per_round_trip"], res["ami_peer_ms_per_round_trip"],
                   ", ".join("%s x%d" % (k, v["count"]) for k, v in res["ami_actions"].items())))
        if errors:
            log("  errors: %s" % errors[:3])
        api.close()

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

    # -- all --------------------------------------------------------------------
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


IDLE_LEAVES = {"Condition.wait", "_worker", "EpollSelector.select", "PollSelector.select", "select",
               "Arbiter.wait_for_signals", "SocketIO.readinto", "Event.wait", "Thread._wait_for_tstate_lock",
               "Queue.get", "sleep", "Arbiter.sleep"}


def profile_summary(path: Path, top: int = 25) -> str:
    """Top functions by self and by inclusive CPU samples, from py-spy's raw (collapsed) output."""
    self_count: Dict[str, int] = {}
    incl: Dict[str, int] = {}
    total = idle = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        n_i = int(n)
        # "func (file:line)" -> "func (file)": one entry per function, repo-relative paths.
        frames = [re.sub(r":\d+\)$", ")", f).replace(str(REPO) + "/", "") for f in stack.split(";")
                  if f and not f.startswith("process ")]
        if not frames or frames[-1].split(" ")[0] in IDLE_LEAVES:
            idle += n_i  # a thread parked in a wait/select/recv: not CPU work
            continue
        total += n_i
        self_count[frames[-1]] = self_count.get(frames[-1], 0) + n_i
        for f in set(frames):
            incl[f] = incl.get(f, 0) + n_i
    if not total:
        return "no samples"
    lines = ["%d busy samples at 200 Hz, all rfapi workers (%d more in waits: I/O, locks, idle threads)"
             % (total, idle), "self:"]
    lines += ["  %5.1f%% %s" % (100.0 * c / total, f) for f, c in sorted(self_count.items(), key=lambda x: -x[1])[:top]]
    lines += ["inclusive (rfapi/, flask, werkzeug, MySQLdb, asterisk frames):"]
    lines += ["  %5.1f%% %s" % (100.0 * c / total, f) for f, c in sorted(incl.items(), key=lambda x: -x[1])
              if any(k in f for k in ("rfapi/", "flask", "werkzeug", "MySQLdb", "asterisk", "json"))][:top]
    return "\n".join(lines)


def evaluate(results: Dict[str, Any]) -> List[Dict[str, Any]]:
    out = []
    for p in results["pairs"]:
        out.append({"what": p["name"], "value": p.get("ratio"), "target": p.get("target"), "holds": p.get("holds"),
                    "status": p["status"]})
    for t in results["throughput"]:
        if "name" in t:
            out.append({"what": t["name"], "value": t["ratio"], "target": t["target"], "holds": t["holds"],
                        "status": "ok"})
    ed = results.get("extdump")
    if ed:
        bounded = ed["sql_statements"] < 50
        out.append({"what": "GET /extdump SQL statements", "value": ed["sql_statements"],
                    "target": "bounded (not one per extension)", "holds": bounded, "status": "ok"})
        out.append({"what": "GET /extdump worker peak RSS MB", "value": ed["worker_peak_rss_mb"],
                    "target": "bounded (reported)", "holds": None, "status": "ok"})
    return out


def source_hash() -> str:
    """Digest of every file under rfapi/ and deploy/ (detects edits made during a run)."""
    import hashlib

    h = hashlib.sha1()
    for base in ("rfapi", "deploy"):
        for p in sorted((REPO / base).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(REPO)).encode())
                with contextlib.suppress(OSError):
                    h.update(p.read_bytes())
    return h.hexdigest()


def machine_facts() -> Dict[str, Any]:
    facts: Dict[str, Any] = {"date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                             "cpus": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform(), "loadavg_start": os.getloadavg()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["mem_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(Exception):
        import gunicorn

        facts["gunicorn"] = gunicorn.__version__
    with contextlib.suppress(Exception):
        conn = dbworld.connect(autocommit=True)
        cur = conn.cursor()
        cur.execute("SELECT VERSION(), @@innodb_buffer_pool_size")
        v, bp = cur.fetchone()
        facts["mariadb"] = v
        facts["innodb_buffer_pool_mb"] = int(bp) // (1024 * 1024)
        conn.close()
    with contextlib.suppress(Exception):
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(REPO), capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "rfapi", "deploy"], cwd=str(REPO),
                               capture_output=True, text=True).stdout.strip()
        facts["git"] = rev + (" + uncommitted changes in rfapi/ or deploy/" if dirty else "")
    return facts


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

def _ms(v) -> str:
    return "-" if v is None else ("%.2f" % v if v < 10 else "%.1f" % v if v < 1000 else "%.0f" % v)


def log_pair(row: Dict[str, Any]) -> None:
    a, b = row["api"], row["baseline"]
    log("  %-28s api median %8s ms p95 %8s  |  baseline median %8s ms p95 %8s  |  ratio %5s  %s"
        % (row["name"], _ms(a["median_ms"]), _ms(a["p95_ms"]), _ms(b["median_ms"]), _ms(b["p95_ms"]),
           row["ratio"], verdict(row.get("holds"))))


def verdict(holds: Optional[bool]) -> str:
    return "ok" if holds else ("MISSED" if holds is False else "-")


def table(results: Dict[str, Any]) -> str:
    m = results["meta"]
    lines = []
    lines.append("rfapi benchmark %s  (%s)" % (m.get("date"), m.get("size")))
    lines.append("machine: %s CPU(s) %s, %s GB RAM, %s, MariaDB %s (buffer pool %s MB), Python %s, gunicorn %s"
                 % (m.get("cpus"), m.get("cpu", "?"), m.get("mem_gb"), m.get("platform"), m.get("mariadb"),
                    m.get("innodb_buffer_pool_mb"), m.get("python"), m.get("gunicorn")))
    lines.append("load average at start %s, at end %s (shared machine); code: %s"
                 % (" ".join("%.2f" % x for x in m.get("loadavg_start", ())),
                    " ".join("%.2f" % x for x in m.get("loadavg_end", ())), m.get("git")))
    sd = results.get("seeding", {})
    lines.append("data: %s extensions (%s with voicemail, %s follow-me), %s DIDs, %s CDR rows over %s days, "
                 "%s hints, %s contacts, %s AstDB keys; seeding %s s (CDR: %s)"
                 % (sd.get("extensions"), sd.get("voicemail_boxes"), sd.get("followme_groups"), sd.get("dids"),
                    sd.get("cdr_rows"), sd.get("cdr_days"), sd.get("hints"), sd.get("contacts"), sd.get("astdb_keys"),
                    sd.get("seconds"), sd.get("cdr_method")))
    lines.append("server: %s; load: %s; latency: %s sequential keep-alive requests per series, API and "
                 "baseline alternating" % (results.get("gunicorn"), m.get("load_tool"), m.get("requests_per_latency_series")))
    lines.append("")
    hdr = "%-30s %9s %9s %8s | %9s %9s %8s | %6s %9s %s" % ("latency pair", "api p50", "api p95", "api r/s",
                                                              "base p50", "base p95", "base r/s", "ratio", "target",
                                                              "")
    lines.append(hdr)
    lines.append("-" * len(hdr))
    for p in results["pairs"]:
        if p["status"] != "ok":
            lines.append("%-30s %s" % (p["name"], p["status"]))
            continue
        a, b = p["api"], p["baseline"]
        lines.append("%-30s %9s %9s %8s | %9s %9s %8s | %6s %9s %s"
                     % (p["name"], _ms(a["median_ms"]), _ms(a["p95_ms"]), _ms(a["rps"]), _ms(b["median_ms"]),
                        _ms(b["p95_ms"]), _ms(b["rps"]), p["ratio"] if p["ratio"] is not None else "-",
                        p["target"] or "", verdict(p["holds"])))
    lines.append("(ms; r/s = sequential requests per second; baselines: %s)"
                 % "; ".join(sorted({"%s: %s" % (p["name"].split(" ")[1], p["baseline_is"]) for p in results["pairs"]
                                     if p["status"] == "ok" and p["baseline_is"]})))
    ex = results["explain"]
    if ex:
        lines.append("")
        lines.append("EXPLAIN of the /cdr statements (captured on the wire; rows = the optimizer's estimate, before LIMIT):")
        by_name = {p["name"]: p for p in results["pairs"]}
        for e in ex:
            p = by_name.get(e["query"], {})
            lines.append("  %s: %d statements (%s); answered %s rows, the SELECTs returned %s rows"
                         % (e["query"], len(e["statements"]),
                            ", ".join(x.split()[0].upper() for x in e["statements"]), p.get("rows"),
                            p.get("sql_rows_returned")))
            for x in e["explain"]:
                for pl in x["plan"]:
                    lines.append("    %-10s type=%-6s key=%-9s rows=%-8s %s %s"
                                 % (e["query"][9:], pl.get("type"), pl.get("key"), pl.get("rows"),
                                    pl.get("Extra") or "", "" if x["uses_index"] else "  <-- NO INDEX"))
    ec = results.get("extensions_cold")
    if ec:
        rr = ec["reload_route"]
        lines.append("")
        lines.append("/extensions cold: POST /cache/extensions action=reload median %s ms; GET with the cache file "
                     "removed median %s ms" % (_ms(rr["median_ms"]) if isinstance(rr, dict) else rr,
                                               _ms(ec["get_after_removing_cache_file"]["median_ms"])))
    ed = results.get("extdump")
    if ed:
        lines.append("/extdump: %s extensions, %.1f MB JSON, median %s ms (p95 %s); %d SQL statements; %s AMI "
                     "actions; worker peak RSS %s MB (%s MB before the requests)"
                     % (ed["extensions"], (ed["bytes"] or 0) / 1e6, _ms(ed["time"]["median_ms"]),
                        _ms(ed["time"]["p95_ms"]), ed["sql_statements"], ed["ami_actions_per_request"],
                        ed["worker_peak_rss_mb"], ed["worker_rss_before_mb"]))
    for p in results["pairs"]:
        if "ami_actions_per_request" in p:
            lines.append("%s: %s AMI action(s) per request (%s)" % (p["name"], p["ami_actions_per_request"],
                                                                   ", ".join(p["ami_action_names"])))
    w = results.get("writes")
    if w:
        lines.append("add+delete extension: %s round trips/s over %d pairs; add median %s ms (p95 %s), delete "
                     "median %s ms (p95 %s)%s" % (w["round_trips_per_s"], w["pairs"], _ms(w["add"]["median_ms"]),
                                                  _ms(w["add"]["p95_ms"]), _ms(w["delete"]["median_ms"]),
                                                  _ms(w["delete"]["p95_ms"]),
                                                  ("; errors: %s" % w["errors"]) if w["errors"] else ""))
        if w.get("ami_actions_per_round_trip"):
            lines.append("  per round trip %s AMI actions; the AMI peer spent %s ms answering them"
                         % (w["ami_actions_per_round_trip"], w["ami_peer_ms_per_round_trip"]))
    if results["throughput"]:
        lines.append("")
        hdr = "%-34s %9s %8s %8s | %9s | %6s %8s" % ("throughput", "api r/s", "p50 ms", "p95 ms", "bare r/s",
                                                     "ratio", "target")
        lines.append(hdr)
        lines.append("-" * len(hdr))
        for t in results["throughput"]:
            if "name" not in t:
                lines.append("%-34s %s" % ("GET /test " + t["login"], t["status"]))
                continue
            lines.append("%-34s %9.0f %8s %8s | %9.0f | %6s %8s %s%s"
                         % (t["name"], t["api"]["rps"] or 0, _ms(t["api"]["p50_ms"]), _ms(t["api"]["p95_ms"]),
                            t["bare"]["rps"] or 0, t["ratio"], t["target"], verdict(t["holds"]),
                            "  (%d non-2xx)" % t["api"]["non_2xx"] if t["api"]["non_2xx"] else ""))
    if results["notes"]:
        lines.append("")
        lines += ["note: " + n for n in results["notes"]]
    lines.append("")
    lines.append("total run time %s s" % m.get("seconds_total"))
    return "\n".join(lines)


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
