"""AstDB writes (and custom device states) that remember what they replaced, so a
write that fails midway is undone: used by follow-me and the call services, whose
changes live in AstDB rather than in one SQL transaction."""
from __future__ import annotations

import logging
from typing import List, Optional, Tuple

from ..errors import ApiError
from ..runtime import runtime

log = logging.getLogger("rfapi.astdb")


class AstdbWriter:
    """AstDB puts/deletes and custom device states that remember what they replaced."""

    def __init__(self, what: str):
        self.what = what
        self.ami = runtime().ami
        self.undo: List[Tuple[str, str, Optional[str], bool]] = []  # family, key, old value, is a devstate

    def get(self, family: str, key: str) -> Optional[str]:
        return self.ami.db_get(family, key)

    def put(self, family: str, key: str, value: str, old: Optional[str]) -> None:
        if old == value:
            return
        self.undo.append((family, key, old, False))  # first: a lost answer may still have written it
        self._check(self.ami.action("DBPut", [("Family", family), ("Key", key), ("Val", value)]),
                    "AstDB %s/%s" % (family, key))

    def delete(self, family: str, key: str, old: Optional[str]) -> None:
        if old is None:
            return
        self.undo.append((family, key, old, False))
        self.ami.db_del(family, key)

    def flag(self, family: str, key: str, on: bool, value: str) -> None:
        """An on/off AstDB key as FreePBX keeps it: ``value`` when on, no key when off."""
        old = self.get(family, key)
        if on:
            self.put(family, key, value, old)
        else:
            self.delete(family, key, old)

    def devstate(self, name: str, state: str) -> bool:
        """Set ``Custom:<name>`` (and its ``CustomDevstate/<name>`` key) unless it already
        holds ``state``; True when it was set."""
        old = self.ami.db_get("CustomDevstate", name)
        if old == state:
            return False
        self.undo.append(("CustomDevstate", name, old, True))
        self._set_devstate(name, state)
        return True

    def _set_devstate(self, name: str, state: str) -> None:
        self._check(self.ami.action("DBPut", [("Family", "CustomDevstate"), ("Key", name), ("Val", state)]),
                    "AstDB CustomDevstate/%s" % name)
        self._check(self.ami.action("Setvar", [("Variable", "DEVICE_STATE(Custom:%s)" % name), ("Value", state)]),
                    "the device state Custom:%s" % name)

    @staticmethod
    def _check(resp, what: str) -> None:
        if not resp.ok:
            raise ApiError("Asterisk refused to update %s" % what, status=502)

    @property
    def changed(self) -> bool:
        return bool(self.undo)

    def rollback(self) -> None:
        failed = []
        for family, key, old, is_state in reversed(self.undo):
            try:
                if is_state and old is not None:
                    self._set_devstate(key, old)
                elif old is None:
                    self.ami.db_del(family, key)
                else:
                    self.ami.db_put(family, key, old)
            except Exception:  # keep undoing the rest; report below
                failed.append("%s/%s" % (family, key))
        if failed:
            log.error("%s: write failed and these AstDB keys could not be restored: %s", self.what,
                      ", ".join(failed))
        self.undo = []


def run(writer: AstdbWriter, work) -> None:
    """Run ``work()``; on any failure undo what it wrote, then re-raise."""
    try:
        work()
    except BaseException:
        writer.rollback()
        raise
