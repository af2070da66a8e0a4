"""The extensions cache, shared by every gunicorn worker.

Interface used by every write (extensions, follow-me, DIDs, voicemail, …):
``invalidate()`` — call after any successful change that affects an extension's
listing; it works across processes.

Storage: one JSON file, ``<cache dir>/extensions.json``, replaced atomically
(temp file + rename), so a reader always sees one complete version and
concurrent rebuilds cannot corrupt it (the last rename wins; rebuilds are also
serialised by a flock so a burst of readers rebuilds once). A file rather than
a table: FreePBX's database is FreePBX's (we add no tables to it), a file
needs no schema migration, survives a database outage for reads, and the
cross-process invalidation is a second tiny file.

The cache is valid while all of these hold:

* it is younger than ``[api] cache_ttl`` (default 300 s);
* its ``generation`` equals the token in ``<cache dir>/extensions.generation``,
  which ``invalidate()`` replaces with a fresh random token (any process);
  a rebuild records the token it *started* with, so a change made during a
  rebuild still invalidates the result;
* its ``fingerprint`` equals the current one: ``CHECKSUM TABLE users,
  devices, findmefollow`` (~7 ms at 5,000 extensions; catches any edit made
  behind our back, e.g. in the FreePBX GUI) plus voicemail.conf's
  mtime/size/inode (the e-mail comes from there).

AstDB-only changes made outside rfapi (a recording setting changed in the
GUI, follow-me toggled with *21) are not in the fingerprint: they show up at
the next TTL expiry or ``POST /cache/extensions action=reload``. When AMI is
unreachable the listing is built from SQL and voicemail.conf alone
(``recording``/``followme_enabled`` null, ``partial``) and kept 30 s at most.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from typing import Any, Dict, List, Optional, Tuple

from ..adapters import files
from ..adapters.ami import AmiError
from ..adapters.db import DatabaseUnavailable
from ..dao import extensions as dao
from ..runtime import runtime
from ..text import text
from . import vmconf

log = logging.getLogger("rfapi.extcache")

CACHE_FILE = "extensions.json"
GENERATION_FILE = "extensions.generation"
FORMAT = 2  # 2: every field PUT /extension accepts

REC_KEYS = (
    ("recExternalIn", "recording/in/external"),
    ("recExternalOut", "recording/out/external"),
    ("recInternalIn", "recording/in/internal"),
    ("recInternalOut", "recording/out/internal"),
    ("recOndemand", "recording/ondemand"),
    ("recPriority", "recording/priority"),
)

_memo_lock = threading.Lock()
_memo: Dict[str, Tuple[Tuple[int, int, int], Dict[str, Any]]] = {}  # path -> (stat key, parsed)


def _rt():
    return runtime()


def _dir() -> str:
    d = _rt().config.paths.cache
    os.makedirs(d, mode=0o750, exist_ok=True)
    return d


# ---------------------------------------------------------------------------
# Invalidation
# ---------------------------------------------------------------------------

def invalidate() -> None:
    """Mark the cache stale in every process (a new generation token)."""
    try:
        files.write_atomic(os.path.join(_dir(), GENERATION_FILE), uuid.uuid4().hex.encode(), mode=0o640)
    except OSError as exc:
        # The write itself succeeded; the fingerprint/TTL still catch it. Say so loudly.
        log.error("could not invalidate the extensions cache: %s", exc)


def generation_mark() -> Any:
    """A cheap token that changes whenever any worker calls ``invalidate()`` (one stat):
    other per-process caches of extension data key on it."""
    try:
        st = os.stat(os.path.join(_dir(), GENERATION_FILE))
        return (st.st_mtime_ns, st.st_ino, st.st_size)
    except OSError:
        return None


def _generation(directory: str) -> str:
    try:
        with open(os.path.join(directory, GENERATION_FILE), "rb") as fh:
            return fh.read().decode("ascii", "replace").strip()
    except FileNotFoundError:
        return ""


# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------

def _vm_enabled(ctx: str) -> bool:
    return ctx not in ("", "novm", "disabled")


def _opt_bool(value: Any) -> Optional[bool]:
    """A voicemail.conf yes/no option as a boolean (None when absent or neither)."""
    v = text(value).strip().lower()
    return True if v == "yes" else False if v == "no" else None


def _int_or_none(value: Any) -> Optional[int]:
    try:
        return None if value is None or text(value).strip() == "" else int(text(value).strip())
    except ValueError:
        return None


def build_entry(number: str, name: str, voicemail_ctx: str, outboundcid: str, tech: Optional[str],
                emergencycid: str, followme: bool, mailbox: Optional[Dict[str, Any]],
                astdb: Optional[Dict[str, str]], more: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """One listing entry. ``astdb``: AMPUSER (and CW) keys as '/AMPUSER/<n>/...' -> value
    (None when AstDB could not be read: recording/followme_enabled/callwaiting are then null).
    ``more``: the other columns PUT /extension writes (users.ringtimer and the three
    destinations, devices.description, findmefollow.grptime, sip dtmfmode/max_contacts).

    Every field PUT accepts is here (flat, under its PUT name) with the value that PUT
    needs to leave it unchanged; secrets (SIP secret, voicemail PIN) are null here and
    only filled in by the routes when asked with secrets=yes."""
    more = more or {}
    vm = _vm_enabled(voicemail_ctx or "")
    box = mailbox if (vm and mailbox) else None
    options = (box or {}).get("options") or {}
    prefix = "/AMPUSER/%s/" % number
    # The display name as it was given: devices.description (trimmed only) for a device,
    # else AMPUSER/<n>/cidname, else users.name (which has < > turned into ( )).
    displayname = text(more.get("description")) if tech and more.get("description") is not None else None
    if displayname is None and astdb is not None and (prefix + "cidname") in astdb:
        displayname = astdb[prefix + "cidname"]
    if not displayname:
        displayname = name
    entry: Dict[str, Any] = {
        "extension": number,
        "name": name,
        "displayname": displayname,
        "tech": tech or "virtual",
        "voicemail": vm,
        "voicemail_context": voicemail_ctx if vm else None,
        "email": (mailbox.get("email") or None) if (vm and mailbox) else None,
        "voicemailpassword": None,
        "attach": _opt_bool(options.get("attach")) if box else None,
        "saycid": _opt_bool(options.get("saycid")) if box else None,
        "envelope": _opt_bool(options.get("envelope")) if box else None,
        "vmdelete": _opt_bool(options.get("delete")) if box else None,
        "outboundcid": outboundcid or None,
        "emergencycid": emergencycid or None,
        "secret": None,
        "ringtimer": _int_or_none(more.get("ringtimer")) or 0,
        "callwaiting": None,
        "max_contacts": _int_or_none(more.get("max_contacts")) if tech == "pjsip" else None,
        "dtmfmode": (text(more.get("dtmfmode")) or None) if tech else None,
        "noanswer_dest": text(more.get("noanswer_dest")),
        "busy_dest": text(more.get("busy_dest")),
        "chanunavail_dest": text(more.get("chanunavail_dest")),
        "followme": followme,
        "followme_enabled": None,
        "followmegrptime": _int_or_none(more.get("grptime")) if followme else None,
        "recording": None,
    }
    for name_, _key in REC_KEYS:
        entry[name_] = None
    if astdb is not None:
        ddial = astdb.get(prefix + "followme/ddial")
        # ext-findmefollow jumps to follow-me only when the row exists and ddial is set and not EXTENSION.
        entry["followme_enabled"] = bool(followme and ddial is not None and ddial != "EXTENSION")
        # Core::getUser: CW/<n> = ENABLED means enabled, anything else (or no key) disabled.
        entry["callwaiting"] = "enabled" if (astdb.get("/CW/%s" % number) or "").strip() == "ENABLED" \
            else "disabled"
        rec: Dict[str, Any] = {}
        for name_, key in REC_KEYS:
            val = astdb.get(prefix + key)
            if name_ == "recPriority" and val is not None:
                try:
                    val = int(val)
                except ValueError:
                    pass
            rec[name_] = val
            entry[name_] = val
        entry["recording"] = rec
    return entry


def entry_from_rows(u: Dict[str, Any], d: Optional[Dict[str, Any]], followme: bool,
                    boxes: Dict[str, Dict[str, Dict[str, Any]]], astdb: Optional[Dict[str, str]],
                    fm_grptime: Any = None, sip: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    n = text(u["extension"])
    ctx = text(u.get("voicemail"))
    mailbox = boxes.get(ctx, {}).get(n)
    if mailbox is None and _vm_enabled(ctx):
        mailbox = next((b[n] for b in boxes.values() if n in b), None)
    sip = sip or {}
    more = {"description": d.get("description") if d else None, "ringtimer": u.get("ringtimer"),
            "noanswer_dest": u.get("noanswer_dest"), "busy_dest": u.get("busy_dest"),
            "chanunavail_dest": u.get("chanunavail_dest"), "grptime": fm_grptime,
            "dtmfmode": sip.get("dtmfmode"), "max_contacts": sip.get("max_contacts")}
    return build_entry(n, text(u.get("name")), ctx, text(u.get("outboundcid")), text(d["tech"]) if d else None,
                       text(d.get("emergency_cid")) if d else "", followme, mailbox, astdb, more)


def _num_key(s: str):
    return (0, int(s), s) if s.isdigit() else (1, 0, s)


# ---------------------------------------------------------------------------
# Build / validity
# ---------------------------------------------------------------------------

def _vm_stat(path: str) -> List[int]:
    try:
        st = os.stat(path)
        return [st.st_mtime_ns, st.st_size, st.st_ino]
    except FileNotFoundError:
        return [0, 0, 0]


def fingerprint() -> List[Any]:

    rt = _rt()
    return [dao.fingerprint(rt.db), _vm_stat(rt.path("voicemail_conf"))]


def build() -> Tuple[Dict[str, Any], bool]:
    """Read everything (1 SQL query + voicemail.conf + one DBGetTree AMPUSER);
    (document, complete). Incomplete = AstDB unreadable: recording and
    followme_enabled are null, and the document is kept only PARTIAL_TTL."""

    rt = _rt()
    rows = dao.listing(rt.db)
    boxes = vmconf.read_mailboxes(rt.path("voicemail_conf"))
    astdb: Optional[Dict[str, str]]
    try:
        astdb = _ampuser_tree(rt.ami)
        astdb.update(_family_tree(rt.ami, "CW"))  # call waiting lives in its own family
    except AmiError as exc:
        log.warning("extensions cache built without AstDB (recording settings unknown): %s", exc)
        astdb = None
    entries = []
    for r in rows:
        d = {"tech": r["tech"], "emergency_cid": r["emergency_cid"], "description": r["description"]} \
            if r["tech"] is not None else None
        entries.append(entry_from_rows(r, d, r["fm_grpnum"] is not None, boxes, astdb, r["fm_grptime"],
                                       {"dtmfmode": r["sip_dtmfmode"], "max_contacts": r["sip_max_contacts"]}))
    entries.sort(key=lambda e: _num_key(e["extension"]))
    return {"format": FORMAT, "extensions": entries}, astdb is not None


GETTREE_TIMEOUT = 60.0  # the whole AMPUSER family: ~40 keys per extension, ~3 s for 5,000 through pyst2


def _ampuser_tree(ami) -> Dict[str, str]:
    """One DBGetTree for every extension's AMPUSER keys, with a deadline sized for
    big boxes rather than the per-action ``[ami] timeout``."""
    return _family_tree(ami, "AMPUSER")


def _family_tree(ami, family: str) -> Dict[str, str]:
    resp, events = ami.list_action("DBGetTree", [("Family", family)], timeout=max(ami.timeout, GETTREE_TIMEOUT))
    if not resp.ok:
        return {}
    return {ev.get("Key", ""): ev.get("Val", "") for ev in events if ev.get("Event") == "DBGetTreeResponse"}


PARTIAL_TTL = 30.0  # a cache built while AstDB was unreadable (recording unknown) is retried this soon


def _valid(doc: Dict[str, Any], generation: str, fp: List[Any], ttl: float) -> bool:
    if doc.get("partial"):
        ttl = min(ttl, PARTIAL_TTL)
    return (doc.get("format") == FORMAT and doc.get("generation") == generation and doc.get("fingerprint") == fp
            and 0 <= time.time() - float(doc.get("built_at", 0)) < ttl)


def _read(path: str) -> Optional[Dict[str, Any]]:
    """The cache file, parsed once per version per process (keyed by its stat)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _memo_lock:
        hit = _memo.get(path)
        if hit and hit[0] == key:
            return hit[1]
    try:
        with open(path, "rb") as fh:
            doc = json.loads(fh.read().decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict):
        return None
    with _memo_lock:
        _memo[path] = (key, doc)
    return doc


