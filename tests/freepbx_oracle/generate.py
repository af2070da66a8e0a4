"""Record FreePBX's own verdict on each oracle scenario as a golden file.

    RFAPI_FREEPBX_SRC=/path/with/core,voicemail,findmefollow \\
        .venv/bin/python -m tests.freepbx_oracle.generate [scenario ...]

For each scenario: a fresh world (the fixture office in throwaway rfapi_oracle_*
databases, its voicemail.conf and spool in a temp folder, its AstDB), the scenario's
settings applied, then FreePBX's module code (unchanged, from $RFAPI_FREEPBX_SRC)
run by run.php on the PHP stand-in; what changed is written to
tests/data/freepbx_golden/<scenario>.json with the modules' commits. Needs php-cli
with pdo_mysql. Rerunning reproduces the files byte for byte.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict

from tests.support import dbworld, office, world as worldmod
from tests.support.amipeer import ASTERISK_VERSION

from . import changes
from .scenarios import BY_NAME, SCENARIOS, Scenario

HERE = Path(__file__).resolve().parent
GOLDEN = HERE.parent / "data" / "freepbx_golden"
MODULES = ("core", "findmefollow", "voicemail")
VM_CLASS = "FreePBX_modules_Voicemail"

# Settings the modules read that the fixture office's freepbx_settings does not hold:
# the value each module's installer defines (module.xml <settings> / install.php).
INSTALLER_DEFAULTS: Dict[str, Any] = {
    "UCP_MESSAGE_LIMIT": "3000",  # voicemail install.php
}


def source() -> Path:
    src = os.environ.get("RFAPI_FREEPBX_SRC")
    if not src:
        raise SystemExit("RFAPI_FREEPBX_SRC is not set (a folder holding core, voicemail, findmefollow)")
    return Path(src)


def commits(src: Path, modules=MODULES) -> Dict[str, str]:
    """Each module's commit: its git HEAD, else a COMMIT file written when it was fetched."""
    out = {}
    for m in modules:
        d = src / m
        f = d / "COMMIT"
        if f.exists():
            out[m] = f.read_text().strip()
        else:
            out[m] = subprocess.run(["git", "-C", str(d), "rev-parse", "HEAD"], check=True,
                                    capture_output=True, text=True).stdout.strip()
    return out


def module_versions(src: Path, modules=MODULES) -> Dict[str, str]:
    import re
    out = {}
    for m in modules:
        text = (src / m / "module.xml").read_text()
        out[m] = re.search(r"<version>([^<]+)</version>", text).group(1)
    return out


def apply_settings(conn, settings: Dict[str, str]) -> None:
    cur = conn.cursor()
    for k, v in sorted(settings.items()):
        if cur.execute("UPDATE freepbx_settings SET value = %s WHERE keyword = %s", (v, k)) == 0:
            cur.execute("SELECT COUNT(*) FROM freepbx_settings WHERE keyword = %s", (k,))
            if cur.fetchone()[0] == 0:
                raise ValueError("setting %s is not in the office's freepbx_settings" % k)
    conn.commit()


def kvstore_seed() -> Dict[str, Any]:
    """The voicemail module's vmmapping kvstore of a box whose voicemail.conf has these
    [pbxaliases] lines (Voicemail::saveVoicemail rebuilds [pbxaliases] from it)."""
    vm = changes.vm_state(office.voicemail_conf())
    mapping = {}
    for key, value in vm.items():
        ctx, alias = key.split("|", 1)
        if ctx == "pbxaliases":
            box = alias.split("@", 1)[0]
            mapping[box] = json.dumps([alias, value])
    return {VM_CLASS: {"vmmapping": mapping}}


def state(args, db: str, root: Path, astdb: Dict[str, str]) -> Dict[str, Any]:
    return {"rows": changes.db_state(args, db), "astdb": dict(astdb),
            "voicemail_conf": changes.vm_state((root / "etc" / "asterisk" / "voicemail.conf").read_text()),
            "spool": changes.spool_state(root / "spool" / "voicemail")}


