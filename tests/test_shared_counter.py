"""SharedCounter (files adapter): a counter every worker process sees change,
read from a memory map without a system call per read."""
from __future__ import annotations

import multiprocessing as mp
import os

import pytest

from rfapi.adapters.files import SharedCounter


def _bump_many(path, n):
    c = SharedCounter(path)
    for _ in range(n):
        c.bump()


def test_bumps_in_other_processes_are_seen_and_none_is_lost(tmp_path):
    path = str(tmp_path / "gen")
    c = SharedCounter(path)
    assert c.value == 0
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_bump_many, args=(path, 200)) for _ in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert c.value == 800  # four processes racing, every increment kept (flock)
    with open(path, "rb") as fh:
        assert fh.read() == (800).to_bytes(8, "little")


def test_a_replaced_file_is_noticed_within_the_recheck(tmp_path):
    path = str(tmp_path / "gen")
    c = SharedCounter(path)
    c.RECHECK = 0.0
    c.bump()
    assert c.value == 1
    os.unlink(path)                       # the cache dir was wiped...
    other = SharedCounter(path)           # ...and another worker starts afresh
    other.bump()
    other.bump()
    assert c.value == 2                   # mapped the new file


def test_unusable_file_reads_none_and_bump_raises(tmp_path):
    c = SharedCounter(str(tmp_path / "missing-dir" / "gen"))
    assert c.value is None
    with pytest.raises(OSError):
        c.bump()


def test_admin_cache_never_serves_a_hit_without_a_readable_generation(tmp_path):
    from rfapi.auth import AdminCache, User
    good = AdminCache(str(tmp_path / "ampusers.generation"))
    good.put(("admin", "h"), User("admin", "ampuser", True), 5)
    assert good.get(("admin", "h")) == User("admin", "ampuser", True)
    AdminCache(str(tmp_path / "ampusers.generation")).clear()   # another worker changed ampusers
    assert good.get(("admin", "h")) is None
    broken = AdminCache(str(tmp_path / "missing-dir" / "ampusers.generation"))
    broken.put(("admin", "h"), User("admin", "ampuser", True), 5)
    assert broken.get(("admin", "h")) is None
