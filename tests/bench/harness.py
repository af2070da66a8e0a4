"""The benchmark's world and its measuring tools: seeded throwaway databases, the
AMI peer, rfapi and a bare Flask app under gunicorn, an in-process copy of the
app behind the SQL wire tap; and the helpers every section uses (paired,
interleaved samples; a "missing" row for a route that does not exist; py-spy
profiles). Everything it creates is removed by ``close()``."""
from __future__ import annotations

import contextlib
import json
import logging
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from tests.bench import load as L
from tests.bench import seed as S
from tests.bench.peer import FastPeer
from tests.bench.report import log, profile_summary
from tests.bench.sqlspy import SqlSpy
from tests.support import dbworld, office, world
from tests.support.procs import Gunicorn

REPO = Path(__file__).resolve().parents[2]
PREFIX = "/api/v1"
ADMIN = next(u for u in office.AMPUSERS if u["sections"] == "*")  # an ampusers login with ALL SECTIONS

TARGETS = {
    "cdr": 1.25,          # /cdr median <= 1.25 x raw SQL + encoding
    "extensions": 1.25,   # warm /extensions median <= 1.25 x cache read + encoding
    "ami": 1.5,           # /state, /registrations median <= 1.5 x one raw AMI round trip
    "test": 0.8,          # /test throughput >= 0.8 x bare Flask
    "test_db": 0.7,       # with an ampusers login >= 0.7 x bare Flask
}


class Harness:
    """Set-up, tear-down and the measuring helpers (the sections are mixins on top)."""

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
        self.api = Gunicorn(logdir, name="rfapi", ini=self.ini).start()
        self.bare = Gunicorn(logdir, app="tests.bench.bare_app:app", name="bare").start()
        self.servers = [self.api, self.bare]
        self.api.wait_ready(PREFIX + "/openapi.json")
        self.bare.wait_ready(PREFIX + "/test")
        self.results["gunicorn"] = self.api.settings
        log("gunicorn: %s; rfapi on :%d (workers %s), bare Flask on :%d"
            % (self.api.settings, self.api.port, self.api.worker_pids(), self.bare.port))

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
