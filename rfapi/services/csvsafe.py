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


# One search over a whole row (cells joined by NUL, one in front) finds any cell that may
# need the prefix; most rows have none and skip the per-cell test (a CDR export writes
# millions of rows). A NUL inside a value can only cause a needless per-cell pass.
_ROW_NEEDS = re.compile("\x00'*[=+\\-@\t\r]")


def cells(values) -> list:
    """``cell`` of each value as text (None as the empty cell, as csv.writer writes it)."""
    texts = [v if v.__class__ is str else ("" if v is None else str(v)) for v in values]
    if _ROW_NEEDS.search("\x00" + "\x00".join(texts)) is None:
        return texts
    return [cell(t) for t in texts]


def uncell(text: str) -> str:
    """The value of a cell written by ``cell`` (one neutralising quote removed)."""
    return text[1:] if _PREFIXED.match(text) else text
