"""The ``incoming`` table (inbound routes), FreePBX core's column names.

``incoming`` has no primary key; (extension, cidnum) is unique only by
FreePBX's PHP checks (WRITES.md §3), so writers serialise with a locking read."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from . import exact
from ..text import text_or_none

# Every column of core's module.xml, in its order. Named, never SELECT *:
# upgraded boxes have a different column order.
COLUMNS = ("cidnum", "extension", "destination", "privacyman", "alertinfo", "ringing", "fanswer", "mohclass",
           "description", "grppre", "delay_answer", "pricid", "pmmaxretries", "pmminlength", "reversal",
           "rvolume", "indication_zone")
_SELECT = "SELECT %s FROM incoming" % ", ".join("`%s`" % c for c in COLUMNS)
_ORDER = " ORDER BY extension, cidnum"


def _row(r: Dict[str, Any]) -> Dict[str, Any]:
    out = {c: text_or_none(r.get(c)) for c in COLUMNS}
    for c in ("privacyman", "delay_answer"):
        if out[c] is not None:
            out[c] = int(out[c])
    return out


def all_routes(db) -> List[Dict[str, Any]]:
    return [_row(r) for r in db.query(_SELECT + _ORDER)]


def routes_for(db_or_tx, did: str, lock: bool = False) -> List[Dict[str, Any]]:
    """Routes whose DID is exactly ``did`` (any CID). ``lock``: FOR UPDATE.

    The table has no index, so the locking read scans (and locks) every row:
    all DID writers queue behind each other, which is what keeps the
    (extension, cidnum) pair unique. DID writes are rare; reads never lock."""
    sql = _SELECT + " WHERE extension = %s" + _ORDER + (" FOR UPDATE" if lock else "")
    return [_row(r) for r in exact(db_or_tx.query(sql, (did,)), "extension", did)]


def insert(tx, row: Dict[str, Any]) -> None:
    cols = [c for c in COLUMNS if c in row]
    tx.execute("INSERT INTO incoming (%s) VALUES (%s)" % (", ".join("`%s`" % c for c in cols),
                                                          ", ".join(["%s"] * len(cols))),
               [row[c] for c in cols])


def delete(tx, did: str) -> int:
    return tx.execute("DELETE FROM incoming WHERE extension = %s", (did,))


def core_major_version(db) -> Optional[int]:
    """Major version of the installed core module (16, 17, ...), None if unknown."""
    rows = db.query("SELECT version FROM modules WHERE modulename = %s", ("core",), missing_ok=True)
    best = None
    for r in rows:
        m = re.match(r"\s*(\d+)", text_or_none(r["version"]) or "")
        if m:
            best = max(best or 0, int(m.group(1)))
    return best


def update(tx, did: str, cidnum: Optional[str], values: Dict[str, Any]) -> int:
    """Core::editDIDProperties: only the given columns of the route (did, cidnum).
    ``<=>``: a NULL cidnum (rows written by hand) is matched as NULL."""
    cols = [c for c in values if c in COLUMNS and c not in ("extension", "cidnum")]
    if len(cols) != len(values):
        raise ValueError("not an editable incoming column: %s" % ", ".join(sorted(set(values) - set(cols))))
    return tx.execute("UPDATE incoming SET %s WHERE extension = %%s AND cidnum <=> %%s"
                      % ", ".join("`%s` = %%s" % c for c in cols), [values[c] for c in cols] + [did, cidnum])
