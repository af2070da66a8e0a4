"""voicemail.conf: read mailboxes, and add/replace/remove one entry while every
other byte of the file stays as it was.

FreePBX rewrites the whole file on each save (dropping comments); we never do:
an edit touches only the line(s) of one entry, so an admin's comments, blank
lines, ``=>`` spellings and line endings survive. Writes go through
``rfapi.adapters.files.write_atomic`` (temp file + rename, same owner and mode)
while holding ``files.locked(path)``, so concurrent writers (other workers,
other rfapi processes) are serialised.

Two jobs, one module each: ``reader`` reads (Asterisk's syntax, the caches of
parses and of the file), ``editor`` changes text and writes the file (entries,
bulk edits, the locked ``Editor``). This package exports what the rest of rfapi
uses; the caches live in ``reader`` only.
"""
from __future__ import annotations

from .editor import Editor, apply_edits, mailbox_line, remove_entry, set_entry
from .reader import (NON_MAILBOX_SECTIONS, Entry, Mailboxes, Section, find_mailbox, has_section, mailboxes, parse,
                    parse_mailbox, read_mailboxes, split_lines)

__all__ = ["NON_MAILBOX_SECTIONS", "Editor", "Entry", "Mailboxes", "Section", "apply_edits", "find_mailbox",
           "has_section", "mailbox_line", "mailboxes", "parse", "parse_mailbox", "read_mailboxes", "remove_entry",
           "set_entry", "split_lines"]
