"""Replaying a golden scenario through rfapi and comparing its change with FreePBX's."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

from tests.support import dbworld
from tests.support.world import body

from . import changes
from .allowed import ABSENT, ALLOWED

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "freepbx_golden"


def golden_files() -> List[Path]:
    return sorted(GOLDEN.glob("*.json"))


def load(path: Path) -> Dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def state(pbx) -> Dict[str, Any]:
    with pbx.peer.lock:
        astdb = dict(pbx.peer.astdb)
    return {"rows": changes.db_state(dbworld.server_args(), pbx.db.config_db), "astdb": astdb,
            "voicemail_conf": changes.vm_state(pbx.voicemail_conf.read_text()),
            "spool": changes.spool_state(pbx.spool)}


def apply_settings(pbx, settings: Dict[str, str]) -> None:
    for k, v in sorted(settings.items()):
        pbx.sql("UPDATE freepbx_settings SET value = %s WHERE keyword = %s", (v, k))


def run(pbx, golden: Dict[str, Any]) -> Dict[str, Any]:
    """rfapi's change for the golden's requests (each must succeed)."""
    apply_settings(pbx, golden["settings"])
    before = state(pbx)
    for method, path, params in golden["rfapi_requests"]:
        if method in ("GET", "DELETE"):
            r = pbx.call(method, path, query_string=params)
        else:
            r = pbx.call(method, path, data=params)
        assert 200 <= r.status_code < 300, (method, path, r.status_code, body(r))
    after = state(pbx)
    change = changes.diff(before, after)
    change["kvstore"] = {}
    # Not part of the change: the rows as they are afterwards, for a FreePBX change that only
    # rewrote a row rfapi left alone (compared column by column, see _row_diffs).
    change["_rows_after"] = after["rows"]
    return change


def _row_diffs(scenario: str, table: str, key: str, fp: Any, rf: Any, rf_now: Any = ABSENT) -> List[str]:
    part = "rows:" + table
    if isinstance(fp, dict) and rf is ABSENT and isinstance(rf_now, dict):
        # FreePBX rewrote a row that rfapi did not touch: it is the same change if only
        # allowed columns differ from the row as it stands.
        rf = rf_now
    if isinstance(fp, dict) and isinstance(rf, dict):
        out = []
        for col in sorted(set(fp) | set(rf)):
            a, b = fp.get(col, ABSENT), rf.get(col, ABSENT)
            if a != b and not _allowed(scenario, part, key, a, b, col):
                out.append("%s %s .%s: FreePBX %r, rfapi %r" % (part, key, col, _show(a), _show(b)))
        return out
    if _allowed(scenario, part, key, fp, rf):
        return []
    return ["%s %s: FreePBX %r, rfapi %r" % (part, key, _show(fp), _show(rf))]


def _allowed(scenario: str, part: str, key: str, fp: Any, rf: Any, column=None) -> bool:
    return any(a.matches(scenario, part, key, column) and a.accepts(fp, rf) for a in ALLOWED)


def _show(v: Any) -> Any:
    return "<absent>" if v is ABSENT else v


def differences(scenario: str, golden: Dict[str, Any], rfapi: Dict[str, Any]) -> List[str]:
    """Every difference that ALLOWED does not name, one line each (empty = the same change)."""
    out: List[str] = []
    g_rows, r_rows = golden.get("rows", {}), rfapi.get("rows", {})
    for table in sorted(set(g_rows) | set(r_rows)):
        g, r = g_rows.get(table, {}), r_rows.get(table, {})
        for key in sorted(set(g) | set(r)):
            fp, rf = g.get(key, ABSENT), r.get(key, ABSENT)
            if fp != rf:
                out += _row_diffs(scenario, table, key, fp, rf,
                                  rfapi.get("_rows_after", {}).get(table, {}).get(key, ABSENT))
    for part in ("astdb", "voicemail_conf", "spool", "kvstore"):
        g, r = golden.get(part, {}), rfapi.get(part, {})
        for key in sorted(set(g) | set(r)):
            fp, rf = g.get(key, ABSENT), r.get(key, ABSENT)
            if fp != rf and not _allowed(scenario, part, key, fp, rf):
                out.append("%s %s: FreePBX %r, rfapi %r" % (part, key, _show(fp), _show(rf)))
    return out
