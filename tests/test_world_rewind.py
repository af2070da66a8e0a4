"""The writable office copy that writing tests share (tests/support/dbrewind.py): after
any change of rows or counters it is rewound to exactly the office, rewriting only what
changed; a change of structure or a lock left behind gets a fresh copy instead."""
from __future__ import annotations

import MySQLdb
import pytest

from tests.support import dbrewind, dbworld


@pytest.fixture(scope="module")
def template(office_db):
    """The office every test session starts from (read here, never written)."""
    return office_db


@pytest.fixture(scope="module")
def reused(template):
    """One copy for the module, as a test process has: each test starts from whatever
    the test before left, as the fixture's users do."""
    r = dbrewind.ReusedClone(template)
    yield r
    r.close()


def run(db, *statements):
    conn = dbworld.connect(db, autocommit=True)
    try:
        cur = conn.cursor()
        for s in statements:
            cur.execute(s)
        return cur.lastrowid
    finally:
        conn.close()


def server(sql, *params):
    conn = dbworld.connect(autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        return cur.fetchall()
    finally:
        conn.close()


def counters(db):
    return dict(server("SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", db))


def exists(db):
    return server("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", db)[0][0] == 1


def test_rows_and_counters_changed_by_a_test_are_rewound_and_nothing_else_is_rewritten(template, reused):
    w = reused.take()
    assert dbworld.dump_world(w) == dbworld.dump_world(template)
    assert dbrewind.rewind(w, template) == []
    run(w.config_db,
        "UPDATE sip SET data = 'changed' WHERE id = '101' AND keyword = 'secret'",
        "DELETE FROM users WHERE extension = '102'",
        "INSERT INTO music (category, type) VALUES ('added', 'files')",
        "START TRANSACTION", "INSERT INTO recordings (displayname, filename) VALUES ('x', 'custom/x')", "ROLLBACK")
    run(w.cdr_db, "DELETE FROM cdr LIMIT 3")
    assert counters(w.config_db)["recordings"] != counters(template.config_db)["recordings"]

    assert dbrewind.rewind(w, template) == sorted("%s.%s" % (w.config_db, t) for t in
                                                   ("music", "recordings", "sip", "users")) + ["%s.cdr" % w.cdr_db]
    assert dbworld.dump_world(w) == dbworld.dump_world(template)
    assert counters(w.config_db) == counters(template.config_db)
    assert counters(w.cdr_db) == counters(template.cdr_db)
    next_music = counters(template.config_db)["music"]
    assert run(w.config_db, "INSERT INTO music (category, type) VALUES ('again', 'files')") == next_music

    clones = reused.clones
    again = reused.take()
    assert again == w and reused.clones == clones
    assert dbworld.dump_world(again) == dbworld.dump_world(template)


@pytest.mark.parametrize("change", [
    "DROP TABLE meetme",
    "CREATE TABLE soundlang_settings (keyword VARCHAR(20) NOT NULL PRIMARY KEY, value VARCHAR(80))",
    "ALTER TABLE users ADD COLUMN extra INT",
    "ALTER TABLE users MODIFY COLUMN name VARCHAR(60)",
    "ALTER TABLE devices ADD INDEX by_user (user)",
    "CREATE VIEW v AS SELECT extension FROM users",
    "CREATE TRIGGER t BEFORE INSERT ON music FOR EACH ROW SET NEW.type = 'files'",
])
def test_a_change_of_structure_gets_a_fresh_copy_and_the_old_one_is_dropped(template, reused, change):
    w = reused.take()
    clones = reused.clones
    run(w.config_db, change, "UPDATE admin SET value = 'true' WHERE variable = 'need_reload'")
    assert dbrewind.rewind(w, template) is None
    assert dbworld.dump_world(w) != dbworld.dump_world(template)  # nothing was rewound

    fresh = reused.take()
    assert fresh.tag != w.tag and reused.clones == clones + 1
    assert not exists(w.config_db) and not exists(w.cdr_db)
    assert dbworld.dump_world(fresh) == dbworld.dump_world(template)
    assert counters(fresh.config_db) == counters(template.config_db)


def test_a_lock_left_behind_gets_a_fresh_copy_within_the_lock_wait(template, reused, monkeypatch):
    monkeypatch.setattr(dbrewind, "LOCK_WAIT", 1)
    w = reused.take()
    clones = reused.clones
    run(w.config_db, "UPDATE sip SET data = 'changed' WHERE id = '101' AND keyword = 'secret'")
    holder = dbworld.connect(w.config_db, autocommit=False)
    try:
        holder.cursor().execute("SELECT * FROM sip WHERE id = '101' FOR UPDATE")
        fresh = reused.take()  # the rewind waits 1 s for the row lock, the drop 1 s for the table
        assert fresh.tag != w.tag and reused.clones == clones + 1
        assert dbworld.dump_world(fresh) == dbworld.dump_world(template)
    finally:
        holder.rollback()
        holder.close()
    dbworld.drop_world(w)
    assert not exists(w.config_db)


def test_a_take_after_close_is_a_fresh_copy(template):
    r = dbrewind.ReusedClone(template)
    first = r.take()
    r.close()
    assert not exists(first.config_db)
    second = r.take()
    try:
        assert second.tag != first.tag and r.clones == 2
    finally:
        r.close()


def test_the_lock_holder_is_refused_not_waited_for_forever(template):
    """Without a lock wait, MariaDB waits a year for a table lock: the rewind and the
    drop both set one."""
    w = dbworld.clone_world(template)
    holder = dbworld.connect(w.config_db, autocommit=False)
    try:
        holder.cursor().execute("SELECT * FROM music FOR UPDATE")
        with pytest.raises(MySQLdb.OperationalError):
            dbworld.drop_world(w, lock_wait=1)
    finally:
        holder.rollback()
        holder.close()
        dbworld.drop_world(w)
