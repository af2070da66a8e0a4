"""Follow Me (findmefollow): the group list and on/off, as FreePBX keeps them.

Where things live (WRITES.md §1.8, §5; findmefollow 17 ``Findmefollow::add``):

* SQL ``findmefollow`` row: without it reload generates no ``ext-findmefollow``
  entry, so follow-me can never ring, whatever AstDB says.
* AstDB ``AMPUSER/<ext>/followme/*`` (16 keys, ``FM_KEYS``), read at call
  time. ``ddial`` = ``DIRECT`` means enabled, ``EXTENSION`` disabled; with
  ``USEDEVSTATE`` the BLF state ``CustomDevstate/FOLLOWME<device>`` is ``BUSY``
  (on) / ``NOT_INUSE`` (off) for each of the user's devices.
* ``grplist``: ``-``-joined; entries keep only digits, ``*``, ``+``; external
  numbers get a ``#`` suffix; the group's own extension stays bare. When SQL
  and AstDB disagree, AstDB wins (FreePBX's GUI pulls AstDB back into SQL).

Every write runs in one transaction that first locks the user's row (so edits
of one extension are serialised across threads and workers), writes SQL, then
AstDB (only keys whose value changes, remembering the old values), then the
need-reload flag, then commits. Any failure rolls the SQL back and restores
the AstDB keys already written (best effort if Asterisk itself went away; what
could not be restored is logged).
"""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Tuple

from .. import audit
from ..adapters.ami import AmiError
from ..dao import followme as dao
from ..dao import framework as framework_dao
from ..errors import BadRequest, NotFound
from ..runtime import runtime
from . import events, extcache
from .astdbwriter import AstdbWriter
from .dids import retry_tx

log = logging.getLogger("rfapi.followme")

# Written by Findmefollow::add (17), in its order.
FM_KEYS = ("strategy", "prering", "grptime", "grplist", "grppre", "rvolume", "dring", "annmsg", "remotealertmsg",
           "toolatemsg", "postdest", "ringing", "grpconf", "ddial", "changecid", "fixedcid")
ENABLED, DISABLED = "DIRECT", "EXTENSION"
ACTIONS = ("addExternal", "removeExternal", "enable", "disable")
GRPLIST_MAX = 255  # findmefollow.grplist VARCHAR(255)

NUMBER_PATTERN = r"[0-9*+() .\-]*[0-9*+][0-9*+() .\-]*#?"
NUMBER_HELP = "must be a phone number: digits, * and + (spaces, dots, dashes and parentheses are ignored), " \
              "optionally ending in # to force an external number"


# -- helpers -------------------------------------------------------------------------
def _bool_setting(name: str, default: bool) -> bool:
    val = runtime().settings.get(name, "1" if default else "0")
    return str(val).strip().lower() in ("1", "true", "yes", "on")


def _int(v) -> Optional[int]:
    try:
        return int(str(v).strip())
    except (TypeError, ValueError):
        return None


def parse_number(raw: str, field: str = "number") -> Tuple[str, bool]:
    """(digits/*/+ only, had a trailing #)."""
    if not re.fullmatch(NUMBER_PATTERN, raw or ""):
        raise BadRequest({field: NUMBER_HELP})
    return re.sub(r"[^0-9*+]", "", raw), raw.endswith("#")


def _entries(grplist: Optional[str]) -> List[str]:
    return [e for e in (grplist or "").strip().split("-") if e]


def _bare(entry: str) -> str:
    return entry.rstrip("#")


def _tree(ext: str) -> Dict[str, str]:
    """AMPUSER/<ext>/followme/* as {key: value}."""
    prefix = "/AMPUSER/%s/followme/" % ext
    raw = runtime().ami.db_gettree("AMPUSER", "%s/followme" % ext)
    return {k[len(prefix):]: v for k, v in raw.items() if k.startswith(prefix)}


def _current_list(row: Optional[Dict[str, Any]], tree: Dict[str, str]) -> List[str]:
    if row is None:
        return []
    astdb = (tree.get("grplist") or "").strip()
    return _entries(astdb) if astdb else _entries(row.get("grplist"))


