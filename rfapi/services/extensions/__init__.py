"""Create, change and delete extensions exactly as FreePBX's Quick Create, extension
page and delete do (tests/data/freepbx/WRITES.md §1, §2), atomically.

One job per module:

* ``validation`` - the field checks (Param(check=...)) and their value sets;
* ``rows``       - what FreePBX writes, as data: sip rows, follow-me row and keys,
                   the AstDB keys of a deletion;
* ``plan``       - the plan of a new extension (cross-field checks included);
* ``undo``       - the per-number lock, the undo journal (AstDB keys, voicemail.conf,
                   spool renames) and the answers of a failed write; its docstring is
                   the atomicity contract every write here keeps;
* ``creation``, ``deletion``, ``edit`` - the three writes (POST, DELETE, PUT);
* ``change``     - the plan of a PUT (what each field sent writes);
* ``read``       - one extension read live, and entries with their secrets.

This package exports the names the rest of rfapi uses; state that must exist once
(the lock timeout) lives in its module only (``undo.LOCK_TIMEOUT``).
"""
from __future__ import annotations

from ...text import text as _s  # the import code's name for it
from .change import VM_OPTIONS, Change, plan_update
from .creation import create
from .deletion import delete
from .edit import update, write_rows
from .plan import Plan, build_plan
from .read import with_secrets
from .rows import VM_CONTEXT, Op, delete_roots, resolve_tech
from .undo import NumberLock, Undo, _after_state, _failure, _known_failure, apply_astdb, read_trees
from .validation import (CHANSIP_DTMF, DEST_RE, EMAIL_RE, EXISTING_RE, EXTTYPES, NANP_RE, NUMBER_RE, ONDEMAND_VALUES,
                         PJSIP_DTMF, RECORDING_VALUES, SECRET_MIN, SECRET_RE, check_callwaiting, check_destination,
                         check_displayname, check_email, check_outboundcid, check_recording)

__all__ = [
    # validation (resources/extensions.py, services/importrows.py, services/extdump.py)
    "CHANSIP_DTMF", "DEST_RE", "EMAIL_RE", "EXISTING_RE", "EXTTYPES", "NANP_RE", "NUMBER_RE", "ONDEMAND_VALUES",
    "PJSIP_DTMF", "RECORDING_VALUES", "SECRET_MIN", "SECRET_RE", "check_callwaiting", "check_destination",
    "check_displayname", "check_email", "check_outboundcid", "check_recording",
    # the writes and reads (resources/extensions.py)
    "create", "delete", "update", "with_secrets",
    # the building blocks the bulk import reuses (services/extimport.py, services/extdump.py)
    "VM_CONTEXT", "VM_OPTIONS", "Op", "Plan", "Change", "NumberLock", "Undo", "apply_astdb", "build_plan",
    "delete_roots", "plan_update", "read_trees", "resolve_tech", "write_rows",
    "_after_state", "_failure", "_known_failure", "_s",
]
