"""One extension as GET shows it, read live (for the answers of delete and PUT), and
entries with their secrets read live (never from the cache file)."""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from ... import audit
from ...dao import extensions as dao
from ...runtime import runtime
from ...text import text
from .. import extcache, vmconf


def current_entry(db, n: str, astdb: Optional[Dict[str, str]], vm_text: Optional[str] = None
                  ) -> Optional[Dict[str, Any]]:
    u = dao.user(db, n)
    if u is None:
        return None
    d = dao.device(db, n)
    f = dao.findmefollow(db, n)
    sip = {text(r["keyword"]): text(r["data"]) for r in dao.sip_rows(db, n)} if d else {}
    boxes = vmconf.mailboxes(vm_text) if vm_text is not None else vmconf.read_mailboxes(runtime().path("voicemail_conf"))
    return extcache.entry_from_rows(u, d, f is not None, boxes, astdb, f["grptime"] if f else None, sip)


def with_secrets(entries: List[Dict[str, Any]], number: Optional[str] = None) -> List[Dict[str, Any]]:
    """Copies of cache entries with the SIP secret and voicemail PIN read live (SQL
    and voicemail.conf, never stored in the cache file); audited like extdump."""
    rt = runtime()
    secrets = dao.sip_secrets(rt.db, number)
    boxes = vmconf.read_mailboxes(rt.path("voicemail_conf"))
    out = []
    for e in entries:
        e = dict(e)
        n = e["extension"]
        if e["tech"] != "virtual":
            e["secret"] = secrets.get(n)
        if e["voicemail"]:
            ctx = e.get("voicemail_context") or ""
            box = boxes.get(ctx, {}).get(n) if n in boxes.get(ctx, {}) else \
                next((b[n] for b in boxes.values() if n in b), None)
            e["voicemailpassword"] = box["pwd"] if box else None
        out.append(e)
    audit.record("extensions.secrets", {"extension": number} if number else {"extensions": len(out)})
    return out
