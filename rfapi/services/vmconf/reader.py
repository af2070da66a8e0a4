"""Reading voicemail.conf: its sections and mailboxes, cached.

Syntax handled (Asterisk's config parser): ``[section]`` optionally followed
by ``(options)``; ``key = value`` and ``key => value``; ``;`` starts a comment
unless escaped as ``\\;``; ``;--`` ... ``--;`` block comments; ``#include`` /
``#exec`` lines are left alone.

Speed (a hosted PBX has thousands of mailboxes, and one extension write looks
the file up several times): a parse is one pass over the lines, kept for the
last few texts (``_parsed``: the same text is never parsed twice while it is
recent, whichever function asks), and ``read_mailboxes`` keeps its answer per
file version (path, mtime, ctime, size, inode), so it reads nothing while the
file is unchanged. Mailbox fields are parsed only when a box is looked up
(``Mailboxes``), each time into fresh dicts, so callers can never alter what is
cached.
"""
from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Dict, Iterator, List, Tuple

from ...adapters import files

# Sections of voicemail.conf that are not mailbox contexts (FreePBX's own skip list).
NON_MAILBOX_SECTIONS = ("general", "zonemessages", "pbxaliases", "device")

_SECTION = re.compile(r"^\s*\[([^\]]+)\]")


@dataclass
class Entry:
    __slots__ = ("key", "value", "line")  # thousands per file
    key: str
    value: str
    line: int  # index into the line list


@dataclass
class Section:
    name: str
    header: int                 # line index of the [name] line
    end: int                    # index one past the section's last line
    entries: List[Entry] = field(default_factory=list)


def split_lines(text: str) -> List[str]:
    """Lines *with* their endings, so "".join(lines) == text."""
    return text.splitlines(keepends=True)


def _strip_comment(line: str, in_block: bool) -> Tuple[str, bool]:
    """The code part of ``line`` and whether a ;-- block comment is still open.
    Jumps from one ``;`` to the next (str.find), so a line costs one scan."""
    if not in_block and ";" not in line:
        return line, False  # most lines: nothing to strip, nothing to unescape
    out: List[str] = []
    i = 0
    n = len(line)
    while i < n:
        if in_block:
            end = line.find("--;", i)
            if end < 0:
                return "".join(out), True
            i = end + 3
            in_block = False
            continue
        j = line.find(";", i)
        if j < 0:
            out.append(line[i:])
            break
        if j > i and line[j - 1] == "\\":
            out.append(line[i:j - 1])
            out.append(";")  # \; is a literal semicolon
            i = j + 1
            continue
        out.append(line[i:j])
        if line.startswith(";--", j):
            in_block = True
            i = j + 3
            continue
        break  # ; starts a comment to the end of the line
    return "".join(out), in_block


def parse(text: str) -> List[Section]:
    """Sections with their ``key = value`` entries (comments skipped). Lines
    before the first section belong to a pseudo-section named ''."""
    # Line i of splitlines() is line i of split_lines() without its ending.
    lines = text.splitlines()
    sections: List[Section] = [Section("", -1, 0)]
    entries = sections[0].entries
    in_block = False
    for idx, code in enumerate(lines):
        if in_block or ";" in code:
            code, in_block = _strip_comment(code, in_block)
        stripped = code.strip()
        if not stripped or stripped[0] == "#":
            continue
        if stripped[0] == "[":
            m = _SECTION.match(code)
            if m:
                sections[-1].end = idx
                sections.append(Section(m.group(1).strip(), idx, len(lines)))
                entries = sections[-1].entries
                continue
        eq = stripped.find("=")
        if eq < 0:
            continue
        value = stripped[eq + 1:]
        if value[:1] == ">":
            value = value[1:]
        entries.append(Entry(stripped[:eq].strip(), value.strip(), idx))
    sections[-1].end = len(lines)
    return sections


