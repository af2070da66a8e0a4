"""What a write changed on a PBX, in one comparable shape for FreePBX's run and rfapi's.

A state is read before and after; the change is, per part, every key whose value
differs, mapped to its value afterwards (None = gone):

* ``rows``: table -> primary key (a JSON list of the key columns' values) -> the row
  (column -> value) or None. Tables without a primary key are keyed by the whole row.
* ``astdb``: ``/FAMILY/key`` -> value or None.
* ``voicemail_conf``: ``context|key`` -> value (as after ``=`` or ``=>``, stripped) or None;
  the file's layout (comments, spacing, order) is not compared, only what Asterisk reads.
* ``spool``: path under the voicemail spool -> ``dir``, ``file:<sha256>`` or ``link:<target>``, or None.
"""
from __future__ import annotations

import datetime
import decimal
import hashlib
import json
import os
from pathlib import Path
from typing import Any, Dict, Optional

import MySQLdb


def _value(v: Any) -> Any:
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    if isinstance(v, (datetime.date, datetime.datetime, datetime.timedelta, decimal.Decimal)):
        return str(v)
    return v


def _keys(cur, db: str) -> Dict[str, list]:
    cur.execute(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA = %s AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY TABLE_NAME, ORDINAL_POSITION", (db,))
    keys: Dict[str, list] = {}
    for table, col in cur.fetchall():
        keys.setdefault(table, []).append(col)
    return keys


def db_state(conn_args: Dict[str, Any], db: str) -> Dict[str, Dict[str, Dict[str, Any]]]:
    conn = MySQLdb.connect(db=db, **conn_args)
    try:
        cur = conn.cursor()
        keys = _keys(cur, db)
        cur.execute("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                    "AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME", (db,))
        out: Dict[str, Dict[str, Dict[str, Any]]] = {}
        for (table,) in cur.fetchall():
            cur.execute("SELECT * FROM `%s`" % table)
            cols = [d[0] for d in cur.description]
            rows: Dict[str, Dict[str, Any]] = {}
            for r in cur.fetchall():
                row = {c: _value(v) for c, v in zip(cols, r)}
                key_cols = keys.get(table) or cols
                rows[json.dumps([row[c] for c in key_cols], ensure_ascii=False)] = row
            out[table] = rows
        return out
    finally:
        conn.close()


def vm_state(text: str) -> Dict[str, str]:
    """voicemail.conf as Asterisk's config parser reads it: (context, key) -> value."""
    out: Dict[str, str] = {}
    section: Optional[str] = None
    for raw in text.splitlines():
        line = raw
        i = 0
        while True:  # a ';' not escaped with '\' starts a comment
            i = line.find(";", i)
            if i < 0 or i == 0 or line[i - 1] != "\\":
                break
            i += 1
        if i >= 0:
            line = line[:i]
        line = line.strip()
        if not line:
            continue
        if line.startswith("[") and "]" in line:
            section = line[1:line.index("]")]
            continue
        if section is None or "=" not in line:
            continue
        key, value = line.split("=", 1)
        if value.startswith(">"):
            value = value[1:]
        out["%s|%s" % (section, key.strip())] = value.strip()
    return out


def spool_state(root: Path) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = "file:" + hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _diff_flat(before: Dict[str, Any], after: Dict[str, Any]) -> Dict[str, Any]:
    return {k: after.get(k) for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)
            or (k in before) != (k in after)}


def diff(before: Dict[str, Any], after: Dict[str, Any]) -> Dict[str, Any]:
    """The change from `before` to `after` (states with rows/astdb/voicemail_conf/spool)."""
    rows: Dict[str, Any] = {}
    for table in sorted(set(before["rows"]) | set(after["rows"])):
        d = _diff_flat(before["rows"].get(table, {}), after["rows"].get(table, {}))
        if d:
            rows[table] = d
    return {"rows": rows, "astdb": _diff_flat(before["astdb"], after["astdb"]),
            "voicemail_conf": _diff_flat(before["voicemail_conf"], after["voicemail_conf"]),
            "spool": _diff_flat(before["spool"], after["spool"])}


def dumps(obj: Any) -> str:
    """The golden files' one serialization: sorted keys, 1-space indent, UTF-8, final newline."""
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
