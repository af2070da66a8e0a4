"""Bulk export and import of extensions (GET /extensions/export, POST /extensions/import).

Export: every extension with every field PUT /extension accepts (from the
extensions cache; secrets only with secrets=yes, read live and audited). CSV
cells a spreadsheet would run as a formula are neutralised (services/csvsafe.py).

Import: each row creates the extension if it does not exist (FreePBX's Quick
Create writes, as POST /extension/add) or updates it (as PUT /extension: empty
cells leave a field alone). All rows are validated against the PBX as it is
before anything is written; then everything is written as one change: every
number locked, one transaction for all SQL, one voicemail.conf rewrite, the
AstDB keys with their previous values remembered — and all of it undone if any
step fails. need-reload is set once, the cache invalidated once, one audit line.
The rows, their shapes and field-name aliases: services/importrows.py.
"""
from __future__ import annotations

import csv
import io
import json
from contextlib import ExitStack
from typing import Any, Dict, List, Optional, Sequence, Tuple

from .. import audit
from .. import params as P
from ..dao import extensions as dao
from ..dao import framework as fw_dao
from ..errors import ApiError, BadRequest
from ..runtime import runtime
from . import catalog, csvsafe, events, extcache, importrows, vmconf
from . import extensions as ext

FIELDS = importrows.FIELDS
EXTTYPE_OF_TECH = {"pjsip": "pjsip", "sip": "chansip", "chansip": "chansip", "virtual": "virtual"}
VM_OPTION_FIELDS = tuple(p for p, _ in ext.VM_OPTIONS)
# Above this many rows the AstDB families are read whole, once, instead of a few
# DBGetTree per row: Asterisk answers a DBGetTree with a scan of its whole astdb
# table (key || '/' LIKE prefix), so per-row trees would cost rows x table size.
BULK_READ_ROWS = 20


class AstdbView:
    """The current AstDB keys under the roots of many extensions, read once per family
    (or per root for a small import); ``trees(roots)`` answers like extensions.read_trees."""

    def __init__(self, ami, roots: List[Tuple[str, str]], bulk: bool):
        self.ami = ami
        self.bulk = bulk
        self.index: Dict[Tuple[str, str], Dict[str, str]] = {}
        if bulk:
            for family in sorted({f for f, _k in roots}):
                for key, val in extcache._family_tree(ami, family).items():
                    parts = key.split("/", 3)  # '', family, first key part, rest
                    if len(parts) >= 3:
                        self.index.setdefault((parts[1], parts[2]), {})[key] = val

    def trees(self, roots: List[Tuple[str, str]]) -> Dict[str, str]:
        if not self.bulk:
            return ext.read_trees(self.ami, roots)
        out: Dict[str, str] = {}
        for family, key in roots:
            out.update(self.index.get((family, key), {}))
        return out


# ---------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------

def _export_row(e: Dict[str, Any]) -> Dict[str, Any]:
    return {f: e.get(f) for f in FIELDS}


def export(fmt: str, secrets: bool) -> Tuple[str, bytes]:
    entries = extcache.all_extensions()
    if secrets:
        entries = ext.with_secrets(entries)
    rows = [_export_row(e) for e in entries]
    if fmt == "json":
        return "application/json", json.dumps(rows, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(importrows.CSV_COLUMNS)
    for r in rows:
        w.writerow([csvsafe.cell(_cell(r[f])) for f in FIELDS])
    return "text/csv; charset=utf-8", out.getvalue().encode("utf-8")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v)


# ---------------------------------------------------------------------------
# Planning every row against the PBX as it is
# ---------------------------------------------------------------------------

