"""Faults under load, against real processes:

* MariaDB (a private server this module starts on its own port/socket, see
  tests/support/mariadb_instance.py) stopped or crashed while 2 gunicorn
  workers serve: 503 during the outage, every request answered again within
  2 s of the server accepting connections, the same worker PIDs throughout,
  and routes that need no database unaffected.
* The AMI peer (its own process here) killed with SIGKILL and started again
  on the same port: AMI routes 503, then recover; database routes unaffected.
* voicemail.conf that cannot be written even by root: ``chattr +i`` on the
  file (the temp file is written, the rename over the immutable file fails
  with EPERM) and on its directory (the temp file cannot be created). Plain
  chmod does not stop root; the immutable flag does. The answer is a clear
  500 and nothing is half-written: no SQL row, no AstDB key, the file's bytes
  unchanged, no temp file left.

(fwconsole hanging -> 504 with its process group killed: tests/test_reload.py.)

Measured recovery times are printed (pytest -s) as ``recovery:`` lines.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import List, Tuple

import pytest
import requests

from rfapi.adapters.ami import AMI
from tests.support import office, world
from tests.support.mariadb_instance import MariaDBInstance, point_ini_at
from tests.support.procs import REPO, Gunicorn, free_port

RECOVERY_BUDGET = 2.0  # seconds, from the database/AMI accepting connections again


class PeerProcess:
    """The AMI peer as its own process (``python -m tests.support.amipeer``), seeded
    with the office, so it can be SIGKILLed like a crashed Asterisk."""

    def __init__(self, root, port):
        self.port = port
        self.seed = root / "ami-seed.json"
        state = dict(office.ami_state(), astdb=office.astdb())
        self.seed.write_text(json.dumps(state))
        self.log = root / "amipeer.log"
        self.proc = None
        self._held = None

    def start(self):
        if self._held is not None:
            self._held.close()
            self._held = None
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.amipeer", "--port", str(self.port), "--user", world.AMI_USER,
                 "--secret", world.AMI_SECRET, "--seed-json", str(self.seed)],
                cwd=str(REPO), stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        ami = AMI(lambda: ("127.0.0.1", self.port, world.AMI_USER, world.AMI_SECRET), timeout=2)
        deadline = time.monotonic() + 20
        while True:
            try:
                ami.action("Ping")
                break
            except Exception:
                assert self.proc.poll() is None and time.monotonic() < deadline, self.log.read_text()[-2000:]
                time.sleep(0.02)
        ami.close()

    def kill(self, hold: bool = True):
        if self._held is not None:
            self._held.close()
            self._held = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        if hold:
            # Hold the port (bound, not listening) until start(): a connection is refused as
            # by a dead Asterisk, and no other test's server, nor a client's own end of a
            # connection (a TCP self-connect to a port nobody listens on), can take it.
            self._held = socket.socket()
            self._held.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self._held.bind(("127.0.0.1", self.port))
        self.proc = None


@pytest.fixture(scope="module")
def farm(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    mdb = MariaDBInstance(root / "mariadb")
    peer = PeerProcess(root, free_port())
    server = pbx = None
    try:
        mdb.start()
        w = mdb.create_office_world()
        pbx = world.build(root / "pbx", w)
        pbx.peer.stop()  # the in-process peer: replaced by the killable process
        peer.start()
        a = mdb.app_args()
        point_ini_at(pbx.ini, a["host"], a["port"], a["user"], a["password"],
                     extra="connect_timeout = 1\nread_timeout = 5")
        pbx.ini.write_text(pbx.ini.read_text().replace("port = %d\n" % pbx.peer.port, "port = %d\n" % peer.port))
        server = Gunicorn(root / "gunicorn", ini=pbx.ini, workers=2, threads=4)
        server.start().wait_ready()
        yield mdb, pbx, server, peer
    finally:
        if server is not None:
            server.stop()
        peer.kill(hold=False)
        if pbx is not None:
            pbx.close()
        mdb.close()


class Load:
    """Client threads hammering one path; every answer is kept as (start, end, status)."""

    def __init__(self, url: str, auth: dict, path: str, threads: int = 3):
        self.url, self.auth, self.path = url, auth, path
        self.results: List[Tuple[float, float, int]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        s = requests.Session()
        while not self._stop.is_set():
            t0 = time.monotonic()
            try:
                status = s.get(self.url + self.path, headers=self.auth, timeout=15).status_code
            except requests.RequestException:
                status = -1  # the API itself did not answer: never acceptable
                s = requests.Session()
            with self._lock:
                self.results.append((t0, time.monotonic(), status))
            time.sleep(0.005)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(20)

    def steady(self, n: int = 20, timeout: float = 15.0) -> float:
        """Wait until the last ``n`` answers were 200 (the first logins of a loaded machine
        may be turned away); returns when the first of them was sent."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                last = self.results[-n:]
            if len(last) == n and all(st == 200 for _, _, st in last):
                return min(t0 for t0, _, _ in last)
            assert time.monotonic() < deadline, "no %d answers in a row were 200: %r" % (n, last)
            time.sleep(0.05)

    def between(self, a: float, b: float) -> List[int]:
        """Statuses of requests that started at or after a and ended by b."""
        with self._lock:
            return [st for t0, t1, st in self.results if t0 >= a and t1 <= b]

    def recovery(self, down: float, ready: float) -> Tuple[float, float]:
        """(last non-200 answer, first 200 answer after the outage), in seconds after ``ready``
        (the moment the server answered our own probe again). Answers to requests sent
        before ``ready`` count too: a request waiting across the restart must not fail."""
        with self._lock:
            bad = [t1 for t0, t1, st in self.results if t1 >= down and st != 200]
            good = [t1 for t0, t1, st in self.results if t0 >= max(bad or [down]) and st == 200]
        last_bad = max(bad) - ready if bad else 0.0
        first_good = min(good) - ready if good else float("inf")
        return max(last_bad, 0.0), max(first_good, 0.0)