def parse_mailbox(value: str) -> Dict[str, object]:
    """``pin,name,email,pager,opt=val|opt=val`` -> fields (FreePBX's getVoicemail
    reading; e-mail '|' back to ',')."""
    parts = value.split(",", 4)
    parts += [""] * (5 - len(parts))
    options: Dict[str, str] = {}
    if parts[4]:
        for item in parts[4].split("|"):
            if not item:
                continue
            k, _, v = item.partition("=")
            options[k.strip()] = v.strip()
    return {"pwd": parts[0].strip(), "name": parts[1].strip(), "email": parts[2].strip().replace("|", ","),
            "pager": parts[3].strip().replace("|", ","), "options": options}


class Mailboxes(Mapping):
    """One context's mailboxes, read-only: {mailbox: fields}, each lookup
    parsed from the entry's text into new dicts (``parse_mailbox``)."""

    __slots__ = ("_raw",)

    def __init__(self, raw: Dict[str, str]):
        self._raw = raw

    def __getitem__(self, box: str) -> Dict[str, object]:
        return parse_mailbox(self._raw[box])

    def __contains__(self, box: object) -> bool:
        return box in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __repr__(self) -> str:
        return "Mailboxes(%r)" % (self._raw,)


class _Parsed:
    """A text's sections and its mailbox contexts ({context: {box: raw value}},
    later duplicates win as in Asterisk). Shared by every caller: never mutated."""

    __slots__ = ("sections", "boxes")

    def __init__(self, text: str):
        self.sections = parse(text)
        boxes: Dict[str, Dict[str, str]] = {}
        for sec in self.sections:
            if not sec.name or sec.name in NON_MAILBOX_SECTIONS:
                continue
            raw = boxes.setdefault(sec.name, {})
            for e in sec.entries:
                raw[e.key] = e.value
        self.boxes = boxes

    def mailboxes(self) -> Dict[str, Mailboxes]:
        return {ctx: Mailboxes(raw) for ctx, raw in self.boxes.items()}


_RECENT = 4  # texts kept: the file, the text being edited and its next versions
_parse_cache: Dict[str, _Parsed] = {}
_file_cache: Dict[str, Tuple[Tuple[int, ...], _Parsed]] = {}
_cache_lock = threading.Lock()


def _parsed(text: str) -> _Parsed:
    """The parse of ``text``, from the cache when the same text was parsed
    recently (looked up by value: a fresh read of an unchanged file hits)."""
    with _cache_lock:
        hit = _parse_cache.get(text)
    if hit is not None:
        return hit
    got = _Parsed(text)
    with _cache_lock:
        _parse_cache[text] = got
        while len(_parse_cache) > _RECENT:
            del _parse_cache[next(iter(_parse_cache))]  # the oldest (dicts keep insertion order)
    return got


def mailboxes(text: str) -> Dict[str, Mailboxes]:
    """{context: {mailbox: fields}} for every mailbox context (read-only mappings)."""
    return _parsed(text).mailboxes()


def find_mailbox(text: str, box: str) -> List[str]:
    """The contexts holding mailbox ``box``."""
    return [ctx for ctx, raw in _parsed(text).boxes.items() if box in raw]


def has_section(text: str, section: str) -> bool:
    return any(s.name == section and s.header >= 0 for s in _parsed(text).sections)


def _version(st: os.stat_result) -> Tuple[int, ...]:
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, st.st_dev)


def read_mailboxes(path: str) -> Dict[str, Mailboxes]:
    """Mailboxes of the file at ``path`` without locking (renames are atomic, so a
    read sees one whole version); a missing file has none. Kept per file version:
    an unchanged file costs one stat."""
    try:
        before = _version(os.stat(path))
    except FileNotFoundError:
        return {}
    with _cache_lock:
        hit = _file_cache.get(path)
    if hit is not None and hit[0] == before:
        return hit[1].mailboxes()
    try:
        text = files.read_text(path)
        after = _version(os.stat(path))
    except FileNotFoundError:
        return {}
    got = _parsed(text)
    if after == before:
        # (Replaced while reading: serve this read but do not remember it.)
        with _cache_lock:
            _file_cache.pop(path, None)
            _file_cache[path] = (after, got)
            while len(_file_cache) > _RECENT:
                del _file_cache[next(iter(_file_cache))]
    return got.mailboxes()
