"""Values read from FreePBX's tables as text.

mysqlclient hands back VARCHAR/BLOB columns of FreePBX's latin1/binary tables as
bytes; an answer needs str. Two rules, one place: ``text`` for a field that is
always a string (NULL reads as ""), ``text_or_none`` where NULL means "not set"
and stays null in the answer."""
from __future__ import annotations

from typing import Any, Optional


def text(v: Any) -> str:
    """bytes -> str (UTF-8, undecodable bytes replaced); None -> ""; anything else str()."""
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    return "" if v is None else str(v)


def text_or_none(v: Any) -> Optional[Any]:
    """bytes -> str as ``text``; None and non-bytes values unchanged."""
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8", "replace")
    return v
