"""AstDB actions (DBPut, DBGet, DBGetTree, DBDel, DBDelTree) over the ``astdb``
dict, with Asterisk's prefix-safe tree matching and its error texts.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

from .conn import PeerConn
from .wire import Action, ack, aid_header, error, list_complete, list_start, render_message


def _family_and_key(conn: PeerConn, act: Action, aid: str, stop: str = ".") -> Optional[Tuple[str, str]]:
    """An AstDB action's Family and Key, or None once Asterisk's refusal of a missing one is
    sent (DBPut's texts end without the full stop that DBGet's and DBDel's have)."""
    family, key = act.get("Family", "") or "", act.get("Key", "") or ""
    if not family:
        conn.send(error(aid, "No family specified" + stop))
    elif not key:
        conn.send(error(aid, "No key specified" + stop))
    else:
        return family, key
    return None


class AstDBHandlers:
    """AstDB actions of ``AmiPeer`` (a mixin)."""

    def _a_dbput(self, conn: PeerConn, act: Action, aid: str) -> bool:
        named = _family_and_key(conn, act, aid, stop="")
        if named:
            with self.lock:
                self.astdb["/%s/%s" % named] = act.get("Val", "") or ""
            conn.send(ack(aid, "Updated database successfully"))
        return True

    def _a_dbget(self, conn: PeerConn, act: Action, aid: str) -> bool:
        named = _family_and_key(conn, act, aid)
        if not named:
            return True
        family, key = named
        with self.lock:
            val = self.astdb.get("/%s/%s" % named)
        if val is None:
            conn.send(error(aid, "Database entry not found"))
            return True
        # DBGetResponse is the one event that puts ActionID last.
        conn.send(list_start(aid, "Result will follow")
                  + render_message([("Event", "DBGetResponse"), ("Family", family), ("Key", key),
                                    ("Val", val)] + aid_header(aid))
                  + list_complete("DBGetComplete", aid, 1))
        return True

    def _db_tree(self, family: str, key: str) -> List[Tuple[str, str]]:
        # Prefix-safe like Asterisk's "key || '/' LIKE prefix || '/%'":
        # /AMPUSER/10 matches /AMPUSER/10 and /AMPUSER/10/..., not /AMPUSER/101.
        prefix = "/%s/%s" % (family, key) if key else "/%s" % family
        with self.lock:
            return sorted((k, v) for k, v in self.astdb.items()
                          if k == prefix or k.startswith(prefix + "/"))

    def _db_deltree(self, family: str, key: str) -> int:
        rows = self._db_tree(family, key)
        with self.lock:
            for k, _ in rows:
                self.astdb.pop(k, None)
        return len(rows)

    def _a_dbgettree(self, conn: PeerConn, act: Action, aid: str) -> bool:
        family, key = act.get("Family", "") or "", act.get("Key", "") or ""
        if not family:
            conn.send(error(aid, "'Family' header required"))
            return True
        rows = self._db_tree(family, key)
        items = [[("Key", k), ("Val", v)] for k, v in rows]
        # Like DBGetResponse, the tree items put ActionID last.
        parts = [list_start(aid, "Result will follow")]
        parts += [render_message([("Event", "DBGetTreeResponse")] + it + aid_header(aid)) for it in items]
        parts.append(list_complete("DBGetTreeComplete", aid, len(items)))
        conn.send(b"".join(parts))
        return True

    def _a_dbdel(self, conn: PeerConn, act: Action, aid: str) -> bool:
        named = _family_and_key(conn, act, aid)
        if not named:
            return True
        with self.lock:
            found = self.astdb.pop("/%s/%s" % named, None) is not None
        conn.send(ack(aid, "Key deleted successfully") if found
                  else error(aid, "Database entry could not be deleted"))
        return True

    def _a_dbdeltree(self, conn: PeerConn, act: Action, aid: str) -> bool:
        family, key = act.get("Family", "") or "", act.get("Key", "") or ""
        if not family:
            conn.send(error(aid, "No family specified."))
            return True
        n = self._db_deltree(family, key)
        conn.send(ack(aid, "Key tree deleted successfully") if n
                  else error(aid, "Database entry not found"))
        return True