def _status(ext: str, row: Optional[Dict[str, Any]], tree: Dict[str, str]) -> Dict[str, Any]:
    if row is None:
        return {"extension": ext, "configured": False, "enabled": False, "ddial": None, "grptime": None,
                "prering": None, "strategy": None, "grplist": []}
    ddial = tree.get("ddial")
    # FreePBX's rule: the AstDB values win when they are set (and sane).
    grptime = _int(tree.get("grptime"))
    if grptime is None or grptime <= 0:
        grptime = _int(row.get("grptime"))
    prering = _int(tree.get("prering"))
    if prering is None or prering < 0:
        prering = _int(row.get("pre_ring"))
    return {"extension": ext, "configured": True, "enabled": ddial == ENABLED, "ddial": ddial,
            "grptime": grptime, "prering": prering, "strategy": tree.get("strategy") or row.get("strategy"),
            "grplist": _current_list(row, tree)}


def _require_user(ext: str) -> None:
    if not dao.user_exists(runtime().db, ext):
        raise NotFound("Extension %s not found" % ext)


# -- reads ---------------------------------------------------------------------------
def status(ext: str) -> Dict[str, Any]:
    _require_user(ext)
    row = dao.get(runtime().db, ext)
    # No row: disabled whatever AstDB says (no ext-findmefollow entry), so AMI is not asked.
    tree = _tree(ext) if row is not None else {}
    return _status(ext, row, tree)


def group_list(ext: str) -> List[str]:
    return status(ext)["grplist"]


def has_entry(ext: str, entry: str) -> bool:
    number, _ = parse_number(entry, "entry")
    return any(_bare(e) == number for e in group_list(ext))


# -- writes --------------------------------------------------------------------------
def _defaults(ext: str, grplist: str, enabled: bool) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """The findmefollow row and AstDB keys of Findmefollow::add with its defaults."""
    st = runtime().settings
    strategy = st.get("FOLLOWME_RG_STRATEGY", "ringallv2-prim")
    grptime = _int(st.get("FOLLOWME_TIME", "20")) or 20
    prering = _int(st.get("FOLLOWME_PRERING", "7"))
    prering = 7 if prering is None else prering
    postdest = "ext-local,%s,dest" % ext
    row = {"grpnum": ext, "strategy": strategy, "grptime": grptime, "grppre": "", "grplist": grplist,
           "annmsg_id": None, "postdest": postdest, "dring": "", "needsconf": "", "remotealert_id": None,
           "toolate_id": None, "ringing": "Ring", "pre_ring": prering, "calendar_enable": 0, "calendar_id": "",
           "calendar_group_id": "", "calendar_match": "yes", "rvolume": ""}
    keys = {"strategy": strategy, "prering": str(prering), "grptime": str(grptime), "grplist": grplist,
            "grppre": "", "rvolume": "", "dring": "", "annmsg": "", "remotealertmsg": "", "toolatemsg": "",
            "postdest": postdest, "ringing": "Ring", "grpconf": "DISABLED",
            "ddial": ENABLED if enabled else DISABLED, "changecid": "default", "fixedcid": ""}
    return row, keys


def _entry_for(tx, ext: str, number: str, had_pound: bool) -> str:
    if number == ext:
        return number  # never dial yourself through a Local channel
    if had_pound or number not in dao.users_among(tx, [number]):
        return number + "#"
    return number


def _joined(ext: str, entries: List[str]) -> str:
    text = "-".join(entries or [ext])  # an empty list becomes the extension itself
    if len(text) > GRPLIST_MAX:
        raise BadRequest({"number": "the follow-me list would exceed %d characters" % GRPLIST_MAX})
    return text


