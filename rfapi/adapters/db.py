"""MariaDB adapter (mysqlclient): FreePBX's configuration and CDR databases.

* raw, parameterized SQL only (``%s`` placeholders, never string formatting of values);
* a bounded pool per process (``dbpool.Pool``): ``pool_size`` connections per
  logical database at most, whatever the number of threads; a connection is
  taken for one statement, one transaction or a ``pin()``..``unpin()`` section
  (a named lock), a wait for a free one lasts ``pool_wait`` s at most, then
  ``DatabaseBusy`` (503 with Retry-After);
* a connection that went away is replaced transparently when that is safe
  (reads, or a write that never reached the server); otherwise the caller gets
  ``DatabaseUnavailable`` and the HTTP layer answers 503 — never a crash;
* ``transaction()`` for multi-statement writes (commit or roll back as one).
"""
from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence

import MySQLdb
import MySQLdb.cursors

from .dbpool import Pool, PoolExhausted

# Client error codes meaning "no usable connection" (the statement did not run
# or its outcome is unknown): can't connect (2002/2003), server gone (2006),
# lost during query (2013), killed/shutdown (1053, 1927, 4031), too many
# connections (1040).
_GONE = {2002, 2003, 2005, 2006, 2013, 2055, 1040, 1053, 1927, 4031}
# Only these are certain not to have executed anything.
_NOT_SENT = {2002, 2003, 2005, 2006}


class DatabaseUnavailable(Exception):
    """The database server cannot be reached or dropped the connection."""


class DatabaseTimeout(DatabaseUnavailable):
    pass


class DatabaseBusy(DatabaseUnavailable):
    """Every pooled connection of this process stayed busy for the whole wait."""


def _code(exc: Exception) -> int:
    try:
        return int(exc.args[0])
    except (IndexError, TypeError, ValueError):
        return 0


def _timed(fn, read_timeout: float):
    """Run one statement; a connection lost after (about) the read timeout is a
    timeout — libmariadb reports both as error 2013 with the same text."""
    t = time.monotonic()
    try:
        return fn()
    except MySQLdb.OperationalError as exc:
        if _code(exc) == 2013 and read_timeout and time.monotonic() - t >= read_timeout * 0.9:
            raise MySQLdb.OperationalError(2013, "Lost connection to server during query (read timeout)") from None
        raise


class Tx:
    """Statements inside one transaction on one connection."""

    def __init__(self, conn, read_timeout: float = 0):
        self._conn = conn
        self._read_timeout = read_timeout

    def query(self, sql: str, params: Sequence[Any] = ()) -> List[Dict[str, Any]]:
        cur = self._conn.cursor(MySQLdb.cursors.DictCursor)
        try:
            _timed(lambda: cur.execute(sql, tuple(params)), self._read_timeout)
            return list(cur.fetchall())
        finally:
            cur.close()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> Optional[Dict[str, Any]]:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        cur = self._conn.cursor()
        try:
            return _timed(lambda: cur.execute(sql, tuple(params)), self._read_timeout)
        finally:
            cur.close()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> int:
        if not rows:
            return 0
        cur = self._conn.cursor()
        try:
            return cur.executemany(sql, [tuple(r) for r in rows])
        finally:
            cur.close()


