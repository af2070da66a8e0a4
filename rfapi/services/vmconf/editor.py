"""Editing voicemail.conf: add/replace/remove entries in its text, and write it
back under its lock.

FreePBX rewrites the whole file on each save (dropping comments); we never do:
an edit touches only the line(s) of one entry, so an admin's comments, blank
lines, ``=>`` spellings and line endings survive. Writes go through
``rfapi.adapters.files.write_atomic`` (temp file + rename, same owner and mode)
while holding ``files.locked(path)``, so concurrent writers (other workers,
other rfapi processes) are serialised.
"""
from __future__ import annotations

import os
from typing import Dict, List, Optional, Tuple

from ...adapters import files
from .reader import Section, _parsed, split_lines


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
