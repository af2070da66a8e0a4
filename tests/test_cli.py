"""`rfapi --version` and `rfapi check` against the test world: all OK; the AMI
peer stopped; a wrong database password; broken paths; checks as another user."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import rfapi
from tests.support import world

REPO = Path(__file__).resolve().parents[1]
CHECKS = ["user", "config", "database", "tables", "cdr", "ami", "fwconsole", "spool", "sounds", "monitor",
          "voicemail.conf", "cache", "state"]


def run_cli(*args: str, env_extra=None) -> Tuple[int, str]:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("RFAPI_CONFIG", None)
    env.update(env_extra or {})
    p = subprocess.run([sys.executable, "-m", "rfapi.cli"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, env=env, cwd=str(REPO), timeout=120)
    return p.returncode, p.stdout.decode()


def parse(out: str) -> List[Tuple[str, str, str]]:
    rows = []
    for line in out.splitlines():
        m = re.match(r"^(OK|FAIL) ([\w.]+): (.+)$", line)
        assert m, "not an OK/FAIL line: %r" % line
        rows.append((m.group(1), m.group(2), m.group(3)))
    return rows


def verdicts(out: str):
    return {check: v for v, check, _ in parse(out)}


def reasons(out: str):
    return {check: why for _, check, why in parse(out)}


def assert_no_secrets(out: str, *more: str) -> None:
    for secret in (world.API_PASSWORD, world.AMI_SECRET) + more:
        assert secret not in out


def test_version():
    code, out = run_cli("--version")
    assert (code, out) == (0, "rfapi %s\n" % rfapi.__version__)


def test_check_all_ok_on_the_test_world(pbx):
    code, out = run_cli("check", "--config", str(pbx.ini))
    assert code == 0, out
    rows = parse(out)
    assert [c for _, c, _ in rows] == CHECKS
    assert all(v == "OK" for v, _, _ in rows), out
    why = reasons(out)
    assert why["config"] == "%s is readable and valid" % pbx.ini
    assert re.fullmatch(r"connected to %s on 127\.0\.0\.1:\d+ as \w+ \(credentials from %s, \d+ ms\)"
                        % (pbx.db.config_db, re.escape(str(pbx.ini))), why["database"]), why["database"]
    assert why["tables"].startswith("FreePBX tables present in %s (admin, ampusers" % pbx.db.config_db)
    assert why["cdr"] == "connected to %s, table cdr present" % pbx.db.cdr_db
    assert why["ami"] == "logged in to %s:%d as %s" % (pbx.peer.host, pbx.peer.port, world.AMI_USER)
    assert why["fwconsole"] == "%s is executable" % pbx.fwconsole
    assert why["spool"] == "%s is readable" % pbx.spool
    assert why["sounds"] == "%s is readable" % pbx.sounds
    assert why["monitor"] == "%s is readable" % pbx.monitor
    assert why["voicemail.conf"] == "%s is writable" % pbx.voicemail_conf
    assert why["cache"] == "%s is writable" % pbx.cache
    assert why["state"] == "%s does not exist; it will be created" % (pbx.root / "state")
    assert_no_secrets(out)


def test_config_from_the_environment(pbx):
    code, out = run_cli("check", env_extra={"RFAPI_CONFIG": str(pbx.ini)})
    assert code == 0, out
    assert reasons(out)["config"] == "%s is readable and valid" % pbx.ini


def test_ami_down_fails_the_ami_line_only(pbx):
    pbx.peer.stop()
    code, out = run_cli("check", "--config", str(pbx.ini))
    assert code == 1
    v = verdicts(out)
    assert v.pop("ami") == "FAIL"
    assert set(v.values()) == {"OK"}, out
    assert reasons(out)["ami"].startswith("cannot connect to AMI at %s:%d" % (pbx.peer.host, pbx.peer.port))
    assert_no_secrets(out)


def test_wrong_ami_secret_fails_the_login(pbx):
    pbx.ini.write_text(pbx.ini.read_text().replace("secret = %s" % world.AMI_SECRET, "secret = not-the-secret-42"))
    code, out = run_cli("check", "--config", str(pbx.ini))
    assert code == 1
    assert verdicts(out)["ami"] == "FAIL"
    assert reasons(out)["ami"] == "Asterisk Manager refused the login for user %s" % world.AMI_USER
    assert_no_secrets(out, "not-the-secret-42")


def test_wrong_database_password_fails_the_database_lines(pbx):
    text = pbx.ini.read_text()
    text = re.sub(r"(?m)^(\[database\][^\[]*?)^password = .*$", r"\1password = wr0ng-db-pass", text, count=1)
    assert "password = wr0ng-db-pass" in text
    pbx.ini.write_text(text)
    code, out = run_cli("check", "--config", str(pbx.ini))
    assert code == 1
    v = verdicts(out)
    for check in ("database", "tables", "cdr"):
        assert v.pop(check) == "FAIL", out
    assert set(v.values()) == {"OK"}, out
    why = reasons(out)
    assert "error 1045" in why["database"] and "access denied (wrong user or password)" in why["database"]
    assert why["tables"] == "not checked: no database connection"
    assert "error 1045" in why["cdr"]
    assert_no_secrets(out, "wr0ng-db-pass")


def test_missing_and_unusable_paths(pbx):
    text = pbx.ini.read_text()
    text = text.replace("voicemail_spool = %s" % pbx.spool, "voicemail_spool = %s/missing" % pbx.spool)
    text = text.replace("voicemail_conf = %s" % pbx.voicemail_conf, "voicemail_conf = %s.missing" % pbx.voicemail_conf)
    pbx.ini.write_text(text)
    pbx.fwconsole.chmod(0o644)
    code, out = run_cli("check", "--config", str(pbx.ini))
    assert code == 1
    v, why = verdicts(out), reasons(out)
    assert (v["spool"], why["spool"]) == ("FAIL", "%s/missing is not a directory" % pbx.spool)
    assert (v["voicemail.conf"], why["voicemail.conf"]) == ("FAIL", "%s.missing does not exist" % pbx.voicemail_conf)
    assert (v["fwconsole"], why["fwconsole"]) == ("FAIL", "%s is not executable" % pbx.fwconsole)
    assert v["sounds"] == v["ami"] == v["database"] == "OK"


def test_broken_config_fails_every_line(tmp_path):
    ini = tmp_path / "rfapi.ini"
    ini.write_text("[api]\nuser = api\n")
    code, out = run_cli("check", "--config", str(ini))
    assert code == 1
    rows = parse(out)
    assert [c for _, c, _ in rows] == CHECKS
    assert rows[1] == ("FAIL", "config", "%s: [api] password is required" % ini)
    assert all(r == ("FAIL", r[1], "not checked: the config file is unusable") for r in rows[2:])


def test_checks_run_as_the_service_user(pbx):
    """As root, `--user` switches users first: nobody cannot even read this config
    (pytest's tmp dir is 0700 root), which is what the service would hit."""
    assert os.geteuid() == 0, "the CI runs as root"
    code, out = run_cli("check", "--config", str(pbx.ini), "--user", "nobody")
    assert code == 1
    rows = parse(out)
    assert rows[0] == ("OK", "user", "checks run as nobody, the service user")
    assert rows[1][:2] == ("FAIL", "config")
    assert "not readable by this user" in rows[1][2] or "not found" in rows[1][2]
    code, out = run_cli("check", "--config", str(pbx.ini), "--user", "no-such-user-rfapi")
    assert (code, out) == (1, "FAIL user: no user no-such-user-rfapi on this box\n")
