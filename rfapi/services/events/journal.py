"""The journal of rfapi's own writes, shared by every worker: one JSON line per write and a
shared counter that tells every process to read it."""
from __future__ import annotations

import json
import os
from typing import Any, Dict, List

from ...adapters import files


JOURNAL = "events.journal"
JOURNAL_COUNTER = "events.generation"
JOURNAL_MAX = 1024 * 1024  # bytes: then the journal is rotated (readers follow the rename)

# -- the journal of rfapi's own writes (shared by every worker) ------------------------
class Journal:
    """Append-only JSON lines in the cache directory, announced by a SharedCounter."""

    def __init__(self, directory: str):
        self.path = os.path.join(directory, JOURNAL)
        self.counter = files.SharedCounter(os.path.join(directory, JOURNAL_COUNTER))

    def append(self, record: Dict[str, Any]) -> None:
        import fcntl

        line = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o660)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if os.fstat(fd).st_size + len(line) > JOURNAL_MAX:
                # Rotate: readers still hold the old file open and drain it first.
                os.replace(self.path, self.path + ".1")
                os.close(fd)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o660)
                fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)  # one write(): lines never interleave
        finally:
            os.close(fd)
        self.counter.bump()


class JournalReader:
    def __init__(self, journal: Journal):
        self.journal = journal
        self._fh = None
        self._ino = None
        self._buf = b""
        self._open(at_end=True)

    def _open(self, at_end: bool) -> None:
        try:
            fh = open(self.journal.path, "rb")
        except FileNotFoundError:
            self._fh, self._ino = None, None
            return
        if at_end:
            fh.seek(0, os.SEEK_END)
        self._fh, self._ino = fh, os.fstat(fh.fileno()).st_ino

    def read(self) -> List[Dict[str, Any]]:
        chunks = []
        if self._fh is not None:
            chunks.append(self._fh.read())
        try:
            ino = os.stat(self.journal.path).st_ino
        except FileNotFoundError:
            ino = None
        if ino is not None and ino != self._ino:  # rotated (or created): the rest of the old, then the new
            if self._fh is not None:
                chunks.append(self._fh.read())
                self._fh.close()
            self._open(at_end=False)
            if self._fh is not None:
                chunks.append(self._fh.read())
        data = self._buf + b"".join(chunks)
        lines = data.split(b"\n")
        self._buf = lines.pop()
        out = []
        for line in lines:
            try:
                out.append(json.loads(line))
            except ValueError:
                continue
        return out

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
