"""FreePBX-style booleans: the words a form, a query string or a CSV cell may use
for yes and no. HTTP-free, so services that read FreePBX's own values use it too."""
from __future__ import annotations

import re
from typing import Any

TRUE = {"1", "true", "yes", "on", "y"}
FALSE = {"0", "false", "no", "off", "n", ""}


def _any_case(word: str) -> str:
    return "".join("[%s%s]" % (c.lower(), c.upper()) if c.isalpha() else re.escape(c) for c in word)


# The words truthy() takes, as a pattern (any case; '' is no).
BOOLEAN_WORDS_PATTERN = "^(?:%s)$" % "|".join(_any_case(w) for w in sorted(TRUE | FALSE, key=lambda w: (len(w), w)))


def truthy(value: Any) -> bool:
    """FreePBX-style booleans; anything unrecognised is a ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        v = value.lower()
        if v in TRUE:
            return True
        if v in FALSE:
            return False
    raise ValueError("must be a boolean (1/0, true/false, yes/no, on/off, y/n)")