class Row:
    def __init__(self, index: int, fields: Dict[str, Any]):
        self.index = index
        self.fields = fields
        self.number = str(fields.get("extension") if fields.get("extension") is not None else "").strip()
        self.action = ""
        self.errors: Dict[str, str] = {}
        self.plan: Optional[ext.Plan] = None      # create
        self.change: Optional[ext.Change] = None  # update, or the extra fields of a create
        self.before: Dict[str, str] = {}
        self.ops: List[ext.Op] = []
        self.vm_edits: List[Tuple[str, str, Optional[str]]] = []

    def report(self) -> Dict[str, Any]:
        out: Dict[str, Any] = {"row": self.index, "extension": self.number or None, "action": self.action or None,
                               "errors": self.errors}
        if self.action == "update" and self.change is not None:
            out["changed"] = self.change.changed
        return out


def _validate(params: Sequence[P.Param], fields: Dict[str, Any], row: Row) -> Optional[Dict[str, Any]]:
    try:
        return P.validate(params, fields)
    except BadRequest as exc:
        row.errors.update(exc.data["errors"])
        return None


def _plan_create(row: Row, add_params, update_params, settings, core_version, vm_text: str, db) -> None:
    f = dict(row.fields)
    tech = str(f.pop("tech", "") or "").strip().lower()
    add_names = {p.name for p in add_params}
    add = {k: v for k, v in f.items() if k in add_names}
    extra = {k: v for k, v in f.items() if k not in add_names}
    add["exttype"] = EXTTYPE_OF_TECH.get(tech, "sip") if tech else "sip"
    if tech and tech not in EXTTYPE_OF_TECH:
        row.errors["tech"] = "must be one of: pjsip, sip, virtual"
    p = _validate(add_params, add, row)
    q = _validate(update_params, extra, row) if extra else {}
    if p is None or q is None:
        return
    kind = catalog.number_in_use(row.number, db)
    if kind:
        row.errors["extension"] = "is already used by %s %s" % ("an" if kind[0] in "aeiou" else "a", kind)
        return
    stale = vmconf.find_mailbox(vm_text, row.number)
    if stale and p.get("voicemail"):
        row.errors["voicemail"] = "voicemail.conf already has a mailbox %s (in [%s])" % (row.number,
                                                                                          ", ".join(stale))
    try:
        plan = ext.build_plan(p, settings, core_version)
    except BadRequest as exc:
        row.errors.update(exc.data["errors"])
        return
    q = {k: v for k, v in q.items() if v is not None}
    if plan.vm_line is not None:
        # The mailbox options of the new line (create writes them all as no).
        opts = [(opt, ("yes" if q.pop(param) else "no") if param in q else "no") for param, opt in ext.VM_OPTIONS]
        plan.vm_line = vmconf.mailbox_line(row.number, p["voicemailpassword"], plan.name, plan.email, "", opts)
    else:
        for param in VM_OPTION_FIELDS:
            if param in q:
                row.errors[param] = "is only used with voicemail (voicemail=yes)"
    row.plan = plan
    row.action = "create"
    if q and not row.errors:
        # Fields create does not take (ring time, call waiting, destinations, ...): the update
        # plan of the extension as create leaves it, merged into the new rows below.
        sip = {kw: (data, flag) for _i, kw, data, flag in plan.sip}
        astdb = ext._after_state({}, plan.astdb_ops({}))
        try:
            # voicemail.conf as far as this extension goes: just its new mailbox line.
            own = "[%s]\n%s\n" % (ext.VM_CONTEXT, plan.vm_line) if plan.vm_line is not None else ""
            row.change = ext.plan_update(row.number, q, plan.user, plan.device, sip, plan.followme,
                                         own, astdb, settings, db)
        except ApiError as exc:
            row.errors.update((exc.data or {}).get("errors") or {"extension": exc.message})


def _plan_update(row: Row, update_params, settings, vm_text: str, current, db) -> None:
    f = dict(row.fields)
    f.pop("extension", None)
    q = _validate(update_params, f, row)
    if q is None:
        return
    user, device, sip, fm = current
    try:
        row.change = ext.plan_update(row.number, {k: v for k, v in q.items() if v is not None}, user, device, sip,
                                     fm, vm_text, row.before, settings, db)
    except ApiError as exc:
        row.errors.update((exc.data or {}).get("errors") or {"extension": exc.message})
        return
    row.action = "unchanged" if row.change.empty() else "update"