class Database:
    """Both logical databases: ``which`` is "config" (asterisk) or "cdr"."""

    def __init__(self, host: str, port: int, user: str, password: str, name: str,
                 cdr_name: Callable[[], str] | str = "asteriskcdrdb", socket: str = "",
                 connect_timeout: int = 3, read_timeout: int = 30, pool_size: int = 6,
                 pool_wait: float = 5.0):
        self._args = dict(host=host, port=int(port), user=user, passwd=password,
                          connect_timeout=connect_timeout, read_timeout=read_timeout,
                          write_timeout=read_timeout, charset="utf8mb4", use_unicode=True,
                          autocommit=True)
        if socket:
            self._args["unix_socket"] = socket
        self.names = {"config": name}
        self._cdr_name = cdr_name
        self.pool = Pool(pool_size, pool_wait, self._connect)
        self.connects = 0  # how many connections this process opened (tests, benchmarks)

    # -- connections -------------------------------------------------------
    def dbname(self, which: str) -> str:
        if which == "cdr" and "cdr" not in self.names:
            name = self._cdr_name() if callable(self._cdr_name) else self._cdr_name
            self.names["cdr"] = name or "asteriskcdrdb"
        return self.names[which]

    def _connect(self, which: str):
        try:
            conn = MySQLdb.connect(db=self.dbname(which), **self._args)
        except MySQLdb.OperationalError as exc:
            # Message text of a failed login may name the user: keep it out of logs/answers.
            raise DatabaseUnavailable("cannot connect to the %s database (error %d)" % (which, _code(exc))) from None
        self.connects += 1
        return conn

    def _get(self, which: str):
        try:
            return self.pool.get(which)
        except PoolExhausted as exc:
            raise DatabaseBusy(str(exc)) from None

    def _drop(self, which: str) -> None:
        self.pool.drop(which)

    def pin(self) -> None:
        """Statements of this thread use one connection until ``unpin()`` (nested):
        for session state such as a named lock (GET_LOCK .. RELEASE_LOCK)."""
        self.pool.enter()

    def unpin(self) -> None:
        self.pool.leave()

    def release(self) -> None:
        """The end of a request: nothing stays with the thread (the app calls it)."""
        self.pool.release()

    def close(self) -> None:
        self.pool.close()

    # -- statements ----------------------------------------------------------
    def _run(self, which: str, fn, retry_codes):
        self.pool.enter()
        try:
            return self._attempts(which, fn, retry_codes)
        finally:
            self.pool.leave()

    def _attempts(self, which: str, fn, retry_codes):
        for attempt in (0, 1):
            conn, fresh = self._get(which)
            try:
                return fn(Tx(conn, self._args["read_timeout"]))
            except MySQLdb.OperationalError as exc:
                code = _code(exc)
                if code not in _GONE:
                    raise
                self._drop(which)
                # A stale pooled connection: try once more on a new one.
                if attempt == 0 and not fresh and code in retry_codes:
                    continue
                if code == 2013 and "timeout" in str(exc).lower():
                    raise DatabaseTimeout("the %s database did not answer in time" % which) from None
                raise DatabaseUnavailable("lost the %s database (error %d)" % (which, code)) from None
            except MySQLdb.InterfaceError:
                self._drop(which)
                if attempt == 0 and not fresh:
                    continue
                raise DatabaseUnavailable("lost the %s database" % which) from None
        raise AssertionError("unreachable")

    def query(self, sql: str, params: Sequence[Any] = (), which: str = "config",
              missing_ok: bool = False) -> List[Dict[str, Any]]:
        """Rows as dicts. ``missing_ok``: a table that does not exist (a FreePBX
        module not installed on this box) reads as empty instead of failing."""
        try:
            return self._run(which, lambda tx: tx.query(sql, params), _GONE)
        except MySQLdb.ProgrammingError as exc:
            if missing_ok and _code(exc) == 1146:
                return []
            raise

    def query_one(self, sql: str, params: Sequence[Any] = (), which: str = "config") -> Optional[Dict[str, Any]]:
        rows = self.query(sql, params, which)
        return rows[0] if rows else None

    def execute(self, sql: str, params: Sequence[Any] = (), which: str = "config") -> int:
        return self._run(which, lambda tx: tx.execute(sql, params), _NOT_SENT)

    @contextlib.contextmanager
    def transaction(self, which: str = "config") -> Iterator[Tx]:
        """``with db.transaction() as tx:`` — commit on success, roll back on any exception."""
        self.pool.enter()
        try:
            with self._transaction(which) as tx:
                yield tx
        finally:
            self.pool.leave()

    @contextlib.contextmanager
    def _transaction(self, which: str) -> Iterator[Tx]:
        conn = None
        for attempt in (0, 1):
            conn, fresh = self._get(which)
            try:
                conn.begin()
                break
            except (MySQLdb.OperationalError, MySQLdb.InterfaceError) as exc:
                self._drop(which)
                if attempt == 0 and not fresh:
                    continue
                raise DatabaseUnavailable("lost the %s database (error %d)" % (which, _code(exc))) from None
        try:
            yield Tx(conn, self._args["read_timeout"])
        except BaseException as exc:
            try:
                conn.rollback()
            except Exception:
                self._drop(which)
            if isinstance(exc, (MySQLdb.OperationalError, MySQLdb.InterfaceError)) and _code(exc) in _GONE | {0}:
                self._drop(which)
                if _code(exc) == 2013 and "timeout" in str(exc).lower():
                    raise DatabaseTimeout("the %s database did not answer in time" % which) from None
                raise DatabaseUnavailable("lost the %s database during a transaction" % which) from None
            raise
        try:
            conn.commit()
        except (MySQLdb.OperationalError, MySQLdb.InterfaceError):
            self._drop(which)
            raise DatabaseUnavailable("lost the %s database at commit; the change may not be saved" % which) from None

    def ping(self, which: str = "config") -> float:
        """Round trip of a trivial query, in seconds (``rfapi check``)."""
        t = time.monotonic()
        self.query("SELECT 1", (), which)
        return time.monotonic() - t
