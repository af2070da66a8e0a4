"""Data-access functions: the SQL of each resource (raw, parameterized)."""
from __future__ import annotations

from typing import Any, Dict, Iterable, List, Optional


def exact(rows: Iterable[Dict[str, Any]], column: str, value: str, fold_case: bool = False) -> List[Dict[str, Any]]:
    """The rows whose ``column`` is exactly ``value``.

    FreePBX's tables are utf8mb4_unicode_ci: in SQL '102 ' and '102<U+200B>'
    equal '102' (PAD SPACE, ignorable characters) and 'admín' equals 'admin'.
    Every lookup on a key a client gives runs its indexed ``col = %s`` and keeps
    only the rows that match here, byte for byte (``fold_case``: ignoring case
    only, for admin user names as FreePBX compares them)."""
    want = value.lower() if fold_case else value
    out = []
    for r in rows:
        got = r.get(column)
        if isinstance(got, (bytes, bytearray)):
            got = got.decode("utf-8", "replace")
        if isinstance(got, str) and (got.lower() if fold_case else got) == want:
            out.append(r)
    return out


def first(rows: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    return rows[0] if rows else None