# ---------------------------------------------------------------------------
# The import
# ---------------------------------------------------------------------------

def run(p: Dict[str, Any], add_params, update_params) -> Tuple[Dict[str, Any], str]:
    sent, field = importrows.read(p)
    dry_run = bool(p.get("dry_run"))
    only_create = p.get("mode") == "create"
    rt = runtime()
    db, ami = rt.db, rt.ami
    settings = dao.settings(db)
    rows = [Row(i, r) for i, r in enumerate(importrows.canonical(sent, field, settings), start=1)]
    core_version = dao.core_version(db)
    seen: Dict[str, int] = {}
    for row in rows:
        if not ext.EXISTING_RE.fullmatch(row.number):
            row.errors["extension"] = "is required: digits (2-10 for a new extension)"
        elif row.number in seen:
            row.errors["extension"] = "appears more than once in the file (rows %d and %d)" % (seen[row.number],
                                                                                           row.index)
        else:
            seen[row.number] = row.index
    numbers = sorted(seen)
    with ExitStack() as stack:
        # Every number of the file is locked (sorted: two imports cannot deadlock) for the
        # whole validation and write, so nothing changes between the check and the write.
        for n in numbers:
            stack.enter_context(ext.NumberLock(db, n))
        current = _current(db, numbers)
        # Updates need AstDB to plan; creates only to write (a dry run of new numbers reads none).
        roots = [root for n in numbers for root in (ext.delete_roots(n) if n in current else
                                                   [] if dry_run else _create_roots(n))]
        astdb = AstdbView(ami, roots, len(numbers) > BULK_READ_ROWS)
        vm = stack.enter_context(vmconf.Editor(rt.path("voicemail_conf")))
        for row in rows:
            if row.errors:
                continue
            if row.number in current:
                if only_create:
                    row.errors["extension"] = "already exists (mode=create)"
                    continue
                row.before = astdb.trees(ext.delete_roots(row.number))
                _plan_update(row, update_params, settings, vm.text, current[row.number], db)
            else:
                if not ext.NUMBER_RE.fullmatch(row.number):
                    row.errors["extension"] = "must be 2 to 10 digits for a new extension"
                    continue
                _plan_create(row, add_params, update_params, settings, core_version, vm.text, db)
        report = [r.report() for r in rows]
        bad = [r for r in rows if r.errors]
        counts = {a: sum(1 for r in rows if r.action == a and not r.errors) for a in ("create", "update", "unchanged")}
        summary = {"dry_run": dry_run, "rows": len(rows), "created": counts["create"], "updated": counts["update"],
                   "unchanged": counts["unchanged"], "failed": len(bad), "report": report}
        if bad:
            errors = {"row %d" % r.index: "; ".join("%s %s" % kv for kv in sorted(r.errors.items())) for r in bad[:50]}
            raise ApiError("Invalid rows: %d of %d; nothing was imported" % (len(bad), len(rows)),
                           data=dict(summary, errors=errors), status=400)
        if dry_run:
            return summary, "Dry run: nothing was changed"
        todo = [r for r in rows if r.action in ("create", "update")]
        if todo:
            secrets = _write(db, ami, vm, todo, astdb)
            for r in summary["report"]:
                if r["extension"] in secrets:
                    r["secret"] = secrets[r["extension"]]
    if todo:
        extcache.invalidate()
        audit.record("extensions.import", {"count": len(todo), "created": counts["create"],
                                           "updated": counts["update"],
                                           "rows": [{"row": r.index, "extension": r.number, "action": r.action}
                                                    for r in todo]})
        events.changed("extension", "imported", extensions=sorted(r.number for r in todo),
                       created=sorted(r.number for r in todo if r.action == "create"),
                       updated=sorted(r.number for r in todo if r.action == "update"), needreload=True)
    message = "Imported: %d created, %d updated, %d unchanged" % (counts["create"], counts["update"],
                                                                 counts["unchanged"])
    if any("secret" in r for r in summary["report"]):
        message += "; generated SIP secrets are shown only this once"
    return summary, message


