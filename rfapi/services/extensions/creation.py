"""POST /extension/add: a new extension exactly as FreePBX's Quick Create writes it
(tests/data/freepbx/WRITES.md §1), atomically (see undo.py)."""
from __future__ import annotations

import logging
from typing import Any, Dict, Tuple

from ... import audit
from ...adapters.db import DatabaseUnavailable
from ...dao import extensions as dao
from ...dao import framework as fw_dao
from ...errors import Conflict
from ...runtime import runtime
from .. import catalog, events, extcache, vmconf
from .plan import build_plan
from .rows import VM_CONTEXT
from .undo import NumberLock, Undo, _after_state, _failure, _known_failure, _row_exists, apply_astdb, read_trees

log = logging.getLogger("rfapi.extensions")


def create(p: Dict[str, Any]) -> Tuple[Dict[str, Any], str]:
    rt = runtime()
    db, ami = rt.db, rt.ami
    settings = dao.settings(db)
    plan = build_plan(p, settings, dao.core_version(db))
    n = plan.number
    vm_path = rt.path("voicemail_conf")
    with NumberLock(db, n):
        kind = catalog.number_in_use(n, db)
        if kind:
            raise Conflict("Number %s is already used by %s %s" % (n, "an" if kind[0] in "aeiou" else "a", kind),
                           data={"number": n, "used_by": kind})
        with vmconf.Editor(vm_path) as vm:
            stale = vmconf.find_mailbox(vm.text, n)
            if stale:
                # A leftover mailbox would silently become the new user's (messages included).
                raise Conflict("voicemail.conf already has a mailbox %s (in [%s]); remove it first"
                               % (n, ", ".join(stale)), data={"number": n, "contexts": stale})
            before = read_trees(ami, plan.roots())
            ops = plan.astdb_ops(before)
            undo = Undo()
            committing = False
            try:
                with db.transaction() as tx:
                    dao.insert_user(tx, plan.user)
                    if plan.device:
                        dao.insert_device(tx, plan.device)
                        dao.insert_sip(tx, plan.sip)
                    if plan.followme:
                        dao.insert_findmefollow(tx, plan.followme)
                    fw_dao.set_need_reload(tx)
                    # SQL succeeded: now the file and AstDB, before COMMIT.
                    if plan.vm_line is not None:
                        text = vmconf.set_entry(vm.text, VM_CONTEXT, n, plan.vm_line)
                        if vmconf.has_section(text, "pbxaliases"):
                            # Voicemail::mapMailBox with Asterisk >= 16.2 (WRITES §1.7)
                            text = vmconf.set_entry(text, "pbxaliases", "%s@device" % n,
                                                    "%s@device=%s@%s" % (n, n, VM_CONTEXT))
                        undo.add("voicemail.conf", vm.restore)
                        vm.write(text)
                    apply_astdb(ami, ops, before, undo)
                    committing = True
            except BaseException as exc:
                if committing and isinstance(exc, DatabaseUnavailable) and _row_exists(db, n):
                    log.warning("commit of extension %s reported a failure but the row is there; keeping it", n)
                else:
                    undo.run(ami)
                    if _known_failure(exc):
                        raise _failure(exc, undo, "created") from None
                    raise
    extcache.invalidate()
    boxes = {VM_CONTEXT: {n: vmconf.parse_mailbox(plan.vm_line.split("=", 1)[1])}} if plan.vm_line else {}
    result = extcache.entry_from_rows(
        plan.user, plan.device, plan.followme is not None, boxes, _after_state(before, ops),
        plan.followme["grptime"] if plan.followme else None, {kw: data for _i, kw, data, _f in plan.sip})
    audit.record("extension.add", result)
    events.changed("extension", "created", extension=n, needreload=True)
    if plan.generated_secret:
        data = dict(result, secret=plan.secret)
        return data, "Created; the generated SIP secret is shown only this once"
    return result, "Created"
