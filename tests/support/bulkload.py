"""Many rows into a table with secondary indexes: drop the indexes, load, then add them
back in one ALTER TABLE (a sorted build per index instead of an index insert per row
and index; for the cdr table's six indexes, about half the load time at 100,000 rows).

The table's definition after the rebuild is checked against the one before, so the
reference DDL is what the tests run on."""
from __future__ import annotations

import contextlib
import re
from typing import Iterator

SECONDARY_INDEXES = re.compile(r"^\s*KEY `(\w+)` \(([^)]*)\)", re.M)


def show_create(cur, db: str, table: str) -> str:
    cur.execute("SHOW CREATE TABLE `%s`.`%s`" % (db, table))
    return cur.fetchone()[1]


@contextlib.contextmanager
def indexes_built_after(cur, db: str, table: str) -> Iterator[None]:
    """``with indexes_built_after(cur, db, "cdr"): <load rows>`` - the indexes come back
    (and the definition is checked) when the block ends, also when it fails."""
    ddl = show_create(cur, db, table)
    indexes = SECONDARY_INDEXES.findall(ddl)
    if indexes:
        cur.execute("ALTER TABLE `%s`.`%s` " % (db, table) + ", ".join("DROP KEY `%s`" % n for n, _ in indexes))
    try:
        yield
    finally:
        if indexes:
            cur.execute("ALTER TABLE `%s`.`%s` " % (db, table) +
                        ", ".join("ADD KEY `%s` (%s)" % (n, cols) for n, cols in indexes))
            if show_create(cur, db, table) != ddl:
                raise RuntimeError("%s definition differs from the reference DDL after the index rebuild" % table)