def apply(ext: str, action: str, number: Optional[str]) -> Tuple[Dict[str, Any], str]:
    """Run one POST /followme/<ext> action; returns (status + created/changed, message)."""
    if action in ("addExternal", "removeExternal"):
        if not number:
            raise BadRequest({"number": "is required for action %s" % action})
        digits, had_pound = parse_number(number)
    else:
        if number:
            raise BadRequest({"number": "is not used by action %s" % action})
        digits, had_pound = "", False
    db = runtime().db
    devstate = _bool_setting("USEDEVSTATE", True)

    def work() -> Tuple[Dict[str, Any], str, bool, Optional[Tuple[bool, List[str]]]]:
        astdb = AstdbWriter("follow-me of extension %s" % ext)
        try:
            with db.transaction() as tx:
                if not dao.lock_user(tx, ext):
                    raise NotFound("Extension %s not found" % ext)
                row = dao.get(tx, ext, lock=True)
                tree = _tree(ext) if row is not None else {}
                created = sql_changed = False
                target: Dict[str, str] = {}
                message = "OK"

                if row is None:
                    if action == "removeExternal":
                        raise NotFound("Follow-me is not configured for extension %s" % ext)
                    if action == "disable":
                        return _status(ext, None, {}), "Follow-me is not configured: nothing to disable", \
                            False, None
                    entries = [ext]
                    if action == "addExternal":
                        entry = _entry_for(tx, ext, digits, had_pound)
                        if entry not in entries:
                            entries.append(entry)
                        enabled = not _bool_setting("FOLLOWME_DISABLED", True)
                    else:
                        enabled = True
                    new_row, target = _defaults(ext, _joined(ext, entries), enabled)
                    # Stale keys of an earlier group count as "old" values (restored on failure).
                    tree = _tree(ext)
                    dao.insert(tx, new_row)
                    created = sql_changed = True
                    message = "Created: follow-me group created with FreePBX's defaults"
                    row = new_row
                elif action == "addExternal":
                    entries = _current_list(row, tree)
                    if any(_bare(e) == digits for e in entries):
                        return _status(ext, row, tree), "%s is already in the follow-me list" % digits, \
                            False, None
                    entries.append(_entry_for(tx, ext, digits, had_pound))
                    grplist = _joined(ext, entries)
                    dao.set_grplist(tx, ext, grplist)
                    target = {"grplist": grplist}
                    sql_changed = True
                elif action == "removeExternal":
                    entries = _current_list(row, tree)
                    kept = [e for e in entries if _bare(e) != digits]
                    if len(kept) == len(entries):
                        raise NotFound("%s is not in the follow-me list of extension %s" % (digits, ext))
                    grplist = _joined(ext, kept)
                    dao.set_grplist(tx, ext, grplist)
                    target = {"grplist": grplist}
                    sql_changed = True
                else:  # enable / disable an existing group: AstDB only, like the *21 feature code
                    target = {"ddial": ENABLED if action == "enable" else DISABLED}

                for key in FM_KEYS:
                    if key in target:
                        astdb.put("AMPUSER", "%s/followme/%s" % (ext, key), target[key], tree.get(key))
                ddial_changed = "ddial" in target and target["ddial"] != tree.get("ddial")
                live_state: Optional[Tuple[bool, List[str]]] = None
                if "ddial" in target and devstate:
                    on = target["ddial"] == ENABLED
                    state = "BUSY" if on else "NOT_INUSE"
                    devices = _devices(ext)
                    for dev in devices:
                        old = runtime().ami.db_get("CustomDevstate", "FOLLOWME%s" % dev)
                        astdb.put("CustomDevstate", "FOLLOWME%s" % dev, state, old)
                    if ddial_changed:
                        live_state = (on, devices)
                if created:
                    # Only a new group needs the dialplan regenerated (ext-findmefollow has an entry
                    # per row); the list and on/off are read from AstDB at call time, and FreePBX's
                    # own list edits (addSettingsById) do not set need-reload either.
                    # Last statement: the admin row is a hot spot for every writer.
                    framework_dao.set_need_reload(tx)
                changed = sql_changed or bool(astdb.undo)
                if not changed:
                    message = "Follow-me is already %s" % ("enabled" if action == "enable" else "disabled")
                tree = dict(tree, **target)
            return dict(_status(ext, row, tree), created=created), message, changed, live_state
        except BaseException:
            astdb.rollback()
            raise

    result, message, changed, live_state = retry_tx(work, "follow-me of extension %s" % ext)
    result.setdefault("created", False)
    if changed:
        extcache.invalidate()
        if live_state is not None:
            _notify_devstate(ext, *live_state)
        audit.record("followme.%s" % action, result)
        # The group's row (created, or its list changed) means need-reload; enable/disable is AstDB only.
        sql = result["created"] or action in ("addExternal", "removeExternal")
        events.changed("followme", "created" if result["created"] else "updated", extension=ext, change=action,
                       enabled=result["enabled"], grplist=result["grplist"], needreload=True if sql else None)
    return result, message


def _devices(ext: str) -> List[str]:
    devices = runtime().ami.db_get("AMPUSER", "%s/device" % ext) or ""
    return [d for d in devices.split("&") if d]


def _notify_devstate(ext: str, on: bool, devices: List[str]) -> None:
    """Tell Asterisk's device-state engine too (FreePBX sets DEVICE_STATE(), which
    also notifies BLF subscribers); the AstDB value is already stored, so this
    is best effort."""
    try:
        for dev in devices:
            runtime().ami.action("Setvar", [("Variable", "DEVICE_STATE(Custom:FOLLOWME%s)" % dev),
                                            ("Value", "BUSY" if on else "NOT_INUSE")])
    except AmiError as exc:
        log.info("follow-me %s: live device state not updated (%s)", ext, exc)
