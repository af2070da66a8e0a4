"""Inbound routes (DIDs): list, read, add and delete exactly as FreePBX core does.

Add = ``Core::addDID`` with ``addDIDDefaults`` (WRITES.md §3); delete =
``DELETE FROM incoming WHERE extension = ?`` for every CID of that DID. Both set
FreePBX's need-reload flag (the dialplan ``ext-did-*`` is generated from SQL)."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Tuple, TypeVar

import MySQLdb

from .. import audit
from ..dao import dids as dao
from ..dao import framework as framework_dao
from ..errors import BadRequest, Conflict, GatewayTimeout, NotFound
from ..runtime import runtime
from . import catalog, events

T = TypeVar("T")

DEFAULT_DESTINATION = "app-blackhole,hangup,1"
DEFAULT_MOHCLASS = "default"

_DEADLOCK = 1213
_LOCK_WAIT_TIMEOUT = 1205


def retry_tx(work: Callable[[], T], what: str, attempts: int = 3) -> T:
    """Run ``work`` (one whole transaction, incl. its AstDB undo on failure) and
    run it again if InnoDB picked it as a deadlock victim: the transaction was
    rolled back entirely, so a retry is safe. Shared by the DID, admin and
    follow-me services."""
    for attempt in range(attempts):
        try:
            return work()
        except MySQLdb.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code == _DEADLOCK and attempt < attempts - 1:
                continue
            if code in (_DEADLOCK, _LOCK_WAIT_TIMEOUT):
                raise GatewayTimeout("Gateway Timeout: another change to %s kept it locked; try again" % what) \
                    from None
            raise
    raise AssertionError("unreachable")


def list_dids() -> List[Dict[str, Any]]:
    return dao.all_routes(runtime().db)


def get_did(did: str) -> List[Dict[str, Any]]:
    rows = dao.routes_for(runtime().db, did)
    if not rows:
        raise NotFound("No inbound route for DID %s" % did)
    return rows


def _rvolume_default(db) -> str:
    # addDIDDefaults sets '0'; core 17's INSERT then stores '' for any falsy
    # value ('0' included), core 16 stores '0'. Follow the installed core.
    major = dao.core_major_version(db)
    return "0" if major is not None and major < 17 else ""


def add_did(params: Dict[str, Any]) -> Dict[str, Any]:
    db = runtime().db
    did = params["did"]
    destination = params.get("destination") or DEFAULT_DESTINATION
    mohclass = params.get("mohclass") or DEFAULT_MOHCLASS
    description = (params.get("description") or "").strip() or did

    # Validate everything before the first write.
    errors: Dict[str, str] = {}
    if not catalog.destination_exists(destination):
        errors["destination"] = "is not a destination that exists on this PBX (see /pbx/framework/destinations)"
    if not catalog.mohclass_exists(mohclass):
        errors["mohclass"] = "is not a music-on-hold class that exists on this PBX (see /pbx/framework/mohclasses)"
    if errors:
        raise BadRequest(errors)

    row = {
        "cidnum": "",  # "any CID": '' never NULL, or FreePBX's own lookups miss it
        "extension": did,
        "destination": destination,
        "privacyman": 0,
        "pmmaxretries": "3",
        "pmminlength": "10",
        "alertinfo": "",
        "ringing": "",
        "fanswer": "",
        "reversal": "",
        "mohclass": mohclass,
        "description": description,
        "grppre": "",
        "delay_answer": 0,
        "pricid": "",
        "indication_zone": "default",
        "rvolume": _rvolume_default(db),
    }

    def work() -> Dict[str, Any]:
        with db.transaction() as tx:
            existing = dao.routes_for(tx, did, lock=True)
            if any((r["cidnum"] or "") == "" for r in existing):
                raise Conflict("An inbound route for DID %s (any caller ID) already exists" % did)
            dao.insert(tx, row)
            created = [r for r in dao.routes_for(tx, did) if (r["cidnum"] or "") == ""][0]
            framework_dao.set_need_reload(tx)
        return created

    created = retry_tx(work, "the inbound routes")
    audit.record("did.add", created)
    events.changed("did", "created", did=did, needreload=True)
    return created


def delete_did(did: str) -> List[Dict[str, Any]]:
    db = runtime().db

    def work() -> List[Dict[str, Any]]:
        with db.transaction() as tx:
            rows = dao.routes_for(tx, did, lock=True)
            if not rows:
                raise NotFound("No inbound route for DID %s" % did)
            dao.delete(tx, did)
            framework_dao.set_need_reload(tx)
        return rows

    removed = retry_tx(work, "the inbound routes")
    audit.record("did.delete", removed)
    events.changed("did", "deleted", did=did, needreload=True)
    return removed


def update_did(did: str, params: Dict[str, Any]) -> Tuple[Dict[str, Any], str]:
    """Core::editDIDProperties: UPDATE only the sent columns of one route, addressed
    by DID and caller ID (``cidnum``; needed only when the DID has several routes)."""
    db = runtime().db
    sent = {k: v for k, v in params.items() if v is not None}
    errors: Dict[str, str] = {}
    if "destination" in sent and not catalog.destination_exists(sent["destination"]):
        errors["destination"] = "is not a destination that exists on this PBX (see /pbx/framework/destinations)"
    if "mohclass" in sent and not catalog.mohclass_exists(sent["mohclass"]):
        errors["mohclass"] = "is not a music-on-hold class that exists on this PBX (see /pbx/framework/mohclasses)"
    if errors:
        raise BadRequest(errors)
    values = {k: sent[k] for k in ("destination", "description", "mohclass") if k in sent}

    def work() -> Tuple[Dict[str, Any], List[str]]:
        with db.transaction() as tx:
            rows = dao.routes_for(tx, did, lock=True)
            if not rows:
                raise NotFound("No inbound route for DID %s" % did)
            if "cidnum" in sent:
                rows = [r for r in rows if (r["cidnum"] or "") == sent["cidnum"]]
                if not rows:
                    raise NotFound("DID %s has no inbound route for caller ID '%s'" % (did, sent["cidnum"]))
            elif len(rows) > 1:
                raise BadRequest({"cidnum": "is required: DID %s has %d inbound routes (caller IDs %s)" % (
                    did, len(rows), ", ".join("'%s'" % (r["cidnum"] or "") for r in rows))})
            row = rows[0]
            changes = {k: v for k, v in values.items() if (row[k] or "") != v}
            if not changes:
                return row, []
            dao.update(tx, did, row["cidnum"], changes)
            framework_dao.set_need_reload(tx)
            cid = row["cidnum"] or ""
            updated = [r for r in dao.routes_for(tx, did) if (r["cidnum"] or "") == cid][0]
        return updated, sorted(changes)

    route, changed = retry_tx(work, "the inbound routes")
    if not changed:
        return route, "Unchanged: every value sent is already set"
    audit.record("did.update", {"route": route, "changed": changed})
    events.changed("did", "updated", did=did, cidnum=route.get("cidnum") or "", changed=changed, needreload=True)
    return route, "Updated: " + ", ".join(changed)
