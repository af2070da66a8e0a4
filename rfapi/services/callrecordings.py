"""Call recordings: the file named in ``cdr.recordingfile``, under FreePBX's monitor spool.

Where FreePBX puts them (cdr module, ``Cdr::processPath`` / page.cdr.php): the folder
is ``MIXMON_DIR`` when set, else ``ASTSPOOLDIR/monitor`` (rfapi: ``[paths] monitor``),
then ``YYYY/MM/DD/`` taken from the 4th ``-``-separated part of the name
(``in-<to>-<from>-YYYYMMDD-HHMMSS-<uniqueid>.wav``: the day the recording started).
A name whose 4th part is not a date falls back to the day of the row's calldate.
``.wav49`` names are stored as ``.WAV`` (FreePBX's own mapping). Older FreePBX
versions stored a full path: it is accepted only if it resolves inside the monitor
directory. Names come from the database and are untrusted: every candidate goes
through ``adapters.files.confined_name`` (no ``..``, no path elsewhere, no symlink out).
"""
from __future__ import annotations

import datetime as _dt
import os
from typing import Any, Dict, List, Optional, Tuple

from .. import audit
from ..adapters.files import UnsafePath, confined_name
from ..dao import cdr as dao
from ..errors import NotFound
from ..runtime import runtime
from . import cdrsettings
from .recordings import content_type
from ..text import text


def _day_dirs(name: str, calldate_day: Optional[str]) -> List[str]:
    """Candidate YYYY/MM/DD folders: from the name (FreePBX's rule), then from calldate."""
    out = []
    parts = os.path.basename(name).split("-")
    for day in ((parts[3][:8] if len(parts) > 3 else None), calldate_day):
        if not day or len(day) != 8 or not day.isdigit():
            continue
        try:
            _dt.date(int(day[:4]), int(day[4:6]), int(day[6:8]))
        except ValueError:
            continue
        d = "%s/%s/%s" % (day[:4], day[4:6], day[6:8])
        if d not in out:
            out.append(d)
    return out


def _candidates(base: str, name: str, calldate_day: Optional[str]) -> List[str]:
    """Confined paths the stored name may refer to, in FreePBX's order (unsafe ones dropped)."""
    if name.endswith(".wav49"):
        name = name[:-len(".wav49")] + ".WAV"
    if os.path.isabs(name):
        names = [name]
    elif "/" in name:
        names = [name]  # already relative to the monitor folder (e.g. 2024/01/02/x.wav)
    else:
        names = [d + "/" + name for d in _day_dirs(name, calldate_day)] + [name]
    out = []
    for n in names:
        try:
            out.append(confined_name(base, n))
        except UnsafePath:
            continue
    return out


def _existing(base: str, row: Dict[str, Any]) -> Optional[str]:
    name = text(row["recordingfile"])
    for path in _candidates(base, name, text(row["day"])):
        if os.path.isfile(path):
            return path
    return None


def find(uniqueid: str) -> Tuple[Dict[str, Any], str]:
    """(row, path) of the recording of ``uniqueid``. Several rows share a uniqueid
    (one per leg of the same channel: transfers, trunk fail-over); the row used is
    the oldest (calldate, then sequence) whose recordingfile names a file that exists."""
    rt = runtime()
    rows = [r for r in dao.rows_of_uniqueid(rt.db, cdrsettings.table(), uniqueid) if text(r["uniqueid"]) == uniqueid]
    if not rows:
        raise NotFound("No call record with uniqueid %s" % uniqueid)
    named = [r for r in rows if text(r["recordingfile"]).strip()]
    if not named:
        raise NotFound("Call %s has no recording" % uniqueid)
    base = rt.path("monitor")
    for r in named:
        path = _existing(base, r)
        if path is not None:
            return r, path
    raise NotFound("The recording of call %s is not on disk" % uniqueid)


def delete(uniqueid: str) -> Dict[str, Any]:
    row, path = find(uniqueid)
    try:
        os.unlink(path)
    except FileNotFoundError:
        raise NotFound("The recording of call %s is not on disk" % uniqueid) from None
    result = {"uniqueid": uniqueid, "sequence": row["sequence"], "recordingfile": text(row["recordingfile"]),
              "deleted": os.path.relpath(path, os.path.realpath(runtime().path("monitor")))}
    audit.record("cdr.recording.delete", result)
    return result


def exists_for(rows: List[Dict[str, Any]], base: Optional[str] = None) -> None:
    """Add ``recording`` (true/false: the file named in recordingfile is on disk) to API rows."""
    base = base or runtime().path("monitor")
    for r in rows:
        name = r["recordingfile"]
        if not name:
            r["recording"] = False
            continue
        day = r["calldate"][:10].replace("-", "")
        r["recording"] = any(os.path.isfile(p) for p in _candidates(base, name, day))


def mimetype(path: str) -> str:
    ext = path.rpartition(".")[2]
    return content_type(ext) if ext else content_type("")
