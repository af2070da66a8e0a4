"""A private MariaDB server for fault tests (and the API under a real gunicorn
pointed at it): its own data directory, unix socket
and TCP port on 127.0.0.1, started, stopped and restarted by the test itself.

The shared server on :3306 is never touched (other tests and engineers use it);
stopping *this* one is how a test makes "the PBX database went away" real:
connection refused, a dropped connection mid-query, then a server that comes
back on the same port with the same data.

* ``install`` runs ``mariadb-install-db`` once into the data directory (real
  system tables and grants: root@localhost over the socket, no password).
* rfapi gets its own least-privilege account, ``rfapi``@``127.0.0.1`` with a
  password and rights on ``rfapi\\_%`` databases only, like FreePBX's
  ``freepbxuser`` (no --skip-grant-tables: login and grants are real).
* ``create_office_world`` loads the reference schema and the fixture office,
  exactly as ``dbworld``/``world.load_office`` do on the shared server.
* The server runs in its own session; ``close()`` (also called at interpreter
  exit) stops it, SIGKILL after a grace period, and removes nothing it did not
  create.

The API under a real gunicorn with N workers is ``tests.support.procs.Gunicorn``.
"""
from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

import MySQLdb

from . import dbworld, office, sqlscript, world
from .procs import free_port

MARIADBD = shutil.which("mariadbd", path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/libexec") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db", path=os.environ.get("PATH", "") + ":/usr/bin:/usr/sbin") \
    or "/usr/bin/mariadb-install-db"
APP_USER = "rfapi"

_live: List["MariaDBInstance"] = []


