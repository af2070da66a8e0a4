"""Where FreePBX keeps its call records and in which clock: read by the CDR
search, the sync feed and the call-recording lookups alike."""
from __future__ import annotations

import re

from ..runtime import runtime

_TABLE = re.compile(r"^[A-Za-z0-9_]{1,64}$")


def table() -> str:
    """CDRDBTABLENAME (empty means ``cdr``). It becomes an identifier in SQL, so
    only a plain table name is accepted."""
    name = runtime().settings.get("CDRDBTABLENAME", "cdr")
    return name if _TABLE.match(name) else "cdr"


def gmt() -> bool:
    """CDRUSEGMT: calldate is stored in UTC rather than the PBX's local time."""
    return runtime().settings.get("CDRUSEGMT", "0").strip().lower() in ("1", "true", "yes", "on")
