"""Voicemail messages in Asterisk's spool (app_voicemail's file layout).

``<spool>/<context>/<mailbox>/<Folder>/msgNNNN.txt`` plus one audio file per
recorded format (FreePBX's ``format=wav49|wav``: ``msgNNNN.WAV`` and
``msgNNNN.wav``); FreePBX UCP leaves converted copies ``msgNNNN_<sha1>.<ext>``.

Message ids: Asterisk's ``msg_id`` from the .txt (stable across renumbering);
``msgNNNN`` means that file in INBOX; ``<Folder>-msgNNNN`` names a file in any
folder (the id of a message whose .txt has no msg_id).

Deleting follows what app_voicemail itself does: under the folder lock
Asterisk uses (``ast_lock_path``: a ``.lock`` hard link in the folder, 5 s
wait), remove every file of the message, renumber the folder so it is
contiguous from msg0000 in the same order (``resequence_mailbox``), then AMI
``VoicemailRefresh`` (Context, Mailbox) so MWI lamps are right at once.

Every path is built through ``files.confined``: a symlink inside the spool
that points outside it is never read, listed, renamed or deleted through."""
from __future__ import annotations

import contextlib
import os
import random
import re
import time
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .. import audit
from ..adapters import files
from ..adapters.ami import AmiError
from ..dao import live as dao
from ..errors import ApiError, BadRequest, Conflict, NotFound
from ..runtime import runtime

FOLDERS = ("INBOX", "Old", "Urgent", "Work", "Family", "Friends")
LOCK_WAIT_SECONDS = 5.0       # ast_lock_path_lockfile gives up after 5 s
NO_MAILBOX = ("", "novm", "disabled")

# File extension -> Content-Type. WAV (wav49) is GSM 6.10 inside a RIFF/WAVE
# container, so it is audio/wav like wav (PCM); raw formats use RFC 4856 names.
CONTENT_TYPES = {
    "wav": "audio/wav", "WAV": "audio/wav", "gsm": "audio/x-gsm", "ulaw": "audio/PCMU",
    "alaw": "audio/PCMA", "g722": "audio/G722", "sln": "audio/L16;rate=8000", "sln16": "audio/L16;rate=16000",
    "mp3": "audio/mpeg", "ogg": "audio/ogg", "g729": "audio/G729",
}
# Default download: the most widely playable format that exists.
FORMAT_PREFERENCE = ("wav", "WAV", "mp3", "ogg", "gsm", "g722", "ulaw", "alaw", "sln16", "sln", "g729")
FORMAT_ALIASES = {"wav49": "WAV", "pcm": "ulaw", "mu-law": "ulaw", "ulaw": "ulaw"}

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"
_ID = re.compile(ID_PATTERN)
_FILE = re.compile(r"^msg(\d{4,5})(?:_([0-9a-fA-F]{40}))?\.([A-Za-z0-9]{1,8})$")
_BARE = re.compile(r"^msg(\d{4,5})$")
_FOLDER_FILE = re.compile(r"^(%s)-msg(\d{4,5})$" % "|".join(FOLDERS))
_CID = re.compile(r'^\s*(?:"([^"]*)"|([^<]*?))\s*<([^>]*)>\s*$')
_EXT = re.compile(r"^[A-Za-z0-9_-]{1,20}$")


class _Stem:
    """All files of one message number in one folder."""

    __slots__ = ("folder", "number", "txt", "audio", "copies", "unsafe", "meta", "mtime")

    def __init__(self, folder: str, number: int):
        self.folder = folder
        self.number = number
        self.txt: Optional[str] = None
        self.audio: Dict[str, str] = {}     # file extension -> file name
        self.copies: List[str] = []         # UCP's msgNNNN_<sha1>.<ext>
        self.unsafe: List[str] = []         # symlinks leading out of the spool: never followed
        self.meta: Dict[str, str] = {}
        self.mtime = 0.0

    @property
    def stem(self) -> str:
        return "msg%04d" % self.number

    @property
    def msg_id(self) -> str:
        return self.meta.get("msg_id", "")

    @property
    def id(self) -> str:
        return self.msg_id or "%s-%s" % (self.folder, self.stem)

    def names(self) -> List[str]:
        return ([self.txt] if self.txt else []) + list(self.audio.values()) + self.copies + self.unsafe


