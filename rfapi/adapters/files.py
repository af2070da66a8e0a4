"""Files adapter: every path built from user input stays inside its base directory,
and every rewrite is atomic (temp file + fsync + rename, same owner and mode)."""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
import tempfile
import threading
import time
from typing import Iterator, Optional

# A path component from user input: no separators, no NUL, not "." or "..".
_SAFE_PART = re.compile(r"^[A-Za-z0-9_.+@=-][A-Za-z0-9 _.,+@=()&-]*$")


class UnsafePath(ValueError):
    pass


def safe_part(part: str) -> str:
    """Check one user-supplied path component."""
    if not part or part in (".", "..") or "/" in part or "\\" in part or "\x00" in part \
            or not _SAFE_PART.match(part) or ".." in part:
        raise UnsafePath(part)
    return part


def confined(base: str, *parts: str, must_exist: bool = False) -> str:
    """Join parts under base; refuse anything that resolves outside it.

    Symlinks are resolved first, so a link inside the tree pointing outside is
    refused as well."""
    base_real = os.path.realpath(base)
    for p in parts:
        if p is None or "\x00" in p or os.path.isabs(p):
            raise UnsafePath(str(p))
    path = os.path.realpath(os.path.join(base_real, *parts))
    if path != base_real and not path.startswith(base_real + os.sep):
        raise UnsafePath(os.path.join(*parts) if parts else base)
    if must_exist and not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


_locks = {}
_locks_guard = threading.Lock()


class LockTimeout(OSError):
    """Another writer held the file longer than we are willing to wait."""


@contextlib.contextmanager
def locked(path: str, timeout: float = 30.0) -> Iterator[None]:
    """Serialise writers of ``path``: threads of this process (a mutex) and other
    processes (flock on ``<path>.rfapi.lock`` beside it). Waits at most
    ``timeout`` seconds, then raises LockTimeout (the API answers 503)."""
    with _locks_guard:
        lock = _locks.setdefault(path, threading.Lock())
    deadline = time.monotonic() + timeout
    if not lock.acquire(timeout=timeout):
        raise LockTimeout("%s is locked by another request" % os.path.basename(path))
    try:
        lockfile = path + ".rfapi.lock"
        fd = os.open(lockfile, os.O_RDWR | os.O_CREAT, 0o640)
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise LockTimeout("%s is locked by another process" % os.path.basename(path)) from None
                    time.sleep(0.02)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    finally:
        lock.release()


def read_text(path: str) -> str:
    with open(path, "rb") as fh:
        return fh.read().decode("utf-8", "surrogateescape")


def write_atomic(path: str, data: bytes, mode: Optional[int] = None) -> None:
    """Replace ``path`` with ``data`` in one rename; keep owner and mode of the old file."""
    directory = os.path.dirname(path) or "."
    try:
        st = os.stat(path)
        mode = st.st_mode & 0o7777 if mode is None else mode
        owner = (st.st_uid, st.st_gid)
    except FileNotFoundError:
        mode = 0o640 if mode is None else mode
        owner = None
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        if owner is not None:
            try:
                os.chown(tmp, *owner)
            except PermissionError:
                pass  # not root: the file stays ours, which is who wrote it anyway
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dfd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class SharedCounter:
    """A number every process on the box sees change, read without a system call.

    Per-process caches (admin logins, the failed-login view) must notice a change
    made by another gunicorn worker; asking the file system on every request
    (a stat) costs a system call and a GIL hand-off per request. Here the file
    holds an 8-byte counter mapped into memory (MAP_SHARED): ``value`` is a memory
    read, ``bump()`` increments it under an exclusive flock. If the file is
    replaced behind our back (cache dir wiped), ``value`` notices within
    ``RECHECK`` seconds by comparing the inode, and maps the new file.
    Any failure leaves ``value`` at None: callers then treat every read as a change."""

    RECHECK = 1.0
    _SIZE = 8

    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()
        self._map = None
        self._ino = None
        self._checked = 0.0
        self._open()

    def _open(self) -> None:
        import mmap

        self._checked = time.monotonic()
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o660)
        except OSError:
            self._map, self._ino = None, None
            return
        try:
            st = os.fstat(fd)
            if st.st_size < self._SIZE:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    if os.fstat(fd).st_size < self._SIZE:  # another process may have just done it
                        os.ftruncate(fd, self._SIZE)
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            self._map = mmap.mmap(fd, self._SIZE, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
            self._ino = st.st_ino
        except (OSError, ValueError):
            self._map, self._ino = None, None
        finally:
            os.close(fd)

    def _current(self):
        if time.monotonic() - self._checked > self.RECHECK:
            with self._lock:
                if time.monotonic() - self._checked > self.RECHECK:
                    try:
                        ino = os.stat(self.path).st_ino
                    except OSError:
                        ino = None
                    if ino is None or ino != self._ino:
                        self._open()
                    else:
                        self._checked = time.monotonic()
        return self._map

    @property
    def value(self) -> Optional[int]:
        m = self._current()
        if m is None:
            return None
        try:
            return int.from_bytes(m[:self._SIZE], "little")
        except ValueError:  # closed map
            return None

    def bump(self) -> None:
        """Add one (across processes: under an exclusive flock on the file)."""
        with self._lock:
            self._checked = 0.0  # look at the file itself now: it may have been replaced
        m = self._current()
        if m is None:
            raise OSError("shared counter %s is not usable" % self.path)
        fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                n = int.from_bytes(m[:self._SIZE], "little")
                m[:self._SIZE] = ((n + 1) % (1 << 64)).to_bytes(self._SIZE, "little")
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def confined_name(base: str, name: str) -> str:
    """A file name stored by someone else (e.g. a database column): either relative to
    ``base`` (sub-folders allowed) or an absolute path that must lie inside ``base``.
    Returns the resolved path; anything resolving outside ``base`` (``..``, an absolute
    path elsewhere, a symlink leading out) or holding NUL raises UnsafePath."""
    if not name or "\x00" in name:
        raise UnsafePath(str(name))
    if not os.path.isabs(name):
        return confined(base, name)
    base_real = os.path.realpath(base)
    path = os.path.realpath(name)
    if not path.startswith(base_real + os.sep):
        raise UnsafePath(name)
    return path
