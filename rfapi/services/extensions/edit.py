"""PUT /extension/<ext>: only what is sent, FreePBX's writes per field, atomically
(see undo.py)."""
from __future__ import annotations

from typing import Any, Dict, Tuple

from ... import audit
from ...dao import extensions as dao
from ...dao import framework as fw_dao
from ...errors import NotFound
from ...runtime import runtime
from ...text import text
from .. import events, extcache, vmconf
from .change import plan_update
from .read import current_entry
from .rows import delete_roots
from .undo import NumberLock, Undo, _after_state, _failure, _known_failure, apply_astdb, read_trees
from .validation import EXISTING_RE


def write_rows(tx, n: str, ch, cur_sip) -> None:
    """The SQL side of one extension change (PUT and each import row): users, devices,
    sip and findmefollow rows, only what the change names."""
    dao.update_user(tx, n, ch.user)
    dao.update_device(tx, n, ch.device)
    dao.set_sip(tx, n, ch.sip, cur_sip)
    if ch.fm_create is not None:
        dao.insert_findmefollow(tx, ch.fm_create)
    elif ch.fm_delete:
        dao.delete_findmefollow(tx, n)
    else:
        dao.update_findmefollow(tx, n, ch.fm)


def update(number: str, p: Dict[str, Any]) -> Tuple[Dict[str, Any], str]:
    rt = runtime()
    db, ami = rt.db, rt.ami
    n = number
    if not EXISTING_RE.fullmatch(n):
        raise NotFound("Extension %s not found" % n)
    sent = {k: v for k, v in p.items() if v is not None}
    settings = dao.settings(db)
    vm_path = rt.path("voicemail_conf")
    with NumberLock(db, n):
        user = dao.user(db, n)
        if user is None:
            raise NotFound("Extension %s not found" % n)
        device = dao.device(db, n)
        sip = {text(r["keyword"]): (text(r["data"]), int(r["flags"] or 0)) for r in dao.sip_rows(db, n)} \
            if device else {}
        fm = dao.findmefollow(db, n)
        with vmconf.Editor(vm_path) as vm:
            before = read_trees(ami, delete_roots(n))
            ch = plan_update(n, sent, user, device, sip, fm, vm.text, before, settings, db)
            if ch.empty():
                return current_entry(db, n, before, vm.text), "Unchanged: every value sent is already set"
            undo = Undo()
            try:
                with db.transaction() as tx:
                    write_rows(tx, n, ch, sip)
                    # FreePBX's extension page calls needreload() after every edit.
                    fw_dao.set_need_reload(tx)
                    if ch.vm_text is not None:
                        undo.add("voicemail.conf", vm.restore)
                        vm.write(ch.vm_text)
                    apply_astdb(ami, ch.ops, before, undo)
            except BaseException as exc:
                undo.run(ami)
                if _known_failure(exc):
                    raise _failure(exc, undo, "changed") from None
                raise
            result = current_entry(db, n, _after_state(before, ch.ops), vm.text)
    extcache.invalidate()
    audit.record("extension.update", {"extension": n, "changed": ch.changed})
    events.changed("extension", "updated", extension=n, changed=ch.changed, needreload=True)
    return result, "Updated: " + ", ".join(ch.changed)