class Mailbox:
    def __init__(self, ext: str, context: str, base: str, path: str):
        self.ext = ext
        self.context = context
        self.base = base          # the spool root every path is confined to
        self.path = path

    def folder_path(self, folder: str) -> Optional[str]:
        try:
            p = files.confined(self.base, self.context, self.ext, folder)
        except files.UnsafePath:
            return None           # a folder symlinked out of the spool does not exist for us
        return p if os.path.isdir(p) else None


# ----------------------------------------------------------------------- lookup

def mailbox(ext: str) -> Mailbox:
    if not _EXT.match(ext or ""):
        raise NotFound("Extension %s not found" % (ext or "")[:40])
    u = dao.user(runtime().db, ext)
    if u is None:
        raise NotFound("Extension %s not found" % ext)
    context = u["voicemail"].strip()
    if context in NO_MAILBOX:
        raise NotFound("Extension %s has no voicemail box" % ext)
    files.safe_part(context)
    base = runtime().path("voicemail_spool")
    return Mailbox(ext, context, base, files.confined(base, context, ext))


def _parse_txt(path: str) -> Dict[str, str]:
    meta: Dict[str, str] = {}
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return meta
    with os.fdopen(fd, "rb") as fh:
        text = fh.read(65536).decode("utf-8", "replace")
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(";") or line.startswith("["):
            continue
        key, sep, value = line.partition("=")
        if sep:
            meta.setdefault(key.strip(), value.strip())
    return meta


def _scan(box: Mailbox, folder: str, with_meta: bool = True) -> Dict[int, _Stem]:
    fdir = box.folder_path(folder)
    stems: Dict[int, _Stem] = {}
    if fdir is None:
        return stems
    with os.scandir(fdir) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        m = _FILE.match(entry.name)
        if not m:
            continue
        number, sha1, ext = int(m.group(1)), m.group(2), m.group(3)
        st = stems.setdefault(number, _Stem(folder, number))
        if entry.is_symlink():
            try:
                files.confined(box.base, box.context, box.ext, folder, entry.name)
            except files.UnsafePath:
                st.unsafe.append(entry.name)
                continue
        if not entry.is_file():
            continue
        st.mtime = max(st.mtime, entry.stat().st_mtime)
        if sha1:
            st.copies.append(entry.name)
        elif ext == "txt":
            st.txt = entry.name
        else:
            st.audio[ext] = entry.name
    for st in stems.values():
        if with_meta and st.txt:
            st.meta = _parse_txt(os.path.join(fdir, st.txt))
    return stems


def _index(box: Mailbox) -> List[_Stem]:
    out: List[_Stem] = []
    for folder in FOLDERS:
        out.extend(st for st in _scan(box, folder).values() if st.txt or st.audio)
    return out


def _int(v: Optional[str]) -> Optional[int]:
    try:
        return int((v or "").strip())
    except ValueError:
        return None


def _describe(box: Mailbox, st: _Stem) -> Dict[str, Any]:
    m = st.meta
    cid = m.get("callerid", "")
    match = _CID.match(cid)
    if match:
        name = match.group(1) if match.group(1) is not None else (match.group(2) or "")
        number = match.group(3)
    else:
        name, number = ("", cid) if cid.replace("+", "").isdigit() else (cid, "")
    origtime = _int(m.get("origtime"))
    return {
        "id": st.id, "msg_id": st.msg_id or None, "folder": st.folder, "file": st.stem, "number": st.number,
        "callerid": cid, "callerid_name": name.strip(), "callerid_number": number.strip(),
        "origtime": origtime, "origdate": m.get("origdate", ""),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(origtime)) if origtime is not None else None,
        "duration": _int(m.get("duration")), "flag": m.get("flag", ""),
        "urgent": m.get("flag", "").lower() == "urgent" or st.folder == "Urgent",
        "origmailbox": m.get("origmailbox", ""), "context": m.get("context", ""), "exten": m.get("exten", ""),
        "callerchan": m.get("callerchan", ""), "category": m.get("category", ""),
        "formats": sorted(st.audio, key=_format_rank),
        "mailbox": box.ext, "vm_context": box.context,
    }