def wait_until(pred, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_mariadb_outage_under_load(farm, how):
    mdb, pbx, server, _ = farm
    pids = server.worker_pids()
    assert len(pids) == 2
    with Load(server.url, pbx.auth, "/api/v1/dids") as db_load, \
            Load(server.url, pbx.auth, "/api/v1/test", threads=1) as no_db:
        time.sleep(0.7)
        t_down0 = time.monotonic()
        (mdb.stop if how == "stop" else mdb.kill)()
        t_down1 = time.monotonic()
        time.sleep(1.5)
        t_up0 = time.monotonic()
        mdb.start()
        t_ready = time.monotonic()
        time.sleep(RECOVERY_BUDGET + 1.5)
        t_end = time.monotonic()
    before = db_load.between(0, t_down0)
    during = db_load.between(t_down1, t_up0)
    after = db_load.between(t_ready + RECOVERY_BUDGET, t_end)
    assert before and set(before) == {200}
    # On failure: every answer around the outage as (sent, answered, status), seconds after the kill.
    assert during and set(during) == {503}, [(round(a - t_down1, 2), round(b - t_down1, 2), st)
                                             for a, b, st in ami_load.results if b > t_down0 - 1 and a < t_up0 + 1]
    # While it went down and came back, only a clean 200 or 503.
    assert set(db_load.between(t_down0, t_ready + RECOVERY_BUDGET)) <= {200, 503}
    assert after and set(after) == {200}
    recovery, first = db_load.recovery(t_down0, t_ready)
    print("recovery: MariaDB %s -> first 200 %.3f s, last non-200 answered %.3f s after it accepted "
          "connections (outage answers: %d x 503)" % (how, first, recovery, len(during)))
    assert recovery < RECOVERY_BUDGET
    assert set(no_db.between(0, t_end)) == {200}  # auth by the API user and /test need no database
    assert server.worker_pids() == pids           # no worker died or was replaced


def test_mariadb_outage_answer_is_the_503_envelope(farm):
    mdb, pbx, server, peer = farm
    ami = AMI(lambda: ("127.0.0.1", peer.port, world.AMI_USER, world.AMI_SECRET), timeout=2)
    ddial = ami.db_get("AMPUSER", "101/followme/ddial")
    assert ddial == "DIRECT"
    mdb.stop()
    try:
        r = requests.get(server.url + "/api/v1/extensions/101", headers=pbx.auth, timeout=15)
        assert r.status_code == 503
        assert r.json() == {"status": 503, "message": "Service Unavailable: the PBX database is unreachable",
                            "data": None}
        # A write during the outage: 503, and AstDB is left alone.
        r = requests.post(server.url + "/api/v1/followme/101", headers=pbx.auth, data={"action": "disable"},
                          timeout=15)
        assert r.status_code == 503
        assert ami.db_get("AMPUSER", "101/followme/ddial") == "DIRECT"
    finally:
        ami.close()
        mdb.start()
    wait_until(lambda: requests.get(server.url + "/api/v1/dids", headers=pbx.auth, timeout=5).status_code == 200)


def test_ami_peer_killed_and_restarted_under_load(farm):
    mdb, pbx, server, peer = farm
    pids = server.worker_pids()
    with Load(server.url, pbx.auth, "/api/v1/state/101") as ami_load, \
            Load(server.url, pbx.auth, "/api/v1/dids", threads=1) as db_load:
        t_ok = ami_load.steady()
        time.sleep(0.7)
        t_down0 = time.monotonic()
        peer.kill()
        t_down1 = time.monotonic()
        # Long enough for answers started and ended inside the outage even when the
        # requests in flight at the kill take a while to fail on a busy machine.
        time.sleep(2.5)
        t_up0 = time.monotonic()
        peer.start()  # same port, same AstDB (Asterisk keeps it on disk)
        t_ready = time.monotonic()
        time.sleep(RECOVERY_BUDGET + 1.5)
        t_end = time.monotonic()
    assert set(ami_load.between(t_ok, t_down0)) == {200}
    during = ami_load.between(t_down1, t_up0)
    # On failure: every answer around the outage as (sent, answered, status), seconds after the kill.
    assert during and set(during) == {503}, [(round(a - t_down1, 2), round(b - t_down1, 2), st)
                                             for a, b, st in ami_load.results if b > t_down0 - 1 and a < t_up0 + 1]
    assert set(ami_load.between(t_down0, t_ready + RECOVERY_BUDGET)) <= {200, 503}
    assert set(ami_load.between(t_ready + RECOVERY_BUDGET, t_end)) == {200}
    recovery, first = ami_load.recovery(t_down0, t_ready)
    print("recovery: AMI peer killed/restarted -> first 200 %.3f s, last non-200 answered %.3f s after it "
          "answered again (outage answers: %d x 503)" % (first, recovery, len(during)))
    assert recovery < RECOVERY_BUDGET
    assert set(db_load.between(0, t_end)) == {200}
    assert server.worker_pids() == pids


# -- voicemail.conf that cannot be written -------------------------------------------------
@contextmanager
def immutable(path):
    subprocess.run(["chattr", "+i", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def leftovers(etc):
    return sorted(p.name for p in etc.iterdir() if p.name.endswith(".tmp"))


@pytest.mark.parametrize("what", ["file", "directory"])
def test_voicemail_conf_that_cannot_be_written_is_a_clear_500_and_nothing_half_written(pbx_rw, what):
    etc = pbx_rw.voicemail_conf.parent
    # The writers' lock file exists on a working box (made by the first write ever).
    (etc / "voicemail.conf.rfapi.lock").touch()
    before = pbx_rw.snapshot()
    n = len(pbx_rw.peer.actions)
    target = pbx_rw.voicemail_conf if what == "file" else etc
    with immutable(target):
        with pytest.raises(PermissionError):  # really read-only, even for root
            os.rename(str(pbx_rw.voicemail_conf), str(pbx_rw.voicemail_conf) + ".x")
        r = pbx_rw.post("extension/add", data={"extension": "3300", "exttype": "pjsip", "voicemail": "yes",
                                               "voicemailpassword": "1234", "displayname": "No Disk"})
        r2 = pbx_rw.delete("extension/101")
    for resp in (r, r2):
        b = resp.get_json()
        assert resp.status_code == 500, b
        assert b["message"].startswith("Could not write voicemail.conf or the voicemail spool; nothing was "), b
        assert b["data"]["undone"] is True
    assert pbx_rw.snapshot() == before
    assert leftovers(etc) == []
    # Writable again: the same requests work.
    assert pbx_rw.post("extension/add", data={"extension": "3300", "exttype": "pjsip", "voicemail": "yes",
                                              "voicemailpassword": "1234"}).status_code == 201
    assert "3300=1234," in pbx_rw.voicemail_conf.read_text()
    assert any(a.name == "DBPut" for a in pbx_rw.peer.actions[n:])