class MariaDBInstance:
    # Small and fast: this server holds two tiny databases for a few seconds.
    SERVER_OPTIONS = ("--skip-name-resolve", "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M",
                      "--max-connections=200", "--skip-log-bin", "--character-set-server=utf8mb4",
                      "--collation-server=utf8mb4_general_ci")

    def __init__(self, root: Path, port: Optional[int] = None):
        self.root = Path(root)
        self.datadir = self.root / "data"
        self.socket = str(self.root / "mysqld.sock")
        self.pidfile = str(self.root / "mysqld.pid")
        self.errlog = self.root / "error.log"
        self.port = port or free_port()
        self.app_password = "rfapi-" + secrets.token_hex(8)
        self.proc: Optional[subprocess.Popen] = None
        self.starts = 0

    # -- lifecycle ------------------------------------------------------------------------
    def install(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        if (self.datadir / "mysql").is_dir():
            return
        out = subprocess.run([INSTALL_DB, "--no-defaults", "--datadir=%s" % self.datadir, "--user=root",
                              "--auth-root-authentication-method=normal", "--skip-test-db"]
                             + list(self.SERVER_OPTIONS),
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        if out.returncode != 0:
            raise RuntimeError("mariadb-install-db failed (%d): %s" % (out.returncode, out.stdout[-2000:]))

    def start(self, wait: float = 30.0) -> "MariaDBInstance":
        if self.running:
            return self
        self.install()
        log = open(self.errlog, "ab")
        try:
            self.proc = subprocess.Popen(
                [MARIADBD, "--no-defaults", "--datadir=%s" % self.datadir, "--socket=%s" % self.socket,
                 "--port=%d" % self.port, "--bind-address=127.0.0.1", "--pid-file=%s" % self.pidfile,
                 "--user=root"] + list(self.SERVER_OPTIONS),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        finally:
            log.close()
        if self not in _live:
            _live.append(self)
        self.starts += 1
        self.wait_ready(wait)
        return self

    def wait_ready(self, wait: float = 30.0) -> float:
        """Block until the server answers over TCP as the app user (or root before the
        user exists); return the time it took."""
        t0 = time.monotonic()
        deadline = t0 + wait
        while True:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("mariadbd exited with %s; log tail:\n%s" % (self.proc.returncode, self.log_tail()))
            try:
                conn = self.connect()
                conn.close()
                return time.monotonic() - t0
            except MySQLdb.Error:
                if time.monotonic() > deadline:
                    raise RuntimeError("mariadbd did not come up in %.0f s; log tail:\n%s" % (wait, self.log_tail()))
                time.sleep(0.02)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> Optional[int]:
        return self.proc.pid if self.running else None

    def stop(self, timeout: float = 30.0) -> None:
        """Graceful shutdown (SIGTERM, what `systemctl stop mariadb` sends); SIGKILL if it hangs."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """Crash it (SIGKILL): connections die without a goodbye."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        try:
            self.stop(timeout=15)
        finally:
            if self in _live:
                _live.remove(self)

    def log_tail(self, n: int = 15) -> str:
        try:
            return "\n".join(self.errlog.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> "MariaDBInstance":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    # -- connections ------------------------------------------------------------------------
    def connect(self, db: Optional[str] = None):
        """root over the unix socket (autocommit)."""
        args = dict(unix_socket=self.socket, user="root", passwd="", charset="utf8mb4", connect_timeout=2)
        if db:
            args["db"] = db
        conn = MySQLdb.connect(**args)
        conn.autocommit(True)
        return conn

    def app_args(self) -> Dict[str, object]:
        """How rfapi reaches this server: TCP, its own user."""
        return {"host": "127.0.0.1", "port": self.port, "user": APP_USER, "password": self.app_password}

    def create_app_user(self) -> None:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute("CREATE USER IF NOT EXISTS %s@'127.0.0.1' IDENTIFIED BY %s", (APP_USER, self.app_password))
            cur.execute("GRANT ALL PRIVILEGES ON `rfapi\\_%%`.* TO %s@'127.0.0.1'", (APP_USER,))
        finally:
            conn.close()

    # -- the office ----------------------------------------------------------------------------
    def create_office_world(self) -> dbworld.World:
        """The reference schema + the fixture office in two fresh rfapi_t* databases."""
        tag = secrets.token_hex(4)
        w = dbworld.World(config_db="rfapi_t%s_asterisk" % tag, cdr_db="rfapi_t%s_cdr" % tag, tag=tag)
        conn = self.connect()
        try:
            cur = conn.cursor()
            for filename, target in ((dbworld.CONFIG_SCHEMA_FILE, w.config_db), (dbworld.CDR_SCHEMA_FILE, w.cdr_db)):
                text = dbworld.schema_path(filename).read_text(encoding="utf-8")
                for stmt in sqlscript.adapt_statements(sqlscript.split_sql(text), dbworld.SOURCE_DB[filename], target):
                    cur.execute(stmt)
        finally:
            conn.close()
        cfg, cdr = self.connect(w.config_db), self.connect(w.cdr_db)
        try:
            office.load(cfg, cdr, now=world.office_now())
        finally:
            cfg.close()
            cdr.close()
        self.create_app_user()
        return w


def point_ini_at(ini: Path, host: str, port: int, user: str, password: str, extra: str = "") -> None:
    """Rewrite the [database] connection keys of an rfapi.ini built by world.build."""
    text = ini.read_text()
    head, sep, rest = text.partition("[database]\n")
    body, nxt, tail = rest.partition("\n[")
    lines = []
    for line in body.splitlines():
        key = line.split("=", 1)[0].strip()
        if key in ("host", "port", "user", "password", "socket"):
            continue
        lines.append(line)
    lines = ["host = %s" % host, "port = %s" % port, "user = %s" % user, "password = %s" % password] + lines
    if extra:
        lines.append(extra.rstrip("\n"))
    ini.write_text(head + sep + "\n".join(lines) + nxt + tail)
    assert re.search(r"^port = %s$" % port, ini.read_text(), re.M)


@atexit.register
def _stop_all() -> None:
    for inst in list(_live):
        try:
            inst.close()
        except Exception:
            pass