def _format_rank(fmt: str) -> Tuple[int, str]:
    return (FORMAT_PREFERENCE.index(fmt) if fmt in FORMAT_PREFERENCE else len(FORMAT_PREFERENCE), fmt)


def list_messages(ext: str) -> List[Dict[str, Any]]:
    box = mailbox(ext)
    stems = _index(box)
    order = {f: i for i, f in enumerate(FOLDERS)}
    # Newest first; a message without origtime sorts by its file time.
    stems.sort(key=lambda s: (-(_int(s.meta.get("origtime")) or int(s.mtime)), order[s.folder], -s.number))
    return [_describe(box, st) for st in stems]


def check_id(message: str) -> str:
    if not _ID.match(message or "") or ".." in message:
        raise BadRequest({"message": "is not a voicemail message id (msg_id, msgNNNN or <Folder>-msgNNNN)"})
    return message


def _resolve(box: Mailbox, ids: Sequence[str]) -> Tuple[List[_Stem], List[str]]:
    """The messages named by ``ids`` (in order, without duplicates) and the unknown ids."""
    index = _index(box)
    by_msg_id = {st.msg_id: st for st in index if st.msg_id}
    by_file = {(st.folder, st.number): st for st in index}
    found: List[_Stem] = []
    unknown: List[str] = []
    for ident in ids:
        m = _BARE.match(ident)
        f = _FOLDER_FILE.match(ident)
        if m:
            st = by_file.get(("INBOX", int(m.group(1))))
        elif f:
            st = by_file.get((f.group(1), int(f.group(2))))
        else:
            st = by_msg_id.get(ident)
        if st is None:
            unknown.append(ident)
        elif st not in found:
            found.append(st)
    return found, unknown


# --------------------------------------------------------------------- download

def audio(ext: str, message: str, fmt: Optional[str] = None) -> Tuple[bytes, str, str]:
    """(bytes, content type, download file name) of one message's audio."""
    check_id(message)
    box = mailbox(ext)
    found, _ = _resolve(box, [message])
    if not found:
        raise NotFound("Voicemail message %s not found" % message)
    st = found[0]
    available = sorted(st.audio, key=_format_rank)
    if fmt:
        want = FORMAT_ALIASES.get(fmt, fmt)
        if want not in st.audio:
            raise ApiError("Format %s is not available for this message" % fmt, status=404,
                           data={"formats": available})
    elif available:
        want = available[0]
    else:
        raise ApiError("Voicemail message %s has no audio file" % message, status=404, data={"formats": []})
    path = files.confined(box.base, box.context, box.ext, st.folder, st.audio[want])
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)   # never follow a link swapped in meanwhile
    except OSError:
        raise NotFound("Voicemail message %s not found" % message) from None
    with os.fdopen(fd, "rb") as fh:
        data = fh.read()
    name = "voicemail-%s-%s-%s.%s" % (box.ext, st.folder, st.stem, want)
    return data, CONTENT_TYPES.get(want, "application/octet-stream"), name


# ---------------------------------------------------------------------- delete

class MailboxLocked(Conflict):
    pass


