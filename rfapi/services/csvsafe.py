"""CSV cells a spreadsheet will not run as formulas (OWASP "CSV Injection").

Excel, LibreOffice and Google Sheets treat a cell that begins with ``=``, ``+``,
``-``, ``@``, TAB or CR as a formula (``=HYPERLINK(...)``, ``=cmd|...``). Every
CSV this API writes passes each cell through ``cell()``, which prefixes such a
cell with a single quote, as OWASP recommends: the spreadsheet shows the text,
it runs nothing. All such cells are neutralised, including legitimate ones
(``+15551234567``, ``-1``): a spreadsheet cannot tell them apart from formulas.

The prefix must come off again when the file is read back (POST
/extensions/import), and only the prefix: a value that itself starts with
quotes followed by one of those characters (``'=x``) gets one more quote on the
way out. So ``cell`` maps exactly the values matching ``^'*[=+\\-@\\t\\r]`` to
``"'" + value``, and ``uncell`` takes one quote off exactly the cells matching
``^'+[=+\\-@\\t\\r]``: export -> import restores every value unchanged.
"""
from __future__ import annotations

import re

TRIGGERS = "=+-@\t\r"
_NEEDS_PREFIX = re.compile(r"^'*[=+\-@\t\r]")
_PREFIXED = re.compile(r"^'+[=+\-@\t\r]")


_FIRST = frozenset(TRIGGERS + "'")


def cell(value: str) -> str:
    """The CSV cell for ``value``: prefixed with ' when a spreadsheet would run it."""
    # First-character test before the pattern: a CDR export runs this for every cell.
    if value and value[0] in _FIRST and _NEEDS_PREFIX.match(value):
        return "'" + value
    return value


def uncell(text: str) -> str:
    """The value of a cell written by ``cell`` (one neutralising quote removed)."""
    return text[1:] if _PREFIXED.match(text) else text
