"""One writable clone of a world per test process, rewound to its template between tests.

Cloning the office databases for every writing test costs about 0.2 s of DDL (41
CREATE TABLE, each a file on disk) and as much again to drop them. A test changes a
few rows, so the clone is instead made equal to its template again by rewriting only
the tables that differ:

* rows: ``CHECKSUM TABLE`` of every table, clone against template (about 1 ms for
  the office); a table that differs is emptied and copied again;
* counters: ``AUTO_INCREMENT`` from information_schema (it moves on a rolled-back
  insert too); a different one is set back with ``ALTER TABLE ... AUTO_INCREMENT``;
* structure: tables, views, columns, indexes, triggers and routines are compared
  first; a test that created, dropped or altered something gets a fresh clone
  instead, since rows cannot rewind a schema change.

A lock left by a test (an open transaction, a named lock) makes the rewind wait at
most ``LOCK_WAIT`` seconds; then the clone is abandoned and a fresh one made.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import MySQLdb

from .dbworld import World, clone_world, connect, drop_world

LOCK_WAIT = 10

_SHAPE_QUERIES = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION FROM information_schema.TABLES"
    " WHERE TABLE_SCHEMA IN (%s, %s)",
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT,"
    " EXTRA, COLLATION_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN (%s, %s)",
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART, INDEX_TYPE"
    " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN (%s, %s)",
    "SELECT TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN (%s, %s)",
    "SELECT ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA IN (%s, %s)",
)

Shape = Tuple[tuple, ...]


def shape(cur, world: World) -> Shape:
    """The structure of both databases of ``world``, without their names (comparable
    between a clone and its template)."""
    which = {world.config_db: "config", world.cdr_db: "cdr"}
    out = []
    for q in _SHAPE_QUERIES:
        cur.execute(q, world.databases)
        out.append(tuple(sorted((which[r[0]],) + tuple(r[1:]) for r in cur.fetchall())))
    return tuple(out)


def _state(cur, db: str) -> Dict[str, Tuple[Optional[int], Optional[int]]]:
    """{table: (row checksum, AUTO_INCREMENT)} for every base table of ``db``."""
    cur.execute("SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES"
                " WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE'", (db,))
    counters = dict(cur.fetchall())
    if not counters:
        return {}
    cur.execute("CHECKSUM TABLE " + ", ".join("`%s`.`%s`" % (db, t) for t in sorted(counters)))
    sums = {name.split(".", 1)[1]: value for name, value in cur.fetchall()}
    return {t: (sums[t], counters[t]) for t in counters}


def rewind(world: World, template: World, template_shape: Optional[Shape] = None) -> Optional[List[str]]:
    """Make ``world`` hold exactly ``template``'s rows and counters again.

    Returns the tables rewritten ("db.table"), or None where the structure differs
    (nothing is changed then: the caller clones afresh). ``template_shape``: the
    template's ``shape``, where the caller keeps it."""
    conn = connect(autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SET SESSION lock_wait_timeout = %d, innodb_lock_wait_timeout = %d" % (LOCK_WAIT, LOCK_WAIT))
        if shape(cur, world) != (template_shape or shape(cur, template)):
            return None
        rewritten = []
        for dst, src in zip(world.databases, template.databases):
            have, want = _state(cur, dst), _state(cur, src)
            for table in sorted(want):
                (have_sum, have_counter), (want_sum, want_counter) = have[table], want[table]
                if have_sum != want_sum:
                    cur.execute("DELETE FROM `%s`.`%s`" % (dst, table))
                    cur.execute("INSERT INTO `%s`.`%s` SELECT * FROM `%s`.`%s`" % (dst, table, src, table))
                if want_counter is not None and (have_sum != want_sum or have_counter != want_counter):
                    cur.execute("ALTER TABLE `%s`.`%s` AUTO_INCREMENT = %d" % (dst, table, want_counter))
                if have_sum != want_sum or have_counter != want_counter:
                    rewritten.append("%s.%s" % (dst, table))
        return rewritten
    finally:
        conn.close()


class ReusedClone:
    """The writable clone of ``template`` one test at a time gets, rewound before each use."""

    def __init__(self, template: World):
        self.template = template
        self.world: Optional[World] = None
        self.clones = 0  # how many times a fresh clone was needed (the test of this class reads it)
        self._template_shape: Optional[Shape] = None  # the template does not change

    def take(self) -> World:
        if self._template_shape is None:
            conn = connect(autocommit=True)
            try:
                self._template_shape = shape(conn.cursor(), self.template)
            finally:
                conn.close()
        if self.world is not None:
            try:
                if rewind(self.world, self.template, self._template_shape) is not None:
                    return self.world
            except MySQLdb.Error:
                pass  # a lock the test left behind: give up this clone
            self._discard()
        self.world = clone_world(self.template)
        self.clones += 1
        return self.world

    def _discard(self) -> None:
        world, self.world = self.world, None
        try:
            drop_world(world, lock_wait=LOCK_WAIT)
        except MySQLdb.Error:
            pass  # still locked; drop_stale_worlds() removes it in a later run

    def close(self) -> None:
        if self.world is not None:
            self._discard()
