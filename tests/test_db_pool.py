"""The MariaDB adapter's connection pool: a bounded number of connections per process
whatever the number of threads, a connection per statement, transaction or named lock
(never parked with a thread that waits for something else), a short wait and then
DatabaseBusy (503 with Retry-After) when every connection is busy."""
from __future__ import annotations

import json
import threading
import time

import MySQLdb
import pytest

from rfapi.adapters.db import Database, DatabaseBusy
from tests.support import dbworld, office
from tests.support.world import basic


def make_db(world, size, wait=5.0):
    a = dbworld.server_args()
    return Database(a["host"], a["port"], a["user"], a.get("passwd", ""), world.config_db,
                    cdr_name=world.cdr_db, connect_timeout=2, read_timeout=5, pool_size=size, pool_wait=wait)


def server_connections(world) -> int:
    """Connections MariaDB holds open on this world's two databases (what the PBX sees)."""
    conn = MySQLdb.connect(**dbworld.server_args())
    try:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB IN (%s, %s)",
                    (world.config_db, world.cdr_db))
        return int(cur.fetchone()[0])
    finally:
        conn.close()


def connections_after_close(world, wait: float = 5.0) -> int:
    """``server_connections`` once MariaDB has seen the closes: a closed connection leaves
    the process list when its server thread handles the quit, later on a busy machine."""
    deadline = time.monotonic() + wait
    n = server_connections(world)
    while n and time.monotonic() < deadline:
        time.sleep(0.05)
        n = server_connections(world)
    return n


