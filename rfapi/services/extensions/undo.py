"""Lock, undo and failure answers shared by every extension write (create, delete,
PUT, import).

What is atomic and what is best-effort (docs/design.md, kept here next to the code):

  An extension is created or deleted under a MariaDB named lock
  (``GET_LOCK('rfapi.ext.<db>.<number>')``) held from the existence check to
  the end, so two requests for the same number never interleave. All SQL
  (users, devices, sip, findmefollow, the need-reload flag) runs in one
  transaction. AstDB (AMI DBPut/DBDel/DBDelTree) and voicemail.conf are
  changed only after every SQL statement succeeded and before COMMIT;
  voicemail.conf is locked for the whole change. If an AstDB or file step
  fails, or COMMIT fails, rfapi undoes what it already did — every AstDB key
  it touched is put back to the value read just before (or deleted if it did
  not exist), voicemail.conf gets its previous bytes back, a voicemail folder
  renamed for deletion is renamed back — and the transaction is rolled back,
  so nothing is half-created. Best-effort only: (1) the undo itself needs AMI;
  if Asterisk becomes unreachable in the middle of an undo, the keys it could
  not restore are logged and named in the error answer (data.not_restored,
  with data.undone=false) and the SQL is still rolled back; (2) when the database connection is lost
  during COMMIT the outcome is unknown: rfapi looks the row up again and keeps
  the AstDB/file changes if the row is there, else undoes them; (3) removing a
  voicemail folder (deletevoicemail=yes) happens after COMMIT (it was renamed
  aside before), so a failure there leaves a hidden ``.<box>.rfapi-deleted-*``
  folder, reported in the answer (data.voicemail_left), while the extension
  is gone.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Dict, List, Optional, Tuple

from ...adapters.ami import AmiError, AmiTimeout, AmiUnavailable
from ...adapters.db import DatabaseUnavailable
from ...dao import extensions as dao
from ...errors import ApiError, Conflict
from .rows import Op

log = logging.getLogger("rfapi.extensions")

LOCK_TIMEOUT = 10  # seconds to wait for another change to the same number


# ---------------------------------------------------------------------------
# AstDB with undo
# ---------------------------------------------------------------------------

class Undo:
    """Steps to take back, run newest first; every step is tried even if one fails."""

    def __init__(self) -> None:
        self.steps: List[Tuple[str, Callable[[], None]]] = []
        self.astdb_before: Dict[str, Optional[str]] = {}  # full key -> value before we touched it
        self.failed: List[str] = []

    def add(self, label: str, fn: Callable[[], None]) -> None:
        self.steps.append((label, fn))

    def run(self, ami) -> None:
        for label, fn in reversed(self.steps):
            try:
                fn()
            except Exception as exc:  # keep going: undo as much as possible
                log.error("undo step %s failed: %s", label, exc)
                self.failed.append(label)
        for full, value in reversed(list(self.astdb_before.items())):
            family, key = full[1:].split("/", 1)
            try:
                if value is None:
                    ami.db_del(family, key)
                else:
                    ami.db_put(family, key, value)
            except Exception as exc:
                log.error("undo of AstDB %s failed: %s", full, exc)
                self.failed.append(full)


def read_trees(ami, roots: List[Tuple[str, str]]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    for family, key in roots:
        out.update(ami.db_gettree(family, key))
    return out


def apply_astdb(ami, ops: List[Op], before: Dict[str, str], undo: Undo) -> None:
    """Run ops; every key is recorded (with its previous value) before it is sent,
    so a failure half-way - even on the key in flight - is undone exactly."""
    state = dict(before)
    for op, family, key, value in ops:
        full = "/%s/%s" % (family, key)
        if op == "put":
            undo.astdb_before.setdefault(full, before.get(full))
            ami.db_put(family, key, value)
            state[full] = value
        elif op == "del":
            if full not in state:
                continue
            undo.astdb_before.setdefault(full, before.get(full))
            ami.db_del(family, key)
            state.pop(full, None)
        elif op == "deltree":
            prefix = full
            doomed = [k for k in state if k == prefix or k.startswith(prefix + "/")]
            if not doomed:
                continue
            for k in doomed:
                undo.astdb_before.setdefault(k, before.get(k))
            ami.db_deltree(family, key)
            for k in doomed:
                state.pop(k, None)


def _after_state(before: Dict[str, str], ops: List[Op]) -> Dict[str, str]:
    """What AstDB holds once ``ops`` ran on ``before`` (computed, nothing read)."""
    state = dict(before)
    for op, family, key, value in ops:
        full = "/%s/%s" % (family, key)
        if op == "put":
            state[full] = value or ""
        elif op == "del":
            state.pop(full, None)
        else:
            for k in [k for k in state if k == full or k.startswith(full + "/")]:
                del state[k]
    return state


# ---------------------------------------------------------------------------
# Locks
# ---------------------------------------------------------------------------

class NumberLock:
    """MariaDB named lock serialising every rfapi change to one extension number
    (users/devices have no unique key, so the existence check and the insert must
    not interleave across workers)."""

    def __init__(self, db, number: str):
        self.db = db
        self.name = dao.lock_name(db.dbname("config"), number)
        self.number = number

    def __enter__(self) -> "NumberLock":
        if not dao.get_lock(self.db, self.name, LOCK_TIMEOUT):
            raise Conflict("Another change to extension %s is still in progress; try again" % self.number)
        return self

    def __exit__(self, *exc) -> None:
        try:
            dao.release_lock(self.db, self.name)
        except Exception as e:  # the lock dies with its connection anyway
            log.warning("could not release lock %s: %s", self.name, e)


# ---------------------------------------------------------------------------
# Failures
# ---------------------------------------------------------------------------

def _failure(exc: BaseException, undo: Undo, what: str) -> ApiError:
    """The answer for a write that failed after something was written."""
    data: Dict[str, Any] = {"undone": not undo.failed}
    if undo.failed:
        data["not_restored"] = undo.failed
    tail = "nothing was %s" % what if not undo.failed else \
        "the undo was incomplete (see data.not_restored; details in the log)"
    if isinstance(exc, AmiTimeout):
        return ApiError("Gateway Timeout: Asterisk did not answer in time; %s" % tail, data=data, status=504)
    if isinstance(exc, AmiUnavailable):
        return ApiError("Service Unavailable: Asterisk (AMI) is unreachable; %s" % tail, data=data, status=503)
    if isinstance(exc, AmiError):
        return ApiError("Asterisk refused an AstDB change; %s" % tail, data=data, status=502)
    if isinstance(exc, DatabaseUnavailable):
        return ApiError("Service Unavailable: the PBX database failed; %s" % tail, data=data, status=503)
    if isinstance(exc, OSError):
        return ApiError("Could not write voicemail.conf or the voicemail spool; %s" % tail, data=data, status=500)
    return ApiError("Internal error; %s" % tail, data=data, status=500)


def _known_failure(exc: BaseException) -> bool:
    """Failures with a specific answer; anything else is re-raised (500) after the undo."""
    return isinstance(exc, (AmiError, DatabaseUnavailable, OSError))


# A COMMIT that reported a failure: look again before deciding to undo.

def _row_exists(db, number: str) -> bool:
    try:
        return dao.user(db, number) is not None
    except Exception:
        return False


def _db_reachable(db) -> bool:
    try:
        db.query("SELECT 1")
        return True
    except Exception:
        return False
