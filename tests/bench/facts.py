"""Facts about the machine and the processes a benchmark run measures: the
hardware and versions recorded with every result, a digest of the code under
test (an edit during a run makes its numbers incomparable) and a worker's
peak memory (VmHWM, resettable through /proc/<pid>/clear_refs)."""
from __future__ import annotations

import contextlib
import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any, Dict

from tests.support import dbworld

REPO = Path(__file__).resolve().parents[2]


def proc_status(pid: int) -> Dict[str, int]:
    out = {}
    try:
        for line in Path("/proc/%d/status" % pid).read_text().splitlines():
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0])  # kB
    except OSError:
        pass
    return out


def reset_peak(pid: int) -> bool:
    try:
        Path("/proc/%d/clear_refs" % pid).write_text("5")  # 5 = reset the peak RSS (VmHWM) to the current RSS
        return True
    except OSError:
        return False


def source_hash() -> str:
    """Digest of every file under rfapi/ and deploy/ (detects edits made during a run)."""
    import hashlib

    h = hashlib.sha1()
    for base in ("rfapi", "deploy"):
        for p in sorted((REPO / base).rglob("*")):
            if p.is_file() and "__pycache__" not in p.parts:
                h.update(str(p.relative_to(REPO)).encode())
                with contextlib.suppress(OSError):
                    h.update(p.read_bytes())
    return h.hexdigest()


def machine_facts() -> Dict[str, Any]:
    facts: Dict[str, Any] = {"date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
                             "cpus": os.cpu_count(), "python": platform.python_version(),
                             "platform": platform.platform(), "loadavg_start": os.getloadavg()}
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                facts["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                facts["mem_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    with contextlib.suppress(Exception):
        import gunicorn

        facts["gunicorn"] = gunicorn.__version__
    with contextlib.suppress(Exception):
        conn = dbworld.connect(autocommit=True)
        cur = conn.cursor()
        cur.execute("SELECT VERSION(), @@innodb_buffer_pool_size")
        v, bp = cur.fetchone()
        facts["mariadb"] = v
        facts["innodb_buffer_pool_mb"] = int(bp) // (1024 * 1024)
        conn.close()
    with contextlib.suppress(Exception):
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=str(REPO), capture_output=True,
                             text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "rfapi", "deploy"], cwd=str(REPO),
                               capture_output=True, text=True).stdout.strip()
        facts["git"] = rev + (" + uncommitted changes in rfapi/ or deploy/" if dirty else "")
    return facts