def test_many_threads_share_a_bounded_number_of_connections(office_db):
    db = make_db(office_db, size=3)
    most = [0]
    ids = set()
    lock = threading.Lock()
    errors = []

    def request():
        try:
            db.pin()
            for _ in range(3):
                row = db.query_one("SELECT CONNECTION_ID() AS id, SLEEP(0.02) AS s")
                with lock:
                    ids.add(row["id"])
            db.query("SELECT 1", which="cdr")
            n = server_connections(office_db)
            with lock:
                most[0] = max(most[0], n)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            db.unpin()

    threads = [threading.Thread(target=request) for _ in range(30)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # 30 threads, at most 3 connections to each of the two databases, ever.
    assert db.connects <= 6 and len(ids) <= 3
    assert most[0] <= 6
    assert db.pool.stats()["open"] == {"config": len(ids), "cdr": db.connects - len(ids)}
    db.close()
    assert connections_after_close(office_db) == 0


def test_a_named_lock_keeps_its_connection_until_released(office_db):
    from rfapi.dao import extensions as dao

    db = make_db(office_db, size=2)
    assert dao.get_lock(db, "rfapi.pooltest", 1)
    # Session state (the named lock) stays with the thread between statements.
    first = db.query_one("SELECT CONNECTION_ID() AS id")["id"]
    with db.transaction() as tx:
        assert tx.query_one("SELECT CONNECTION_ID() AS id")["id"] == first
    assert db.query_one("SELECT IS_USED_LOCK('rfapi.pooltest') AS owner")["owner"] == first
    assert db.pool.stats()["idle"].get("config", 0) == 0
    dao.release_lock(db, "rfapi.pooltest")
    assert db.pool.stats()["idle"]["config"] == 1
    # Another thread now gets that same connection: nothing is parked with a thread.
    seen = []
    t = threading.Thread(target=lambda: seen.append(db.query_one("SELECT CONNECTION_ID() AS id")["id"]))
    t.start()
    t.join()
    assert seen == [first] and db.connects == 1
    db.close()


def test_release_closes_a_connection_left_pinned(office_db):
    """A request that ended between GET_LOCK and RELEASE_LOCK: the lock dies with its connection."""
    from rfapi.dao import extensions as dao

    db = make_db(office_db, size=1)
    assert dao.get_lock(db, "rfapi.pooltest2", 1)
    db.release()
    assert db.pool.stats()["open"]["config"] == 0
    assert db.query_one("SELECT IS_FREE_LOCK('rfapi.pooltest2') AS free")["free"] == 1
    db.close()


def test_a_thread_waiting_on_an_application_lock_holds_no_connection(office_db):
    """Pool of one: A takes an application lock and then the database; B used the database and
    then waits for the lock. With a connection parked per request this deadlocks."""
    db = make_db(office_db, size=1, wait=5)
    app_lock = threading.Lock()
    b_used_db = threading.Event()
    errors = []

    def a():
        with app_lock:
            assert b_used_db.wait(10)
            try:
                db.query("SELECT 1")
            except Exception as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

    def b():
        db.query("SELECT 1")
        b_used_db.set()
        time.sleep(0.1)
        with app_lock:
            db.query("SELECT 2")

    ts = [threading.Thread(target=a), threading.Thread(target=b)]
    ts[0].start()
    time.sleep(0.05)
    ts[1].start()
    for t in ts:
        t.join(20)
    assert errors == [] and db.pool.stats()["exhausted"] == 0
    db.close()


def test_a_thread_gives_its_connection_back_after_each_statement(office_db):
    db = make_db(office_db, size=1, wait=0.2)
    db.query("SELECT 1")
    seen = []
    # Pool of one: a second thread would get DatabaseBusy if the first still held it.
    t = threading.Thread(target=lambda: seen.append(db.query_one("SELECT 2 AS v")["v"]))
    t.start()
    t.join()
    assert seen == [2]
    db.close()


def test_exhausted_pool_waits_briefly_then_refuses(office_db):
    db = make_db(office_db, size=1, wait=0.3)
    held = threading.Event()
    done = threading.Event()

    def holder():
        db.pin()
        db.query("SELECT 1")
        held.set()
        done.wait(10)
        db.unpin()

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(10)
    t0 = time.monotonic()
    with pytest.raises(DatabaseBusy):
        db.query("SELECT 1")
    waited = time.monotonic() - t0
    assert 0.25 <= waited < 3
    assert db.pool.stats()["exhausted"] == 1
    # Freed: the next statement gets the connection the holder gave back.
    done.set()
    t.join()
    assert db.query_one("SELECT 3 AS v") == {"v": 3}
    assert db.connects == 1
    db.close()


def test_a_request_waiting_for_a_connection_gets_it_when_one_is_freed(office_db):
    db = make_db(office_db, size=1, wait=5)
    db.pin()
    db.query("SELECT 1")
    got = []
    t = threading.Thread(target=lambda: got.append(db.query_one("SELECT 4 AS v")["v"]))
    t.start()
    time.sleep(0.3)
    assert got == []  # waiting, not refused
    db.unpin()
    t.join(5)
    assert got == [4]
    db.close()


def test_both_databases_never_deadlock_each_other(office_db):
    """Pool of one: a request holding config then cdr, and another holding cdr then config."""
    db = make_db(office_db, size=1, wait=5)
    errors = []

    def request(order):
        try:
            for _ in range(20):
                db.pin()
                for which in order:
                    db.query("SELECT 1", which=which)
                db.unpin()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    ts = [threading.Thread(target=request, args=(o,)) for o in (("config", "cdr"), ("cdr", "config"))]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert errors == [] and not any(t.is_alive() for t in ts)
    assert db.connects == 2
    db.close()


def test_api_answers_503_with_retry_after_when_every_connection_is_busy(pbx):
    rt = pbx.app.extensions["rfapi"]
    rt.config.auth_cache_seconds = 0
    pool = rt.db.pool
    pool.wait = 0.2
    # Take every slot of the app's pool, as long requests would.
    taken = []
    for _ in range(pool.size):
        assert pool._slots.acquire(timeout=1)
        taken.append(1)
    try:
        r = pbx.get("dids")
        assert r.status_code == 503
        assert r.headers["Retry-After"] == "1"
        assert json.loads(r.get_data(as_text=True)) == {
            "status": 503, "data": None,
            "message": "Service Unavailable: every database connection of this worker is busy; try again"}
    finally:
        for _ in taken:
            pool._slots.release()
    assert pbx.get("dids").status_code == 200


def test_pool_settings_come_from_the_config_file(tmp_path):
    from rfapi import config as config_mod

    ini = tmp_path / "rfapi.ini"
    ini.write_text("[api]\npassword = x\n[database]\npool_size = 3\npool_wait = 0.5\n")
    cfg = config_mod.load(str(ini))
    assert (cfg.database.pool_size, cfg.database.pool_wait) == (3, 0.5)
    ini.write_text("[api]\npassword = x\n")
    cfg = config_mod.load(str(ini))
    assert (cfg.database.pool_size, cfg.database.pool_wait) == (6, 5.0)
    ini.write_text("[api]\npassword = x\n[database]\npool_size = 0\n")
    with pytest.raises(config_mod.ConfigError) as err:
        config_mod.load(str(ini))
    assert str(err.value) == "%s: [database] pool_size must be at least 1" % ini


def test_a_reload_parks_no_connection_while_fwconsole_runs(pbx_rw):
    """fwconsole may run for minutes: the reload request holds no connection meanwhile."""
    rt = pbx_rw.app.extensions["rfapi"]
    rt.config.auth_cache_seconds = 0
    pbx_rw.fwconsole_control(mode="hang", seconds=1.5)
    seen = []

    log = pbx_rw.fwconsole.parent / "fwconsole.log"
    runs = log.read_text().count("reload") if log.exists() else 0

    def watch():  # once fwconsole is running (it logs its argv first, then sleeps 1.5 s)
        deadline = time.monotonic() + 30
        while not (log.exists() and log.read_text().count("reload") > runs) and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(rt.db.pool.stats())

    t = threading.Thread(target=watch)
    t.start()
    # An administrator's login is checked against ampusers: the request uses the database first.
    admin = next(u for u in office.AMPUSERS if "*" in str(u["sections"]))
    r = pbx_rw.get("pbx/framework/reload", auth=False, headers=basic(admin["username"], admin["password"]))
    t.join()
    assert r.status_code == 200, r.get_data(as_text=True)
    stats = seen[0]
    # Mid-reload: every open connection is idle in the pool, none held by the request.
    assert stats["open"].get("config", 0) >= 1
    assert stats["open"].get("config", 0) == stats["idle"].get("config", 0)
