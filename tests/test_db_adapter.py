"""The MariaDB adapter — reuse, reconnect, transactions, outage → 503 → recovery."""
from __future__ import annotations

import json
import threading
import time

import MySQLdb
import pytest

from rfapi.adapters.db import Database, DatabaseUnavailable
from tests.support import dbworld
from tests.support.tcprelay import TcpRelay
from tests.support.world import basic
from tests.support import office


def make_db(world, port=None, host=None):
    a = dbworld.server_args()
    return Database(host or a["host"], port or a["port"], a["user"], a.get("passwd", ""), world.config_db,
                    cdr_name=world.cdr_db, connect_timeout=2, read_timeout=5)


def test_parameterized_queries_and_connections_reused_across_threads(office_db):
    db = make_db(office_db)
    rows = db.query("SELECT variable, value FROM admin WHERE variable = %s", ("need_reload",))
    assert rows == [{"variable": "need_reload", "value": "false"}]
    # Metacharacters are data, never SQL.
    assert db.query("SELECT %s AS v", ("x'; DROP TABLE admin; --",)) == [{"v": "x'; DROP TABLE admin; --"}]
    for _ in range(5):
        db.query("SELECT 1")
    assert db.connects == 1
    # Another thread, after this one gave its connection back, reuses it: the pool, not
    # the number of threads, decides how many connections there are.
    t = threading.Thread(target=db.query, args=("SELECT 1",))
    t.start()
    t.join()
    assert db.connects == 1
    assert db.query("SELECT COUNT(*) AS n FROM cdr", which="cdr")[0]["n"] == len(office.cdr_rows(0))
    db.close()


def test_transaction_rolls_back_everything(pbx_rw):
    db = make_db(pbx_rw.db)
    with pytest.raises(RuntimeError):
        with db.transaction() as tx:
            tx.execute("UPDATE admin SET value = 'true' WHERE variable = 'need_reload'")
            tx.execute("INSERT INTO globals (variable, value) VALUES (%s, %s)", ("RFAPI_T", "1"))
            raise RuntimeError("half way")
    assert pbx_rw.sql("SELECT value FROM admin WHERE variable = 'need_reload'") == [{"value": "false"}]
    assert pbx_rw.sql("SELECT * FROM globals WHERE variable = 'RFAPI_T'") == []
    with db.transaction() as tx:
        tx.execute("INSERT INTO globals (variable, value) VALUES (%s, %s)", ("RFAPI_T", "1"))
    assert pbx_rw.sql("SELECT value FROM globals WHERE variable = 'RFAPI_T'") == [{"value": "1"}]
    db.close()


def test_killed_connection_is_replaced_transparently(office_db):
    db = make_db(office_db)
    cid = db.query("SELECT CONNECTION_ID() AS id")[0]["id"]
    killer = MySQLdb.connect(**dbworld.server_args())
    killer.cursor().execute("KILL %s", (cid,))
    killer.close()
    time.sleep(0.1)
    assert db.query("SELECT 1 AS one") == [{"one": 1}]
    assert db.connects == 2
    db.close()


def test_outage_then_recovery(office_db):
    a = dbworld.server_args()
    relay = TcpRelay(a["host"], a["port"]).start()
    db = make_db(office_db, port=relay.port, host="127.0.0.1")
    assert db.query("SELECT 1 AS one") == [{"one": 1}]
    relay.cut()
    with pytest.raises(DatabaseUnavailable):
        db.query("SELECT 1 AS one")
    relay.restore()
    t0 = time.monotonic()
    assert db.query("SELECT 1 AS one") == [{"one": 1}]
    assert time.monotonic() - t0 < 2.0
    relay.cut()
    db.close()


def test_api_answers_503_during_outage_and_recovers(pbx):
    """Through the app: a database login during an outage → 503 envelope; back → 200."""
    a = dbworld.server_args()
    relay = TcpRelay(a["host"], a["port"]).start()
    pbx.ini.write_text(pbx.ini.read_text().replace("port = %s\n" % a["port"], "port = %s\n" % relay.port, 1)
                       .replace("host = %s\n" % a["host"], "host = 127.0.0.1\n", 1))
    admin = next(u for u in office.AMPUSERS if "*" in str(u["sections"]))
    pbx.app.extensions["rfapi"].config.auth_cache_seconds = 0  # every request hits the database
    h = basic(admin["username"], admin["password"])
    assert pbx.get("test", auth=False, headers=h).status_code == 200
    relay.cut()
    r = pbx.get("test", auth=False, headers=h)
    assert r.status_code == 503
    assert json.loads(r.get_data(as_text=True)) == {
        "status": 503, "message": "Service Unavailable: the PBX database is unreachable", "data": None}
    relay.restore()
    assert pbx.get("test", auth=False, headers=h).status_code == 200
    relay.cut()
