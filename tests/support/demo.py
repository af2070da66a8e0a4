"""Lay out the demo PBX: databases rfapi_demo_asterisk / rfapi_demo_cdr loaded with
the fixture office, spool/sounds trees, voicemail.conf, the fwconsole stand-in, an
AMI peer seed file and the rfapi config. Prints the paths as shell assignments."""
from __future__ import annotations

import json
import secrets
import shutil
import sys
from pathlib import Path

from . import dbworld, office
from .world import AMI_SECRET, AMI_USER, HERE, load_office

CONFIG_DB = "rfapi_demo_asterisk"
CDR_DB = "rfapi_demo_cdr"


class _World:
    config_db = CONFIG_DB
    cdr_db = CDR_DB
    tag = "demo"


def main(root: str, ami_port: int) -> None:
    base = Path(root)
    if base.exists():
        shutil.rmtree(base)
    spool, sounds, etc, cache, bindir = (base / "spool/voicemail", base / "sounds", base / "etc/asterisk",
                                         base / "cache", base / "bin")
    for d in (spool, sounds, etc, cache, bindir):
        d.mkdir(parents=True)
    # Fresh demo databases; never the box's own `asterisk`.
    conn = dbworld.connect(autocommit=True)
    try:
        cur = conn.cursor()
        dbworld._drop(cur, (CONFIG_DB, CDR_DB))
        dbworld._run_schema(cur, dbworld.CONFIG_SCHEMA_FILE, CONFIG_DB)
        dbworld._run_schema(cur, dbworld.CDR_SCHEMA_FILE, CDR_DB)
    finally:
        conn.close()
    load_office(_World)
    office.build_spool(str(spool))
    office.build_sounds(str(sounds))
    (etc / "voicemail.conf").write_text(office.voicemail_conf())
    shutil.copy2(HERE / "fwconsole", bindir / "fwconsole")
    (bindir / "fwconsole.control").write_text(json.dumps({"mode": "ok", "needreload_db": CONFIG_DB}))
    seed = dict(office.ami_state())
    seed["astdb"] = office.astdb()
    (base / "ami-seed.json").write_text(json.dumps(seed, indent=1))
    password = secrets.token_urlsafe(18)
    a = dbworld.server_args()
    (base / "rfapi.ini").write_text("\n".join([
        "[api]", "user = api", "password = %s" % password,
        "[database]", "host = %s" % a["host"], "port = %s" % a["port"], "user = %s" % a["user"],
        "password = %s" % a.get("passwd", ""), "name = %s" % CONFIG_DB, "cdr_name = %s" % CDR_DB,
        "[ami]", "host = 127.0.0.1", "port = %d" % ami_port, "user = %s" % AMI_USER, "secret = %s" % AMI_SECRET,
        "[fwconsole]", "path = %s" % (bindir / "fwconsole"), "timeout = 60",
        "[paths]", "voicemail_spool = %s" % spool, "sounds = %s" % sounds,
        "voicemail_conf = %s" % (etc / "voicemail.conf"), "cache = %s" % cache,
        "audit_log = %s" % (base / "audit.log"),
        "[freepbx]", "conf = %s" % (base / "etc/freepbx.conf"), "amportal_conf = %s" % (base / "etc/amportal.conf"),
        ""]))
    print("DEMO_ROOT=%s" % base)
    print("DEMO_PASSWORD=%s" % password)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
