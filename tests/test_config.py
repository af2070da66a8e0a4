"""The configuration contract and its fallbacks to FreePBX's own files/tables."""
from __future__ import annotations

import os

import pytest

from rfapi import config, create_app
from rfapi.runtime import Runtime

FREEPBX_CONF = """<?php
$amp_conf['AMPDBUSER'] = 'freepbxuser';
$amp_conf['AMPDBPASS'] = 'p\\'w;d';
$amp_conf['AMPDBHOST'] = 'db.internal';
$amp_conf['AMPDBPORT'] = '3307';
$amp_conf['AMPDBNAME'] = 'asterisk';
$amp_conf['AMPDBENGINE'] = 'mysql';
$amp_conf['datasource'] = '';
require_once('/var/www/html/admin/bootstrap.php');
?>
"""

AMPORTAL_CONF = """# This file is ignored by FreePBX
AMPDBHOST=legacy-host
AMPDBUSER=legacyuser
AMPDBPASS=legacypass
AMPDBNAME=legacydb
"""


def write(tmp_path, text, name="rfapi.ini"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_only_the_password_is_required(tmp_path):
    ini = write(tmp_path, "[api]\npassword = s3cret-s3cret\n[freepbx]\nconf = %s/none\namportal_conf = %s/none\n"
                % (tmp_path, tmp_path))
    cfg = config.load(ini)
    assert cfg.api_user == "api" and cfg.api_password == "s3cret-s3cret"
    assert (cfg.database.host, cfg.database.port, cfg.database.name) == ("localhost", 3306, "asterisk")
    assert cfg.ami.host is None and cfg.ami.timeout == 10.0
    assert cfg.fwconsole_timeout == 300.0 and cfg.paths.cache == "/var/cache/rfapi"


def test_database_falls_back_to_freepbx_conf_then_amportal(tmp_path):
    fpbx = write(tmp_path, FREEPBX_CONF, "freepbx.conf")
    amp = write(tmp_path, AMPORTAL_CONF, "amportal.conf")
    ini = write(tmp_path, "[api]\npassword = x\n[freepbx]\nconf = %s\namportal_conf = %s\n" % (fpbx, amp))
    db = config.load(ini).database
    assert (db.host, db.port, db.user, db.password, db.name) == ("db.internal", 3307, "freepbxuser", "p'w;d",
                                                                 "asterisk")
    ini = write(tmp_path, "[api]\npassword = x\n[freepbx]\nconf = %s/missing\namportal_conf = %s\n" % (tmp_path, amp))
    db = config.load(ini).database
    assert (db.host, db.user, db.password, db.name) == ("legacy-host", "legacyuser", "legacypass", "legacydb")
    # The INI wins over both.
    ini = write(tmp_path, "[api]\npassword = x\n[database]\nhost = h1\nuser = u1\n[freepbx]\nconf = %s\n" % fpbx)
    db = config.load(ini).database
    assert (db.host, db.user, db.password) == ("h1", "u1", "p'w;d")


def test_env_var_names_the_file(tmp_path, monkeypatch):
    ini = write(tmp_path, "[api]\npassword = from-env\n")
    monkeypatch.setenv("RFAPI_CONFIG", ini)
    assert config.load().api_password == "from-env"


@pytest.mark.parametrize("text,needle", [
    ("[api]\nuser = x\n", "[api] password is required"),
    ("[api]\npassword = x\n[database]\nport = abc\n", "[database] port"),
    ("[api]\npassword = x\n[ami]\ntimeout = soon\n", "[ami] timeout"),
    ("[api]\npassword = x\n[ami]\nsecert = typo\n", "unknown key [ami] secert"),
    ("[api]\npassword = x\n[extra]\n", "unknown section [extra]"),
    ("password = x\n", "not a valid INI file"),
])
def test_bad_config_names_file_and_key(tmp_path, text, needle, capsys):
    ini = write(tmp_path, text)
    with pytest.raises(config.ConfigError) as exc:
        create_app(ini)
    assert needle in str(exc.value) and ini in str(exc.value)
    assert exc.value.code == 3
    err = capsys.readouterr().err
    assert err.startswith("rfapi: configuration error: %s" % ini) and "Traceback" not in err


def test_missing_and_unreadable_file(tmp_path):
    with pytest.raises(config.ConfigError, match="config file not found"):
        config.load(str(tmp_path / "nope.ini"))
    ini = write(tmp_path, "[api]\npassword = x\n")
    os.chmod(ini, 0)
    if os.geteuid() == 0:  # root reads anything; check the code path with a directory instead
        with pytest.raises(config.ConfigError):
            config.load(str(tmp_path))
    else:
        with pytest.raises(config.ConfigError, match="not readable"):
            config.load(ini)


def test_ami_paths_and_cdr_fall_back_to_freepbx_settings(office_db, tmp_path):
    """With no [ami]/[paths]/cdr_name, FreePBX's freepbx_settings table decides."""
    from tests.support import dbworld

    args = dbworld.server_args()
    ini = write(tmp_path, "[api]\npassword = x\n[database]\nhost = %s\nport = %s\nuser = %s\npassword = %s\n"
                "name = %s\n" % (args["host"], args["port"], args["user"], args.get("passwd", ""),
                                 office_db.config_db))
    rt = Runtime(config.load(ini))
    settings = {r["keyword"]: (r["value"].decode() if isinstance(r["value"], bytes) else r["value"])
                for r in rt.db.query("SELECT keyword, value FROM freepbx_settings")}
    host, port, user, secret = rt.ami_params()
    want_host = settings.get("ASTMANAGERHOST") or "localhost"
    assert host == ("127.0.0.1" if want_host == "localhost" else want_host)
    assert port == int(settings.get("ASTMANAGERPORT") or 5038)
    assert user == settings["AMPMGRUSER"] and secret == settings["AMPMGRPASS"]
    assert rt.path("voicemail_spool") == settings["ASTSPOOLDIR"] + "/voicemail"
    assert rt.path("sounds") == settings["ASTVARLIBDIR"] + "/sounds"
    assert rt.db.dbname("cdr") == (settings.get("CDRDBNAME") or "asteriskcdrdb")
    rt.close()
