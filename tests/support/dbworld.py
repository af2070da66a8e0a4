"""Throwaway FreePBX databases ("worlds") for tests and demos.

A world is a pair of MariaDB databases built from the reference DDL:

    rfapi_t<8 hex>_asterisk   <- schema-asterisk.sql      (FreePBX config)
    rfapi_t<8 hex>_cdr        <- schema-asteriskcdrdb.sql (call records)

Only the database name of the DDL is changed, so table definitions, indexes and
collations are exactly those of the reference files.

Safety: every function here refuses to create or drop a database whose name
does not start with ``rfapi_``; the real ``asterisk`` / ``asteriskcdrdb``
databases of a FreePBX box can never be touched.

How the schema files are executed: they are split into statements by a small
tokenizer (`split_sql`) that understands quoted strings/identifiers and the
three MariaDB comment styles, then each statement runs through MySQLdb. This
needs no ``mariadb`` CLI on the machine and takes ~0.1 s per world.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import MySQLdb

from . import sqlscript
from .sqlscript import split_sql  # noqa: F401 (part of this module's interface)

REPO = Path(__file__).resolve().parents[2]

DEFAULT_PREFIX = "rfapi_t"
# The original database names used inside the reference DDL files.
CONFIG_SCHEMA_FILE = "schema-asterisk.sql"
CDR_SCHEMA_FILE = "schema-asteriskcdrdb.sql"
SOURCE_DB = {CONFIG_SCHEMA_FILE: "asterisk", CDR_SCHEMA_FILE: "asteriskcdrdb"}
_FORBIDDEN = {"asterisk", "asteriskcdrdb", "mysql", "information_schema",
              "performance_schema", "sys"}
_PREFIX_RE = re.compile(r"^rfapi_[a-z0-9_]*$")


@dataclass(frozen=True)
class World:
    config_db: str
    cdr_db: str
    tag: str

    @property
    def databases(self) -> Tuple[str, str]:
        return (self.config_db, self.cdr_db)


# ---------------------------------------------------------------------------
# Locations and connections
# ---------------------------------------------------------------------------

def reference_dir() -> Path:
    """Folder holding ``freepbx/`` (and ``ami/``) reference material.

    Order: env RFAPI_REFERENCE_DIR, then <repo>/../shared/reference when it
    exists, else <repo>/tests/data (which carries copies of the freepbx/ files).
    """
    env = os.environ.get("RFAPI_REFERENCE_DIR")
    if env:
        return Path(env)
    shared = REPO.parent / "shared" / "reference"
    if shared.is_dir():
        return shared
    return REPO / "tests" / "data"


def schema_path(filename: str) -> Path:
    return reference_dir() / "freepbx" / filename


def server_args() -> Dict[str, object]:
    """Keyword arguments for MySQLdb.connect() (no database selected)."""
    return {
        "host": os.environ.get("RFAPI_TEST_DB_HOST", "127.0.0.1"),
        "port": int(os.environ.get("RFAPI_TEST_DB_PORT", "3306")),
        "user": os.environ.get("RFAPI_TEST_DB_USER", "root"),
        "passwd": os.environ.get("RFAPI_TEST_DB_PASSWORD", ""),
        "charset": "utf8mb4",
    }


def connect(db: Optional[str] = None, autocommit: bool = False):
    """Open a MySQLdb connection to the test server, optionally USE-ing `db`."""
    args = dict(server_args())
    if db is not None:
        args["db"] = db
    conn = MySQLdb.connect(**args)
    conn.autocommit(autocommit)
    return conn


def _check_name(name: str) -> None:
    if name.lower() in _FORBIDDEN or not name.startswith("rfapi_") or not re.match(r"^[A-Za-z0-9_]+$", name):
        raise ValueError("refusing to touch database %r (only rfapi_* names)" % name)


def _check_prefix(prefix: str) -> None:
    if not _PREFIX_RE.match(prefix):
        raise ValueError("world prefix must match %s, got %r" % (_PREFIX_RE.pattern, prefix))


def _db_exists(cur, name: str) -> bool:
    cur.execute("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,))
    return cur.fetchone() is not None


def _new_world_names(cur, prefix: Optional[str]) -> World:
    prefix = prefix or DEFAULT_PREFIX
    _check_prefix(prefix)
    for _ in range(10):
        tag = secrets.token_hex(4)
        world = World(config_db="%s%s_asterisk" % (prefix, tag), cdr_db="%s%s_cdr" % (prefix, tag), tag=tag)
        if not any(_db_exists(cur, db) for db in world.databases):
            for db in world.databases:
                _check_name(db)
            return world
    raise RuntimeError("could not find a free world name")


def _run_schema(cur, filename: str, target_db: str) -> None:
    _check_name(target_db)
    text = schema_path(filename).read_text(encoding="utf-8")
    for stmt in sqlscript.adapt_statements(sqlscript.split_sql(text), SOURCE_DB[filename], target_db):
        cur.execute(stmt)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------

def create_world(prefix: Optional[str] = None) -> World:
    """Create a fresh, empty pair of FreePBX databases from the reference DDL."""
    conn = connect(autocommit=True)
    try:
        cur = conn.cursor()
        world = _new_world_names(cur, prefix)
        try:
            _run_schema(cur, CONFIG_SCHEMA_FILE, world.config_db)
            _run_schema(cur, CDR_SCHEMA_FILE, world.cdr_db)
        except BaseException:
            _drop(cur, world.databases)
            raise
        return world
    finally:
        conn.close()


def load_schema_into(db_name: str, which: str) -> None:
    """Create database `db_name` (rfapi_* only) from one reference schema.

    `which` is "asterisk"/"config" or "cdr"/"asteriskcdrdb". Used for fixed
    names such as the demo's rfapi_demo_* databases; tests use create_world().
    """
    filename = {"asterisk": CONFIG_SCHEMA_FILE, "config": CONFIG_SCHEMA_FILE,
                "cdr": CDR_SCHEMA_FILE, "asteriskcdrdb": CDR_SCHEMA_FILE}[which]
    _check_name(db_name)
    conn = connect(autocommit=True)
    try:
        _run_schema(conn.cursor(), filename, db_name)
    finally:
        conn.close()


def _drop(cur, names) -> None:
    for name in names:
        _check_name(name)
        cur.execute("DROP DATABASE IF EXISTS `%s`" % name)


def drop_world(world: World, lock_wait: Optional[int] = None) -> None:
    """Drop both databases of `world` (missing ones are ignored). With `lock_wait`,
    give up (MySQLdb error) after that many seconds behind another session's lock."""
    for name in world.databases:
        _check_name(name)
    conn = connect(autocommit=True)
    try:
        cur = conn.cursor()
        if lock_wait is not None:
            cur.execute("SET SESSION lock_wait_timeout = %d" % lock_wait)
        _drop(cur, world.databases)
    finally:
        conn.close()


