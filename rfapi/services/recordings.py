"""System recordings: the list, and the download of a recording's sound file.

Files live at ``<sounds>/<language>/<sound name>.<format>`` (SCHEMA §4); every
path is built with ``adapters.files.confined`` so neither a request nor a
stored file name can reach outside the sounds directory (a symlink pointing
outside counts as absent)."""
from __future__ import annotations

import os
import re
from typing import Any, Dict, List, Optional, Tuple

from ..adapters.files import UnsafePath, confined
from ..dao import recordings as dao
from ..errors import NotFound
from ..runtime import runtime
from ..text import text_or_none

DEFAULT_LANGUAGE = "en"  # Soundlang's default when nothing is set
_EXT = re.compile(r"^[A-Za-z0-9]+$")

# Content-Type by file extension (Asterisk format names). Raw signed-linear (sln*)
# is host-endian PCM without a header: audio/L16 would promise big-endian, so it
# is sent as application/octet-stream, like any unknown format.
CONTENT_TYPES = {
    "wav": "audio/wav", "wav16": "audio/wav", "WAV": "audio/wav", "wav49": "audio/wav",
    "gsm": "audio/x-gsm",
    "ulaw": "audio/basic", "ul": "audio/basic", "mu": "audio/basic", "pcm": "audio/basic",
    "alaw": "audio/x-alaw-basic", "al": "audio/x-alaw-basic", "alw": "audio/x-alaw-basic",
    "g722": "audio/G722", "g729": "audio/G729", "g726": "audio/G726-32", "g723": "audio/G723",
    "ilbc": "audio/iLBC", "speex": "audio/speex", "spx": "audio/speex",
    "mp3": "audio/mpeg", "ogg": "audio/ogg", "oga": "audio/ogg",
}
OCTET = "application/octet-stream"


def content_type(fmt: str) -> str:
    return CONTENT_TYPES.get(fmt, OCTET)


def sound_names(filename) -> List[str]:
    """The ``&``-joined sound names of a recording, in play order."""
    return [p for p in (text_or_none(filename) or "").split("&") if p]


class _Disk:
    """Directory listings of the sounds tree, cached for one request."""

    def __init__(self, base: str):
        self.base = base
        self._dirs: Dict[Tuple[str, ...], List[str]] = {}

    def languages(self) -> List[str]:
        try:
            names = sorted(os.listdir(confined(self.base)))
        except OSError:
            return []
        return [n for n in names if not n.startswith(".") and os.path.isdir(os.path.join(self.base, n))]

    def formats(self, lang: str, name: str) -> Dict[str, str]:
        """{format: path} of ``<lang>/<name>.*`` inside the tree (regular files only)."""
        head, _, stem = name.rpartition("/")
        key = (lang, head)
        try:
            if key not in self._dirs:
                directory = confined(self.base, lang, *([head] if head else []))
                self._dirs[key] = sorted(os.listdir(directory)) if os.path.isdir(directory) else []
        except (UnsafePath, OSError):
            self._dirs[key] = []
        found = {}
        for entry in self._dirs[key]:
            base, dot, ext = entry.rpartition(".")
            if not dot or base != stem or not _EXT.match(ext):
                continue
            try:
                path = confined(self.base, lang, name + "." + ext)
            except UnsafePath:
                continue  # e.g. a symlink leading out of the sounds directory
            if os.path.isfile(path):
                found[ext] = path
        return found


def _row(r: Dict[str, Any], disk: _Disk, langs: List[str]) -> Dict[str, Any]:
    names = sound_names(r["filename"])
    files = []
    for name in names:
        languages = {}
        for lang in langs:
            fmts = disk.formats(lang, name)
            if fmts:
                languages[lang] = sorted(fmts)
        files.append({"name": name, "languages": languages})
    return {"id": r["id"], "displayname": r["displayname"], "filename": names, "description": r["description"],
            "fcode": r["fcode"], "fcode_pass": r["fcode_pass"], "fcode_lang": r["fcode_lang"], "files": files}


def list_recordings() -> List[Dict[str, Any]]:
    rt = runtime()
    disk = _Disk(rt.path("sounds"))
    langs = disk.languages()
    return [_row(r, disk, langs) for r in dao.all_recordings(rt.db)]


def default_language() -> str:
    return (dao.default_language(runtime().db) or "").strip() or DEFAULT_LANGUAGE


def _pick_format(found: Dict[str, str], wanted: Optional[str]) -> Optional[str]:
    if wanted is not None:
        return wanted if wanted in found else None
    if "wav" in found:
        return "wav"
    return sorted(found)[0] if found else None


def sound_file(displayname: str, lang: Optional[str], fmt: Optional[str], part: int) -> Dict[str, str]:
    """Locate the file to download: {path, format, language, filename}; NotFound otherwise."""
    rt = runtime()
    rows = [r for r in dao.by_displayname(rt.db, displayname) if r["displayname"] == displayname]
    if not rows:
        raise NotFound("Recording %r not found" % displayname)
    names = sound_names(rows[0]["filename"])
    if part > len(names):
        raise NotFound("Recording %r has %d part%s" % (displayname, len(names), "" if len(names) == 1 else "s"))
    name = names[part - 1]
    if lang is not None:
        tries = [lang]
    else:
        # Asterisk's own search: the preferred language, without its dialect, then en.
        default = default_language()
        tries = [default, default.split("_")[0], DEFAULT_LANGUAGE]
    disk = _Disk(rt.path("sounds"))
    for candidate in dict.fromkeys(tries):
        found = disk.formats(candidate, name)
        chosen = _pick_format(found, fmt)
        if chosen is not None:
            return {"path": found[chosen], "format": chosen, "language": candidate,
                    "filename": "%s.%s" % (name.rpartition("/")[2], chosen)}
    what = "in %s" % ("format %s" % fmt if fmt else "any format")
    raise NotFound("Recording %r has no sound file %s (language %s)" % (displayname, what,
                                                                          " / ".join(dict.fromkeys(tries))))