@contextlib.contextmanager
def asterisk_lock(directory: str, wait: Optional[float] = None) -> Iterator[None]:
    """Hold app_voicemail's lock on a folder, the way ast_lock_path (lockfile
    mode, Asterisk's default) takes it: a unique temp file hard-linked to
    ``<dir>/.lock``; the link fails while someone else holds it."""
    wait = LOCK_WAIT_SECONDS if wait is None else wait
    tmp = os.path.join(directory, ".lock-%08x" % random.getrandbits(32))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o660)
    os.close(fd)
    lock = os.path.join(directory, ".lock")
    deadline = time.monotonic() + wait
    try:
        while True:
            try:
                os.link(tmp, lock)
                break
            except FileExistsError:
                if time.monotonic() >= deadline:
                    raise MailboxLocked("Mailbox folder %s is locked by Asterisk; try again"
                                        % os.path.basename(directory)) from None
                time.sleep(0.01)
    finally:
        os.unlink(tmp)
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


def _resequence(box: Mailbox, folder: str) -> List[Dict[str, str]]:
    """Renumber a folder msg0000.. contiguously, keeping the order (resequence_mailbox)."""
    fdir = box.folder_path(folder)
    if fdir is None:
        return []
    moved = []
    dest = 0
    for number, st in sorted(_scan(box, folder, with_meta=False).items()):
        if not (st.txt or st.audio):
            continue                      # stray UCP copies only: not a message
        if number != dest:
            new = "msg%04d" % dest
            for name in st.names():
                target = new + name[len(st.stem):]
                if os.path.lexists(os.path.join(fdir, target)):
                    raise ApiError("Cannot renumber %s/%s: %s already exists" % (folder, name, target), status=500)
                os.rename(os.path.join(fdir, name), os.path.join(fdir, target))   # renames links, never follows
            moved.append({"from": st.stem, "to": new})
        dest += 1
    return moved


def delete_messages(ext: str, ids: Sequence[str]) -> Dict[str, Any]:
    ids = list(dict.fromkeys(check_id(i) for i in ids))
    box = mailbox(ext)
    folders = [f for f in FOLDERS if box.folder_path(f) is not None]
    with contextlib.ExitStack() as stack:
        for f in folders:                 # fixed order: never a lock-order deadlock between our requests
            stack.enter_context(asterisk_lock(box.folder_path(f)))
        found, unknown = _resolve(box, ids)
        if unknown:
            raise ApiError("Unknown voicemail message%s: %s" % ("s" if len(unknown) > 1 else "", ", ".join(unknown)),
                           status=404, data={"unknown": unknown})
        for st in found:
            if st.unsafe:
                raise files.UnsafePath("%s/%s" % (st.folder, st.stem))
        deleted = []
        for st in found:
            fdir = box.folder_path(st.folder)
            for name in st.names():
                files.confined(box.base, box.context, box.ext, st.folder, name)   # refuses escapes
                # Unlink the name itself: a link (even one inside the spool) goes, never its target.
                os.unlink(os.path.join(fdir, name))
            deleted.append({"id": st.id, "folder": st.folder, "file": st.stem})
        renumbered = {}
        for folder in dict.fromkeys(st.folder for st in found):
            moves = _resequence(box, folder)
            if moves:
                renumbered[folder] = moves
    result = {"mailbox": box.ext, "context": box.context, "deleted": deleted, "renumbered": renumbered}
    result.update(_refresh(box))
    audit.record("voicemail.delete", result)
    return result


def _refresh(box: Mailbox) -> Dict[str, Any]:
    """Tell Asterisk to re-count the mailbox (MWI). The files are already gone, so
    an AMI outage here is reported, not turned into an error: app_voicemail's
    pollmailboxes (FreePBX: every 10 s) catches up by itself."""
    try:
        resp = runtime().ami.action("VoicemailRefresh", [("Context", box.context), ("Mailbox", box.ext)])
    except AmiError:
        return {"mwi_refreshed": False, "mwi_error": "Asterisk (AMI) is unreachable"}
    if not resp.ok:
        return {"mwi_refreshed": False, "mwi_error": (resp.get("Message") or "").strip()}
    return {"mwi_refreshed": True}