@contextlib.contextmanager
def temporary_world(prefix: Optional[str] = None) -> Iterator[World]:
    """``with temporary_world() as w:`` - a world dropped on exit, even on error."""
    world = create_world(prefix)
    try:
        yield world
    finally:
        drop_world(world)


def _base_tables(cur, db: str) -> List[Tuple[str, Optional[int]]]:
    cur.execute(
        "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (db,))
    return [(r[0], r[1]) for r in cur.fetchall()]


def clone_world(world: World, prefix: Optional[str] = None) -> World:
    """Copy `world` (tables, indexes, rows, AUTO_INCREMENT counters) into a new world.

    CREATE TABLE ... LIKE keeps columns, keys, engine and collation; the rows
    are copied with INSERT ... SELECT. Only committed data is visible.
    """
    conn = connect(autocommit=True)
    try:
        cur = conn.cursor()
        new = _new_world_names(cur, prefix)
        try:
            for src, dst in zip(world.databases, new.databases):
                _check_name(dst)
                cur.execute(
                    "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME "
                    "FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (src,))
                row = cur.fetchone()
                if row is None:
                    raise ValueError("source database %r does not exist" % src)
                cur.execute("CREATE DATABASE `%s` CHARACTER SET %s COLLATE %s" % (dst, row[0], row[1]))
                tables = _base_tables(cur, src)
                for table, _ in tables:
                    cur.execute("CREATE TABLE `%s`.`%s` LIKE `%s`.`%s`" % (dst, table, src, table))
                    cur.execute("INSERT INTO `%s`.`%s` SELECT * FROM `%s`.`%s`" % (dst, table, src, table))
                # INSERT ... SELECT moves the counter to max(id)+1 only; a source
                # whose top rows were deleted has a higher counter - keep it so
                # "next id" behaves the same in the clone.
                copied = dict(_base_tables(cur, dst))
                for table, auto_inc in tables:
                    if auto_inc is not None and copied.get(table) != auto_inc:
                        cur.execute("ALTER TABLE `%s`.`%s` AUTO_INCREMENT = %d" % (dst, table, auto_inc))
        except BaseException:
            _drop(cur, new.databases)
            raise
        return new
    finally:
        conn.close()


def dump_world(world: World) -> Dict[str, Dict[str, list]]:
    """All rows of every table: {"config": {table: [row tuples, sorted]}, "cdr": {...}}.

    Rows are tuples in column order, values as MySQLdb returns them (str,
    int, bytes for BLOBs, datetime). Sorted by their repr (distinct values of these
    types have distinct reprs, and it is far cheaper than a key built per value), so
    two dumps of the same rows compare with ==.
    """
    conn = connect(autocommit=True)
    try:
        cur = conn.cursor()
        out: Dict[str, Dict[str, list]] = {}
        for key, db in (("config", world.config_db), ("cdr", world.cdr_db)):
            tables: Dict[str, list] = {}
            for table, _ in _base_tables(cur, db):
                cur.execute("SELECT * FROM `%s`.`%s`" % (db, table))
                tables[table] = sorted(cur.fetchall(), key=repr)
            out[key] = tables
        return out
    finally:
        conn.close()


_WORLD_DB_RE = r"^%s[0-9a-f]{8}_(asterisk|cdr)$"


def drop_stale_worlds(max_age_hours: float = 6, prefix: str = DEFAULT_PREFIX,
                      empty_grace_seconds: float = 2.0) -> List[str]:
    """Drop world databases left over by crashed runs; returns the dropped names.

    Age = time since the newest table of the database was created
    (information_schema.TABLES.CREATE_TIME, compared with the server's NOW()).
    A database without tables has no creation time: it is dropped only if it
    is still empty after `empty_grace_seconds`, so a create_world() running in
    another process (which adds its first table within milliseconds) is safe.
    """
    _check_prefix(prefix)
    name_re = re.compile(_WORLD_DB_RE % re.escape(prefix))
    conn = connect(autocommit=True)
    try:
        cur = conn.cursor()
        like = prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"
        cur.execute(
            "SELECT s.SCHEMA_NAME, TIMESTAMPDIFF(SECOND, MAX(t.CREATE_TIME), NOW()), COUNT(t.TABLE_NAME) "
            "FROM information_schema.SCHEMATA s "
            "LEFT JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = s.SCHEMA_NAME "
            "WHERE s.SCHEMA_NAME LIKE %s GROUP BY s.SCHEMA_NAME", (like,))
        stale, empty = [], []
        for name, age_s, n_tables in cur.fetchall():
            if not name_re.match(name):
                continue
            if n_tables == 0:
                empty.append(name)
            elif age_s is not None and age_s >= max_age_hours * 3600:
                stale.append(name)
        if empty:
            time.sleep(empty_grace_seconds)
            for name in empty:
                cur.execute("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s", (name,))
                if cur.fetchone()[0] == 0 and _db_exists(cur, name):
                    stale.append(name)
        for name in sorted(stale):
            _check_name(name)
            cur.execute("DROP DATABASE IF EXISTS `%s`" % name)
        return sorted(stale)
    finally:
        conn.close()


def list_worlds(prefix: str = DEFAULT_PREFIX) -> List[str]:
    """Names of existing world databases with `prefix` (diagnostics)."""
    _check_prefix(prefix)
    name_re = re.compile(_WORLD_DB_RE % re.escape(prefix))
    conn = connect(autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
        return sorted(r[0] for r in cur.fetchall() if name_re.match(r[0]))
    finally:
        conn.close()


__all__ = [
    "World", "reference_dir", "schema_path", "server_args", "connect", "split_sql",
    "create_world", "load_schema_into", "drop_world", "temporary_world", "clone_world", "dump_world",
    "drop_stale_worlds", "list_worlds",
]
