"""Route words: the literal path segments that stand where another route has a
variable (``add`` of ``/ampusers/add`` beside ``/ampusers/<username>``). A name equal
to one could never be read, changed or deleted by its URL, so such names are
refused, and a variable never matches one. Imports nothing from rfapi: the route
table hands its rules over (``use_rules``)."""
from __future__ import annotations

from typing import Dict, List, Sequence


def _segments(rule: str) -> List[str]:
    return rule.strip("/").split("/")


def words_beside(rule: str, rules: Sequence[str]) -> List[str]:
    """The literal words that other rules put where ``rule`` has its (last) variable:
    a value equal to one of them would reach that other route, not this one
    (/ampusers/add beside /ampusers/<username>)."""
    mine = _segments(rule)
    at = max(i for i, seg in enumerate(mine) if seg.startswith("<"))
    words = set()
    for other in rules:
        theirs = _segments(other)
        if len(theirs) != len(mine) or theirs[at].startswith("<"):
            continue
        if all(a == b or a.startswith("<") or b.startswith("<")
               for i, (a, b) in enumerate(zip(mine, theirs)) if i != at):
            words.add(theirs[at])
    return sorted(words)


_RULES: List[str] = []
_WORDS: Dict[str, List[str]] = {}


def use_rules(rules: Sequence[str]) -> None:
    """The rules of every route of the API (rfapi.resources.load() gives them, once
    the route table is loaded, before any app is built from it)."""
    _RULES[:] = sorted(set(rules))
    _WORDS.clear()


def route_words(rule: str) -> List[str]:
    """words_beside() over every route of the API."""
    if rule not in _WORDS:
        _WORDS[rule] = words_beside(rule, _RULES)
    return _WORDS[rule]