def _current(db, numbers: List[str]) -> Dict[str, Tuple[Any, Any, Any, Any]]:
    """(users row, devices row, sip {keyword: (data, flags)}, findmefollow row) of the
    numbers that exist: four queries for the whole file."""
    out: Dict[str, Tuple[Any, Any, Any, Any]] = {}
    for chunk in [numbers[i:i + 500] for i in range(0, len(numbers), 500)]:
        users, devices, sips, fms = dao.rows_for(db, chunk)
        for u in users:
            n = ext._s(u["extension"])
            out[n] = (u, None, {}, None)
        for d in devices:
            n = ext._s(d["id"])
            if n in out and out[n][1] is None:
                out[n] = (out[n][0], d, out[n][2], out[n][3])
        for s in sips:
            n = ext._s(s["id"])
            if n in out:
                out[n][2][ext._s(s["keyword"])] = (ext._s(s["data"]), int(s["flags"] or 0))
        for f in fms:
            n = ext._s(f["grpnum"])
            if n in out:
                out[n] = (out[n][0], out[n][1], out[n][2], f)
    return {n: (u, d, sip if d else {}, f) for n, (u, d, sip, f) in out.items()}


def _create_roots(n: str) -> List[Tuple[str, str]]:
    plan = ext.Plan()
    plan.number = n
    return plan.roots()


def _write(db, ami, vm: vmconf.Editor, todo: List[Row], astdb: AstdbView) -> Dict[str, str]:
    """Everything in one change, undone as a whole on failure. Returns generated secrets."""
    undo = ext.Undo()
    before: Dict[str, str] = {}
    ops: List[ext.Op] = []
    edits: List[Tuple[str, str, Optional[str]]] = []
    users, devices, sips, fms = [], [], [], []
    secrets: Dict[str, str] = {}
    for r in todo:
        if r.plan is not None:
            plan = r.plan
            r.before = astdb.trees(plan.roots())
            ch = r.change
            if ch is not None:
                plan.user.update(ch.user)
                if plan.device is not None:
                    plan.device.update(ch.device)
                plan.sip = [(i, kw, ch.sip.get(kw, data), fl) for i, kw, data, fl in plan.sip]
            users.append(plan.user)
            if plan.device:
                devices.append(plan.device)
                sips.extend(plan.sip)
            if plan.followme:
                fms.append(plan.followme)
            if plan.vm_line is not None:
                n = plan.number
                edits.append((ext.VM_CONTEXT, n, plan.vm_line))
                if vmconf.has_section(vm.text, "pbxaliases"):
                    edits.append(("pbxaliases", "%s@device" % n, "%s@device=%s@%s" % (n, n, ext.VM_CONTEXT)))
            ops.extend(plan.astdb_ops(r.before))
            if ch is not None:
                ops.extend(ch.ops)
            if plan.generated_secret:
                secrets[plan.number] = plan.secret
        else:
            edits.extend(r.change.vm_edits)
            ops.extend(r.change.ops)
        before.update(r.before)
    try:
        with db.transaction() as tx:
            if users:
                dao.insert_users(tx, users)
            if devices:
                dao.insert_devices(tx, devices)
            if sips:
                dao.insert_sip(tx, sips)
            if fms:
                dao.insert_findmefollows(tx, fms)
            for r in todo:
                if r.plan is not None:
                    continue
                ext.write_rows(tx, r.number, r.change, r.change.cur_sip)
            fw_dao.set_need_reload(tx)  # once for the whole import
            if edits:
                text = vmconf.apply_edits(vm.text, edits)
                undo.add("voicemail.conf", vm.restore)
                vm.write(text)
            ext.apply_astdb(ami, ops, before, undo)
    except BaseException as exc:
        undo.run(ami)
        if ext._known_failure(exc):
            raise ext._failure(exc, undo, "imported") from None
        raise
    return secrets
