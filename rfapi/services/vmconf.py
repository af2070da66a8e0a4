"""voicemail.conf: read mailboxes, and add/replace/remove one entry while every
other byte of the file stays as it was.

FreePBX rewrites the whole file on each save (dropping comments); we never do:
an edit touches only the line(s) of one entry, so an admin's comments, blank
lines, ``=>`` spellings and line endings survive. Writes go through
``rfapi.adapters.files.write_atomic`` (temp file + rename, same owner and mode)
while holding ``files.locked(path)``, so concurrent writers (other workers,
other rfapi processes) are serialised.

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
from typing import Dict, Iterator, List, Optional, Tuple

from ..adapters import files

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


def mailbox_line(box: str, pin: str, name: str, email: str = "", pager: str = "",
                 options: Optional[List[Tuple[str, str]]] = None) -> str:
    """The line FreePBX's saveVoicemail writes: ``box=pin,name,email,pager,k=v|k=v``
    (name without commas; commas in e-mail/pager become '|')."""
    opts = "|".join("%s=%s" % kv for kv in (options or []))
    return "%s=%s,%s,%s,%s,%s" % (box, pin, name.replace(",", ""), email.replace(",", "|"),
                                  pager.replace(",", "|"), opts)


def _newline(lines: List[str]) -> str:
    for line in lines:
        if line.endswith("\r\n"):
            return "\r\n"
        if line.endswith("\n"):
            return "\n"
    return "\n"


def set_entry(text: str, section: str, key: str, line: str, create_section: bool = True) -> str:
    """Replace the entry ``key`` of ``[section]`` by ``line`` (first occurrence;
    later duplicates are dropped), or add it after the section's last non-blank
    line. A missing section is appended at the end (unless create_section=False,
    then the text is returned unchanged)."""
    lines = split_lines(text)
    nl = _newline(lines)
    secs = [s for s in _parsed(text).sections if s.name == section and s.header >= 0]
    if not secs:
        if not create_section:
            return text
        prefix = "" if not lines or lines[-1].endswith(("\n", "\r")) else nl
        return text + prefix + "[%s]%s%s%s" % (section, nl, line, nl)
    sec = secs[0]
    same = [e for s in secs for e in s.entries if e.key == key]
    if same:
        first = same[0].line
        ending = lines[first][len(lines[first].rstrip("\r\n")):] or nl
        lines[first] = line + ending
        for e in reversed(same[1:]):
            del lines[e.line]
        return "".join(lines)
    # After the last non-blank line of the section (comments included), so the
    # blank line that separates it from the next section stays where it is.
    pos = sec.header + 1
    for idx in range(sec.header + 1, sec.end):
        if lines[idx].strip():
            pos = idx + 1
    if pos > 0 and not lines[pos - 1].endswith(("\n", "\r")):
        lines[pos - 1] += nl
    lines.insert(pos, line + nl)
    return "".join(lines)


def remove_entry(text: str, section: str, key: str) -> Tuple[str, int]:
    """Drop every line of entry ``key`` in ``[section]``; (new text, lines removed)."""
    lines = split_lines(text)
    doomed = sorted((e.line for s in _parsed(text).sections if s.name == section and s.header >= 0
                     for e in s.entries if e.key == key), reverse=True)
    for idx in doomed:
        del lines[idx]
    return "".join(lines), len(doomed)


def has_section(text: str, section: str) -> bool:
    return any(s.name == section and s.header >= 0 for s in _parsed(text).sections)


class Editor:
    """Hold voicemail.conf's write lock for a whole change (read, edit, maybe undo).

    ``with Editor(path) as vm: vm.text ...; vm.write(new); ... vm.restore()``.
    ``restore()`` puts back the exact bytes read on entry. A missing file reads
    as empty and is created on the first write (mode 0640); a missing directory
    reads as empty too and only a write fails (FileNotFoundError)."""

    def __init__(self, path: str):
        self.path = path
        self.original: Optional[bytes] = None
        self.text = ""
        self.changed = False
        self._cm = None

    def __enter__(self) -> "Editor":
        directory = os.path.dirname(self.path) or "."
        if os.path.isdir(directory):
            # (No directory: nothing to read and nothing to lock; a write will fail.)
            self._cm = files.locked(self.path)
            self._cm.__enter__()
        try:
            with open(self.path, "rb") as fh:
                self.original = fh.read()
        except FileNotFoundError:
            self.original = None
        except BaseException:
            if self._cm is not None:
                self._cm.__exit__(None, None, None)
                self._cm = None
            raise
        self.text = (self.original or b"").decode("utf-8", "surrogateescape")
        return self

    def write(self, text: str) -> None:
        if text == self.text:
            return
        files.write_atomic(self.path, text.encode("utf-8", "surrogateescape"))
        self.text = text
        self.changed = True

    def restore(self) -> None:
        if not self.changed:
            return
        if self.original is None:
            os.unlink(self.path)
        else:
            files.write_atomic(self.path, self.original)
        self.text = (self.original or b"").decode("utf-8", "surrogateescape")
        self.changed = False

    def __exit__(self, *exc) -> None:
        cm, self._cm = self._cm, None
        if cm is not None:
            cm.__exit__(*exc)


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


def apply_edits(text: str, edits: List[Tuple[str, str, Optional[str]]]) -> str:
    """Many ``set_entry`` / ``remove_entry`` at once, from one parse of ``text``
    (a bulk import changes thousands of entries: one pass instead of one per entry).

    ``edits``: (section, key, line) to add/replace, or (section, key, None) to
    remove; the last edit of a (section, key) wins. Same placement rules as
    set_entry: a replaced entry keeps its place (later duplicates dropped), a new
    one goes after the section's last non-blank line, in the order given; a
    missing section is appended at the end."""
    if not edits:
        return text
    lines = split_lines(text)
    nl = _newline(lines)
    final: Dict[Tuple[str, str], Optional[str]] = {}
    for section, key, line in edits:
        final.pop((section, key), None)
        final[(section, key)] = line  # re-inserted: keeps the order of the last edit
    sections = [s for s in _parsed(text).sections if s.header >= 0]
    where: Dict[Tuple[str, str], List[int]] = {}
    first_section: Dict[str, Section] = {}
    for sec in sections:
        first_section.setdefault(sec.name, sec)
        for e in sec.entries:
            if (sec.name, e.key) in final:
                where.setdefault((sec.name, e.key), []).append(e.line)
    replace: Dict[int, Optional[str]] = {}
    adds: Dict[str, List[str]] = {}
    for (section, key), line in final.items():
        found = where.get((section, key))
        if found:
            found.sort()
            replace[found[0]] = line
            for idx in found[1:]:
                replace[idx] = None
        elif line is not None:
            adds.setdefault(section, []).append(line)
    insert_at: Dict[int, List[str]] = {}
    tail: List[str] = []
    for section, new_lines in adds.items():
        sec = first_section.get(section)
        if sec is None:
            tail.append("[%s]" % section)
            tail.extend(new_lines)
            continue
        pos = sec.header + 1
        for idx in range(sec.header + 1, sec.end):
            if lines[idx].strip():
                pos = idx + 1
        insert_at.setdefault(pos, []).extend(new_lines)
    out: List[str] = []
    for idx in range(len(lines) + 1):
        if idx in insert_at:
            if out and not out[-1].endswith(("\n", "\r")):
                out[-1] += nl
            out.extend(line + nl for line in insert_at[idx])
        if idx == len(lines):
            break
        line = lines[idx]
        if idx in replace:
            new = replace[idx]
            if new is None:
                continue
            line = new + (line[len(line.rstrip("\r\n")):] or nl)
        out.append(line)
    if tail:
        if out and not out[-1].endswith(("\n", "\r")):
            out.append(nl)
        out.extend(line + nl for line in tail)
    return "".join(out)