def rebuild(force: bool = True) -> Dict[str, Any]:
    """Build and store the cache; with force=False, only if still invalid once
    the build lock is held (another process may just have rebuilt it)."""
    directory = _dir()
    path = os.path.join(directory, CACHE_FILE)
    ttl = float(_rt().config.cache_ttl)
    with files.locked(path):
        generation = _generation(directory)
        fp = fingerprint()
        if not force:
            doc = _read(path)
            if doc is not None and _valid(doc, generation, fp, ttl):
                return doc
        doc, complete = build()
        doc.update(generation=generation, fingerprint=fp, built_at=time.time(), partial=not complete)
        # A partial document is stored too (for PARTIAL_TTL): without it every reader would
        # wait for the same failing AMI read while Asterisk is down or overloaded.
        files.write_atomic(path, json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8"),
                           mode=0o640)
        return doc


def current() -> Dict[str, Any]:
    """The valid cache document, rebuilt first if needed.

    While the database is unreachable (no fingerprint possible) a cache that is
    still within its TTL and not invalidated is served as it is."""

    directory = _dir()
    path = os.path.join(directory, CACHE_FILE)
    doc = _read(path)
    ttl = float(_rt().config.cache_ttl)
    generation = _generation(directory)
    try:
        fp = fingerprint()
    except DatabaseUnavailable:
        if doc is not None and _valid(doc, generation, doc.get("fingerprint"), ttl):
            log.warning("database unreachable: serving the extensions cache built at %s", doc.get("built_at"))
            return doc
        raise
    if doc is not None and _valid(doc, generation, fp, ttl):
        return doc
    return rebuild(force=False)


def all_extensions() -> List[Dict[str, Any]]:
    return current()["extensions"]


def one(number: str) -> Optional[Dict[str, Any]]:
    for e in current()["extensions"]:
        if e["extension"] == number:
            return e
    return None


def reload() -> int:
    return len(rebuild(force=True)["extensions"])
