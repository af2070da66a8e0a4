"""Text rules of Asterisk the peer needs: dialplan pattern matching, caller-ID
and argument splitting (as manager.c does for Originate ``Variable:``), CLI
word splitting and its "No such command" wording, CLI output framing, dates.
"""
from __future__ import annotations

import re
import time
from typing import Dict, List, Tuple

from .constants import KNOWN_CLI_COMMANDS


_pattern_cache: Dict[str, "re.Pattern[str]"] = {}


def match_pattern(pattern: str, exten: str) -> bool:
    """Asterisk extension matching: a plain name matches itself; ``_`` starts
    a pattern with X (0-9), Z (1-9), N (2-9), ``[...]`` classes with ranges,
    ``.`` (one or more of anything) and ``!`` (zero or more); ``-`` is ignored."""
    if not pattern.startswith("_"):
        return pattern == exten
    rx = _pattern_cache.get(pattern)
    if rx is None:
        parts = []
        p = pattern[1:]
        i = 0
        while i < len(p):
            c = p[i]
            if c in "Xx":
                parts.append("[0-9]")
            elif c in "Zz":
                parts.append("[1-9]")
            elif c in "Nn":
                parts.append("[2-9]")
            elif c == "[" and "]" in p[i + 1:]:
                j = p.index("]", i + 1)
                body = p[i + 1:j]
                cls = []
                for k, ch in enumerate(body):
                    if ch == "-" and 0 < k < len(body) - 1:
                        cls.append("-")
                    else:
                        cls.append(re.escape(ch))
                parts.append("[" + "".join(cls) + "]")
                i = j
            elif c == ".":
                parts.append(".+")
            elif c == "!":
                parts.append(".*")
            elif c == "-":
                pass
            else:
                parts.append(re.escape(c))
            i += 1
        rx = re.compile("".join(parts))
        _pattern_cache[pattern] = rx
    return rx.fullmatch(exten) is not None


def split_callerid(value: str) -> Tuple[str, str]:
    """``"Name" <num>`` -> (name, num); a bare number is a number."""
    value = (value or "").strip()
    m = re.match(r'^\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*$', value)
    if m:
        name = m.group(1) if m.group(1) is not None else (m.group(2) or "")
        return name.strip(), m.group(3).strip()
    if re.fullmatch(r"[0-9*#+]+", value):
        return "", value
    return value, ""


def separate_args(value: str, delim: str = ",") -> List[str]:
    """Split like Asterisk's __ast_app_separate_args with remove_chars (what
    manager.c uses for each Originate ``Variable:`` header): the delimiter does
    not split inside (...), [...] or "..."; double quotes are removed and a
    backslash makes the next character literal."""
    args: List[str] = []
    cur: List[str] = []
    paren = bracket = 0
    quote = False
    i = 0
    while i < len(value):
        c = value[i]
        if c == "(":
            paren += 1
        elif c == ")":
            paren = max(0, paren - 1)
        elif c == "[":
            bracket += 1
        elif c == "]":
            bracket = max(0, bracket - 1)
        elif c == '"' and delim != '"':
            quote = not quote
            i += 1
            continue
        elif c == "\\":
            i += 1
            if i < len(value):
                cur.append(value[i])
            i += 1
            continue
        elif c == delim and not paren and not quote and not bracket:
            args.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(c)
        i += 1
    if cur or value.endswith(delim):
        args.append("".join(cur))
    return args


def cli_words(line: str) -> List[str]:
    """Split a CLI line like Asterisk: whitespace, double quotes, backslash."""
    words: List[str] = []
    cur: List[str] = []
    have = quoted = escaped = False
    for ch in line:
        if escaped:
            cur.append(ch)
            escaped = False
            have = True
        elif ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
            have = True
        elif ch.isspace() and not quoted:
            if have:
                words.append("".join(cur))
                cur, have = [], False
        else:
            cur.append(ch)
            have = True
    if have:
        words.append("".join(cur))
    return words


def cli_best_prefix(words: List[str]) -> str:
    """The words Asterisk's find_best() echoes in "core show help ...": it adds
    words while a command with exactly that many words shares all the earlier
    ones, and keeps the first word that fails.  One-word commands exist, so
    the first word always passes (hence 'no such' for 'no such cli command')."""
    lowered = [w.lower() for w in words]
    best = []
    for x, word in enumerate(words):
        best.append(word)
        if x == 0:
            continue
        if not any(len(c) == x + 1 and list(c[:x]) == lowered[:x] for c in KNOWN_CLI_COMMANDS):
            break
    return " ".join(best)


def command_output_lines(text: str) -> List[str]:
    """CLI text -> the list of ``Output:`` values (Asterisk >= 14 format):
    one per line, the final newline does not add an empty one, and empty
    output still gives one empty ``Output:``."""
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    return lines or [""]


def ast_dates(ts: float) -> Tuple[str, str]:
    t = time.localtime(ts)
    return time.strftime("%Y-%m-%d", t), time.strftime("%H:%M:%S", t)
