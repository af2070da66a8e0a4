"""Processes and ports the tests and benchmarks start: one free-port helper and one
gunicorn runner for everyone, so every suite serves the app the same way.

``Gunicorn`` runs a gunicorn master in its own session (Ctrl-C and the test's own
signals reach only the test; ``stop()`` ends the master and, if it hangs, its
whole session). Two ways to configure it:

* ``workers=None`` (benchmarks): the production ``deploy/gunicorn.conf.py``
  unchanged, the bind address set through its own ``RFAPI_BIND`` knob, so the
  numbers are those of the deployed settings.
* ``workers=N`` (fault and concurrency tests): a small config file of its own
  with N gthread workers, so a test controls how many real worker processes
  (no shared memory, one DB/AMI connection set each, cross-process locks) it gets.
"""
from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (the kernel's pick for port 0)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Gunicorn:
    """``gunicorn <app>`` on a free loopback port, logging to ``<logdir>/<name>.log``.

    ``start()`` launches it, ``wait_ready()`` waits until it answers and its workers
    exist, ``stop()`` ends it. ``ini`` sets RFAPI_CONFIG (rfapi's config file)."""

    def __init__(self, logdir: Path, app: str = "rfapi:create_app()", name: str = "gunicorn",
                 ini: Optional[Path] = None, env: Optional[Dict[str, str]] = None,
                 workers: Optional[int] = None, threads: int = 4):
        self.app = app
        self.name = name
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.logdir = Path(logdir)
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.log = self.logdir / ("%s.log" % name)
        self.env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
        if ini is not None:
            self.env["RFAPI_CONFIG"] = str(ini)
        self.workers = workers
        self.threads = threads
        self.proc: Optional[subprocess.Popen] = None
        self.settings = ""

    def start(self) -> "Gunicorn":
        cmd = [sys.executable, "-m", "gunicorn"]
        if self.workers is not None:
            conf = self.logdir / ("%s.conf.py" % self.name)
            # control_socket_disable: gunicorn >= 25.1 would open ~/.gunicorn/gunicorn.ctl,
            # shared with every other instance of the user; older versions ignore it.
            conf.write_text("bind = ['127.0.0.1:%d']\nworkers = %d\nthreads = %d\nworker_class = 'gthread'\n"
                            "timeout = 60\ngraceful_timeout = 5\naccesslog = None\nerrorlog = '-'\n"
                            "control_socket_disable = True\n" % (self.port, self.workers, self.threads))
            cmd += ["-c", str(conf)]
            self.settings = "own config: gthread, %d workers x %d threads" % (self.workers, self.threads)
        elif GUNICORN_CONF.exists():
            # The production file, unchanged; its own knob sets the bind address.
            cmd += ["-c", str(GUNICORN_CONF)]
            self.env["RFAPI_BIND"] = "127.0.0.1:%d" % self.port
            self.settings = "deploy/gunicorn.conf.py (RFAPI_BIND=127.0.0.1:<port>)"
        else:
            cmd += ["--worker-class", "gthread", "--workers", "2", "--threads", "4", "--keep-alive", "5",
                    "--bind", "127.0.0.1:%d" % self.port]
            self.settings = "deploy/gunicorn.conf.py missing: gthread, 2 workers x 4 threads (as deploy/demo.sh)"
        cmd.append(self.app)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(cmd, cwd=str(REPO), env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def wait_ready(self, path: str = "/api/v1/openapi.json", timeout: float = 60.0) -> "Gunicorn":
        """Until ``GET path`` answers below 500 and every worker (at least one) is up."""
        want = self.workers or 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %s:\n%s" % (self.name, self.proc.returncode, self.log_tail()))
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                try:
                    c.request("GET", path)
                    status = c.getresponse().status
                finally:
                    c.close()
                if status < 500 and len(self.worker_pids()) >= want:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("%s did not answer within %.0f s:\n%s" % (self.name, timeout, self.log_tail()))

    def worker_pids(self) -> List[int]:
        """PIDs of the master's live children (the workers), from /proc."""
        if self.proc is None:
            return []
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == self.proc.pid and fields[0] != "Z":
                out.append(int(entry))
        return sorted(out)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

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
