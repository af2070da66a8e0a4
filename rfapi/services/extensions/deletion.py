"""DELETE /extension/<ext>: everything FreePBX's delete removes
(tests/data/freepbx/WRITES.md §2), atomically (see undo.py)."""
from __future__ import annotations

import logging
import os
import shutil
import uuid
from typing import Any, Dict, List

from ... import audit
from ...adapters import files
from ...adapters.db import DatabaseUnavailable
from ...dao import extensions as dao
from ...dao import framework as fw_dao
from ...errors import NotFound
from ...runtime import runtime
from .. import events, extcache, vmconf
from .read import current_entry
from .rows import VM_CONTEXT, delete_ops, delete_roots
from .undo import NumberLock, Undo, _db_reachable, _failure, _known_failure, _row_exists, apply_astdb, read_trees
from .validation import EXISTING_RE

log = logging.getLogger("rfapi.extensions")


def delete(number: str, p: Dict[str, Any]) -> Dict[str, Any]:
    rt = runtime()
    db, ami = rt.db, rt.ami
    n = number
    if not EXISTING_RE.fullmatch(n):
        raise NotFound("Extension %s not found" % n)
    vm_path = rt.path("voicemail_conf")
    remove_spool = bool(p.get("deletevoicemail"))
    tombstones: List[str] = []
    with NumberLock(db, n):
        if dao.user(db, n) is None:
            raise NotFound("Extension %s not found" % n)
        with vmconf.Editor(vm_path) as vm:
            before = read_trees(ami, delete_roots(n))
            removed = current_entry(db, n, before, vm.text)
            contexts = vmconf.find_mailbox(vm.text, n)
            with_fm = dao.has_table(db, "findmefollow")
            undo = Undo()
            committing = False
            try:
                with db.transaction() as tx:
                    dao.delete_extension(tx, n, with_fm)
                    fw_dao.set_need_reload(tx)
                    text = vm.text
                    for ctx in contexts:
                        text, _ = vmconf.remove_entry(text, ctx, n)
                    text, _ = vmconf.remove_entry(text, "pbxaliases", "%s@device" % n)
                    if text != vm.text:
                        undo.add("voicemail.conf", vm.restore)
                        vm.write(text)
                    _remove_device_link(rt, n, undo)
                    if remove_spool:
                        tombstones = _set_aside_spool(rt, n, contexts, undo)
                    apply_astdb(ami, delete_ops(n), before, undo)
                    committing = True
            except BaseException as exc:
                if committing and isinstance(exc, DatabaseUnavailable) and not _row_exists(db, n) \
                        and _db_reachable(db):
                    log.warning("commit of the deletion of %s reported a failure but the row is gone; keeping it", n)
                else:
                    undo.run(ami)
                    if _known_failure(exc):
                        raise _failure(exc, undo, "deleted") from None
                    raise
    _forget_registrations(ami, n)
    spool_left = []
    for path in tombstones:
        try:
            shutil.rmtree(path)
        except OSError as exc:
            log.error("could not remove voicemail folder %s: %s", path, exc)
            spool_left.append(os.path.basename(path))
    extcache.invalidate()
    result = dict(removed or {"extension": n})
    result["voicemail_deleted"] = bool(remove_spool and tombstones and not spool_left)
    if spool_left:
        result["voicemail_left"] = spool_left
    audit.record("extension.delete", result)
    events.changed("extension", "deleted", extension=n, needreload=True)
    return result


def _forget_registrations(ami, n: str) -> None:
    """Drop the registrations Asterisk persisted for this number in AstDB
    (res_pjsip: registrar/contact/<aor>;@<hash>; chan_sip: SIP/Registry/<peer>).
    Found on a real Asterisk 20: they outlive the endpoint, so an extension
    created again with the same number would ring the deleted phone until that
    registration expires (up to an hour). FreePBX leaves them; we do not. Best
    effort after COMMIT: the extension is already gone, a failure is logged."""
    try:
        for key in ami.db_gettree("registrar", "contact"):
            rest = key[len("/registrar/"):] if key.startswith("/registrar/") else ""
            if rest.startswith("contact/%s;@" % n):
                ami.db_del("registrar", rest)
        ami.db_del("SIP", "Registry/%s" % n)
    except Exception as exc:  # AMI gone after the commit: the keys expire with the registration
        log.warning("could not remove the persisted registrations of %s: %s", n, exc)


def _remove_device_link(rt, n: str, undo: Undo) -> None:
    """delDevice removes the pre-16.2 mailbox symlink <spool>/device/<ext> if present."""
    spool = rt.path("voicemail_spool")
    if not os.path.isdir(os.path.join(spool, "device")):
        return
    link = os.path.join(files.confined(spool, "device"), files.safe_part(n))
    if os.path.islink(link):
        target = os.readlink(link)
        os.unlink(link)
        undo.add("device symlink", lambda: os.symlink(target, link))


def _set_aside_spool(rt, n: str, contexts: List[str], undo: Undo) -> List[str]:
    """Rename <spool>/<ctx>/<box> to a hidden tombstone (undoable); removed after COMMIT."""
    spool = rt.path("voicemail_spool")
    out = []
    for ctx in contexts or [VM_CONTEXT]:
        try:
            base = files.confined(spool, files.safe_part(ctx))
            box = files.confined(spool, files.safe_part(ctx), files.safe_part(n))
        except files.UnsafePath:
            continue
        if not os.path.isdir(box) or os.path.islink(box):
            continue
        tomb = os.path.join(base, ".%s.rfapi-deleted-%s" % (n, uuid.uuid4().hex[:8]))
        os.rename(box, tomb)
        undo.add("spool " + box, lambda b=box, t=tomb: os.rename(t, b))
        out.append(tomb)
    return out
