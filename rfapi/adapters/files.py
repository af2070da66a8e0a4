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
