"""AMI wire format: header framing, the CR/LF/NUL refusal and message parsing.

Every field sent is refused if it holds CR, LF or NUL (header injection): a value
with a line break would end the header, or the whole action, early and let the
caller smuggle in headers or actions of its own. Parsing keeps every header in
order (AMI repeats Output/Message/Variable headers; a dict would lose them)."""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from .errors import AmiInputError

Headers = Union[Dict[str, object], Sequence[Tuple[str, object]]]

FORBIDDEN = ("\r", "\n", "\x00")


def check_field(field: str, value: object) -> str:
    text = "" if value is None else str(value)
    if any(c in text for c in FORBIDDEN):
        raise AmiInputError(field)
    return text


class Message:
    """One AMI message with every header kept, in order (``pairs``); ``first`` maps
    each header to its first value (read it, never change it: hot loops over list
    events use it directly instead of ``get``)."""

    __slots__ = ("pairs", "first")

    def __init__(self, pairs: List[Tuple[str, str]]):
        self.pairs = pairs
        first = dict(pairs)  # C speed; right unless a header repeats
        if len(first) != len(pairs):
            first = {}
            for k, v in pairs:
                first.setdefault(k, v)
        self.first = first

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        return self.first.get(key, default)

    def getall(self, key: str) -> List[str]:
        return [v for k, v in self.pairs if k == key]

    def __getitem__(self, key: str) -> str:
        return self.first[key]

    def __contains__(self, key: str) -> bool:
        return key in self.first

    def as_dict(self) -> Dict[str, str]:
        return dict(self.first)

    @property
    def ok(self) -> bool:
        return self.get("Response") == "Success"

    def __repr__(self) -> str:  # never print values: AuthDetail carries passwords
        return "<Message %s>" % (self.get("Event") or self.get("Response"))


def parse_message(lines: List[str]) -> Message:
    """Every ``Key: Value`` header of one message, in order, repeated ones kept.

    Replaces pyst2's ``ManagerMsg.parse``: that one keeps a plain dict (repeated
    Output/Message/Variable headers are lost) and calls ``dict.has_key`` on
    ChanVariable, which kills its reader thread under Python 3."""
    pairs = []
    for line in lines:
        k, sep, v = line.partition(":")
        if not sep:
            continue  # not a header (old ``Response: Follows`` bodies); never parsed here
        # Asterisk sometimes ends a value with a stray LF ("...\n\r\n"): strip it.
        pairs.append((k.strip(), v.strip()))
    return Message(pairs)


RECV_CHUNK = 1 << 18
MESSAGE_END = re.compile(rb"\n[ \t\r\f\v]*\n")


def parse_block(block: bytes) -> Optional[Message]:
    """One message as cut from the stream (its lines without the blank end line);
    None when it holds no header at all (stray blank lines between messages)."""
    msg = parse_message(block.decode("utf-8", "replace").split("\n"))
    return msg if msg.pairs else None


def shutting_down(resp: "Message") -> bool:
    """During `core stop` a real Asterisk 20 answers every action, Ping included,
    with ``Response: Error`` / ``Message: Asterisk is shutting down`` until it
    closes the socket (tests/data/ami/shutting-down.txt): unreachable, not a refusal."""
    return resp.get("Response") == "Error" and (resp.get("Message") or "").strip() == "Asterisk is shutting down"


def header_pairs(cdict, kwargs) -> List[Tuple[str, str]]:
    items: List[Tuple[str, object]] = []
    for src in (cdict or {}, kwargs):
        if isinstance(src, dict):
            items.extend(src.items())
        else:
            items.extend(src)
    out = []
    for k, v in items:
        check_field("header name", k)
        values = v if isinstance(v, (list, tuple)) else [v]
        for item in values:
            out.append((k, check_field(k, item)))
    return out


def action_name(pairs) -> str:
    for k, v in pairs:
        if k == "Action":
            return v
    return "action"


def list_complete(msg: Message) -> bool:
    return msg.get("EventList") == "Complete"