def run(s: Scenario, src: Path) -> Dict[str, Any]:
    args = dbworld.server_args()
    w = dbworld.create_world(prefix="rfapi_oracle_")
    try:
        worldmod.load_office(w)
        conn = worldmod.connect(w.config_db)
        try:
            apply_settings(conn, s.settings)
        finally:
            conn.close()
        with tempfile.TemporaryDirectory(prefix="rfapi-oracle-") as tmp:
            root = Path(tmp)
            (root / "etc" / "asterisk").mkdir(parents=True)
            (root / "etc" / "asterisk" / "voicemail.conf").write_text(office.voicemail_conf())
            office.build_spool(str(root / "spool" / "voicemail"), now=worldmod.office_now())
            astdb = dict(office.astdb())
            before = state(args, w.config_db, root, astdb)
            job = {
                "src": str(src), "modules": list(s.modules),
                "module_versions": module_versions(src, s.modules),
                "asterisk_version": ASTERISK_VERSION,
                "db": {"host": args["host"], "port": args["port"], "user": args["user"],
                       "password": args["passwd"], "name": w.config_db},
                # Folders of this run, and what the framework learns from Asterisk at start.
                "paths": {"ASTETCDIR": str(root / "etc" / "asterisk"), "ASTSPOOLDIR": str(root / "spool"),
                          "ASTVERSION": ASTERISK_VERSION, "AST_FUNC_PRESENCE_STATE": "PRESENCE_STATE",
                          "AST_FUNC_DEVICE_STATE": "DEVICE_STATE"},
                "astdb": astdb, "kvstore": kvstore_seed(), "installer_defaults": INSTALLER_DEFAULTS,
                "calls": s.freepbx,
            }
            (root / "job.json").write_text(json.dumps(job))
            proc = subprocess.run(["php", str(HERE / "run.php"), str(root / "job.json")],
                                  capture_output=True, text=True)
            if proc.returncode != 0 or not proc.stdout.startswith("{"):
                raise RuntimeError("FreePBX run of %s failed:\n%s\n%s" % (s.name, proc.stdout[-4000:],
                                                                         proc.stderr[-4000:]))
            result = json.loads(proc.stdout)
            after = state(args, w.config_db, root, result["astdb"])
    finally:
        dbworld.drop_world(w)
    change = changes.diff(before, after)
    kv_before = kvstore_seed()
    change["kvstore"] = changes._diff_flat(_flat_kv(kv_before), _flat_kv(result["kvstore"]))
    return {
        "scenario": s.name, "description": s.description, "modules": commits(src, s.modules),
        "asterisk_version": ASTERISK_VERSION, "settings": s.settings,
        "freepbx_calls": s.freepbx, "rfapi_requests": [list(r) for r in s.rfapi],
        "hooks_run": [e[2] for e in result["log"] if e[0] == "hook"],
        "installer_defaults_used": sorted(result["installer_defaults_used"]),
        "changes": change,
    }


def _flat_kv(kv: Dict[str, Any]) -> Dict[str, Any]:
    out = {}
    for cls, ids in kv.items():
        for ident, keys in (ids or {}).items():
            for k, v in (keys or {}).items():
                out["%s|%s|%s" % (cls, ident, k)] = v
    return out


def main(argv) -> int:
    src = source()
    GOLDEN.mkdir(parents=True, exist_ok=True)
    names = argv or [s.name for s in SCENARIOS]
    for name in names:
        golden = run(BY_NAME[name], src)
        (GOLDEN / (name + ".json")).write_text(changes.dumps(golden), encoding="utf-8")
        print("%s: %d tables, %d AstDB keys, %d voicemail.conf keys, %d spool paths" % (
            name, len(golden["changes"]["rows"]), len(golden["changes"]["astdb"]),
            len(golden["changes"]["voicemail_conf"]), len(golden["changes"]["spool"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
