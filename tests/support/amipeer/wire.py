"""The AMI wire format as the peer writes and reads it: ``Key: Value\\r\\n``
headers ended by a blank line, where ActionID goes in each reply and list, how a
client message is cut and parsed (Asterisk's leniency), and the capture
(transcript) file reader the byte-exact replay tests use.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any, Iterable, List, Optional, Sequence, Tuple


Headers = List[Tuple[str, str]]


def render_message(headers: Iterable[Tuple[str, Any]]) -> bytes:
    """One AMI message: ``Key: Value\\r\\n`` per header, then ``\\r\\n``.

    Values are written as given; a value that ends in ``\\n`` produces the
    ``...\\n\\r\\n`` line Asterisk sends for some Message texts.
    """
    out = "".join("%s: %s\r\n" % (k, v) for k, v in headers) + "\r\n"
    return out.encode("utf-8")


def aid_header(action_id: str) -> Headers:
    # Asterisk writes ActionID only when the client sent a non-empty one.
    return [("ActionID", action_id)] if action_id else []


def response(status: str, action_id: str, fields: Headers = ()) -> bytes:
    return render_message([("Response", status)] + aid_header(action_id) + list(fields))


def error(action_id: str, message: str) -> bytes:
    return response("Error", action_id, [("Message", message)])


def ack(action_id: str, message: str) -> bytes:
    return response("Success", action_id, [("Message", message)])


def list_start(action_id: str, message: str) -> bytes:
    return response("Success", action_id, [("EventList", "start"), ("Message", message)])


def list_event(name: str, action_id: str, fields: Headers) -> bytes:
    return render_message([("Event", name)] + aid_header(action_id) + list(fields))


def list_complete(name: str, action_id: str, count: int) -> bytes:
    return render_message([("Event", name)] + aid_header(action_id)
                          + [("EventList", "Complete"), ("ListItems", str(count))])


def event_list(action_id: str, start_message: str, item_event: Optional[str],
                items: Sequence[Headers], complete_event: str) -> bytes:
    """A whole event list, built as one buffer so it goes out contiguously
    (in every capture an action's own list events were never split)."""
    parts = [list_start(action_id, start_message)]
    for item in items:
        if item_event is None:      # item carries its own Event header first
            parts.append(render_message([item[0]] + aid_header(action_id) + list(item[1:])))
        else:
            parts.append(list_event(item_event, action_id, item))
    parts.append(list_complete(complete_event, action_id, len(items)))
    return b"".join(parts)


def parse_headers(lines: List[str]) -> Headers:
    headers: Headers = []
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            # Asterisk keeps such a line but no lookup ever matches it.
            headers.append((line.strip(), ""))
            continue
        # Asterisk skips the blanks after the colon and keeps the rest as is.
        headers.append((key.strip(), value.lstrip(" \t")))
    return headers


class Action:
    """One message a client sent (normally an action)."""

    __slots__ = ("name", "headers", "raw", "conn_id", "user", "received_at")

    def __init__(self, name: str, headers: Headers, raw: bytes, conn_id: int,
                 user: Optional[str]) -> None:
        self.name = name
        self.headers = headers
        self.raw = raw
        self.conn_id = conn_id
        self.user = user
        self.received_at = time.time()

    def get(self, key: str, default: Optional[str] = None) -> Optional[str]:
        """First value of ``key`` (case-insensitive, like Asterisk)."""
        k = key.lower()
        for hk, hv in self.headers:
            if hk.lower() == k:
                return hv
        return default

    def getall(self, key: str) -> List[str]:
        """Every value of a header that may repeat (Variable, ...)."""
        k = key.lower()
        return [hv for hk, hv in self.headers if hk.lower() == k]

    def __repr__(self) -> str:
        return "Action(%r, conn=%d, user=%r, headers=%r)" % (
            self.name, self.conn_id, self.user, self.headers)


def parse_transcript(path) -> List[Tuple[str, bytes]]:
    """Read a capture file (AMI.md "Transcript file format").

    Returns ``(direction, payload)`` tuples in file order: ``"<<<"`` for bytes
    Asterisk sent, ``">>>"`` for bytes the client sent, and ``"==="`` for the
    connection markers with payload ``b"connect"``, ``b"closed by server"`` or
    ``b"client closed"``.  Comment lines (``#``) are skipped.
    """
    data = Path(path).read_bytes()
    out: List[Tuple[str, bytes]] = []
    pos = 0
    marker = re.compile(rb"^(<<<|>>>) \S+ t=\S+ len=(\d+)$")
    while pos < len(data):
        end = data.index(b"\n", pos)
        line = data[pos:end]
        pos = end + 1
        m = marker.match(line)
        if m:
            n = int(m.group(2))
            out.append((m.group(1).decode(), data[pos:pos + n]))
            pos += n
        elif line.startswith(b"=== "):
            what = re.sub(rb" t=\S+$", b"", line[4:])
            out.append(("===", what))
        elif line.startswith(b"#") or not line:
            continue
        else:
            raise ValueError("%s: unexpected line %r" % (path, line))
    return out


def take_message(buf: bytes) -> Tuple[Optional[bytes], bytes]:
    """Cut one message (lines up to an empty line) off the buffer.  Lines
    end in CRLF; a bare LF is accepted too."""
    pos = 0
    while True:
        nl = buf.find(b"\n", pos)
        if nl < 0:
            return None, buf
        line = buf[pos:nl]
        if line.endswith(b"\r"):
            line = line[:-1]
        pos = nl + 1
        if not line:
            return buf[:pos], buf[pos:]
