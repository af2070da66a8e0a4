"""FreePBX's destination: where a call goes next, ``context,exten,priority``
(e.g. ``from-did-direct,101,1``), as every module stores it in its own tables.
One pattern for every field that takes one (inbound routes, an extension's
no-answer/busy/unavailable destinations), so they all accept the same text."""
from __future__ import annotations

import re

# No control character in a part (rfapi refuses them everywhere; the document says so here too).
PATTERN = r"[^,\x00-\x1f\x7f-\x9f\u2028\u2029]+,[^,\x00-\x1f\x7f-\x9f\u2028\u2029]+,[^,\x00-\x1f\x7f-\x9f\u2028\u2029]+"
HELP = "must be context,exten,priority"
MATCH = re.compile(PATTERN)


def is_destination(value: str) -> bool:
    return MATCH.fullmatch(value) is not None
