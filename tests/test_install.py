"""deploy/install.sh and deploy/uninstall.sh, for real, into a temp root.

A wheel is built from a copy of the checkout and installed by install.sh into
a fresh virtualenv under <root>/opt/rfapi; the files it writes are checked, the
installed gunicorn serves the test world, a re-run from the checkout keeps the
config (same password), a failing `apachectl configtest` rolls the Apache change
back, uninstall keeps the config, --purge removes it. Apache's configtest is the
real one (apache2 -t over the files install.sh enabled under the temp root)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Dict, Optional

import pytest

import rfapi
from tests.support.procs import free_port
from tests.test_apache import MODULE_DIR, SNIPPET_MODULES, render_snippet
from tests.test_gunicorn import AUTH, Process, request, wait_until, can_connect

REPO = Path(__file__).resolve().parents[1]
INSTALL = REPO / "deploy" / "install.sh"
UNINSTALL = REPO / "deploy" / "uninstall.sh"
# What must never appear on the real box while these tests run into a temp root.
REAL_PATHS = ["/etc/rfapi", "/opt/rfapi", "/etc/systemd/system/rfapi.service", "/etc/apache2/conf-available/rfapi.conf",
              "/etc/apache2/conf-enabled/rfapi.conf", "/var/cache/rfapi", "/var/lib/rfapi", "/etc/fail2ban/filter.d/rfapi.conf",
              "/usr/local/bin/rfapi"]


def run(argv, env: Optional[Dict[str, str]] = None, timeout: float = 900) -> subprocess.CompletedProcess:
    e = dict(os.environ)
    e.pop("PYTHONPATH", None)
    for k in list(e):
        if k.startswith("RFAPI_"):
            del e[k]
    e.update(env or {})
    return subprocess.run([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=e,
                          cwd="/", timeout=timeout)


def out_of(p: subprocess.CompletedProcess) -> str:
    return p.stdout.decode(errors="replace")


def build_wheel(dest: Path) -> Path:
    """`pip wheel` of a copy of the checkout (the checkout itself gets no build droppings)."""
    src = dest / "src"
    src.mkdir(parents=True)
    for name in ("pyproject.toml", "setup.cfg", "README.md", "module.xml"):
        shutil.copy2(REPO / name, src / name)
    for tree in ("rfapi", "deploy", "apache"):  # the wheel carries the deploy files as data
        shutil.copytree(REPO / tree, src / tree, ignore=shutil.ignore_patterns("__pycache__"))
    p = run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", dest / "dist", src])
    assert p.returncode == 0, out_of(p)
    wheels = list((dest / "dist").glob("rfapi-%s-*.whl" % rfapi.__version__))
    assert len(wheels) == 1, wheels
    return wheels[0]


def fake_box(root: Path) -> None:
    """What a FreePBX box has that install.sh looks for: Debian's Apache layout,
    /etc/freepbx.conf naming the web root, the modules folder, fail2ban."""
    a = root / "etc" / "apache2"
    for d in ("conf-available", "conf-enabled", "mods-available", "mods-enabled", "sites-available", "sites-enabled"):
        (a / d).mkdir(parents=True)
    for f in Path("/etc/apache2/mods-available").iterdir():
        shutil.copy2(f, a / "mods-available" / f.name)
    (root / "etc" / "freepbx.conf").write_text(
        "<?php\n$amp_conf['AMPDBUSER'] = 'freepbxuser';\n$amp_conf['AMPDBPASS'] = 'x';\n"
        "require_once('/var/www/html/admin/bootstrap.php');\n")
    (root / "var" / "www" / "html" / "admin" / "modules" / "core").mkdir(parents=True)
    (root / "etc" / "fail2ban" / "filter.d").mkdir(parents=True)


def apachectl_stand_in(root: Path, d: Path) -> Path:
    """`configtest` is the real apache2 -t over the modules and confs enabled under
    ``root``; `graceful` is recorded (no Apache is running for this temp root)."""
    run_dir = d / "run"
    run_dir.mkdir(parents=True)
    conf = d / "apache.conf"
    a = root / "etc" / "apache2"
    conf.write_text("\n".join([
        'ServerRoot "%s"' % d, 'DefaultRuntimeDir "%s"' % run_dir, 'PidFile "%s/apache.pid"' % run_dir,
        "ServerName localhost", 'ErrorLog "%s/error.log"' % d, "Listen 127.0.0.1:%d" % free_port(),
        "LoadModule mpm_event_module %s/mod_mpm_event.so" % MODULE_DIR,
        "LoadModule authz_core_module %s/mod_authz_core.so" % MODULE_DIR,
        'IncludeOptional "%s/mods-enabled/*.load"' % a,
        'IncludeOptional "%s/conf-enabled/*.conf"' % a, ""]))
    script = d / "apachectl"
    script.write_text("#!/bin/sh\necho \"$*\" >> %s/calls\ncase \"$1\" in\n"
                      "  configtest) exec /usr/sbin/apache2 -t -f %s ;;\n  graceful) exit 0 ;;\nesac\nexit 2\n"
                      % (d, conf))
    script.chmod(0o755)
    return script


def calls(d: Path):
    f = d / "calls"
    return f.read_text().split("\n")[:-1] if f.exists() else []


def printed_password(out: str) -> str:
    found = re.findall(r"(?m)^    password: (\S+)$", out)
    assert len(found) == 1, out
    return found[0]


def real_box_state():
    return {p: os.path.lexists(p) for p in REAL_PATHS}


def test_install_upgrade_uninstall_purge(tmp_path, pbx):
    before = real_box_state()
    wheel = build_wheel(tmp_path / "build")
    root = tmp_path / "root"
    fake_box(root)
    ctl_dir = tmp_path / "apachectl"
    env = {"RFAPI_USER": "nobody", "RFAPI_GROUP": "nogroup",
           "RFAPI_APACHECTL": str(apachectl_stand_in(root, ctl_dir))}
    venv = root / "opt" / "rfapi" / "venv"

    # -- 1. fresh install from the wheel, with install.sh copied alone next to it: -------
    # everything else (unit, gunicorn.conf.py, Apache templates, module.xml) comes from the wheel.
    lone = tmp_path / "lone" / "bin"
    lone.mkdir(parents=True)
    shutil.copy2(INSTALL, lone / "install.sh")
    p = run([lone / "install.sh", "--root", root, "--wheel", wheel], env)
    out = out_of(p)
    assert p.returncode == 0, out
    assert "installed rfapi %s in %s" % (rfapi.__version__, venv) in out
    password = printed_password(out)
    assert len(password) >= 32

    # The package lives in the new virtualenv (not this checkout), with its command.
    p = run([venv / "bin" / "python", "-c", "import rfapi, gunicorn, MySQLdb, asterisk.manager, flask_httpauth; "
             "print(rfapi.__version__, rfapi.__file__)"])
    version, where = out_of(p).split()
    assert version == rfapi.__version__
    assert where.startswith(str(venv / "lib"))
    assert out_of(run([venv / "bin" / "rfapi", "--version"])) == "rfapi %s\n" % rfapi.__version__
    assert os.readlink(root / "usr" / "local" / "bin" / "rfapi") == "/opt/rfapi/venv/bin/rfapi"

    # The config: created once, 0640 root:<service group>, in a 0750 directory.
    etc = root / "etc" / "rfapi"
    ini = etc / "rfapi.ini"
    st = ini.stat()
    assert (oct(st.st_mode & 0o777), st.st_uid, st.st_gid) == (oct(0o640), 0, _gid("nogroup"))
    st = etc.stat()
    assert (oct(st.st_mode & 0o777), st.st_uid, st.st_gid) == (oct(0o750), 0, _gid("nogroup"))
    text = ini.read_text()
    assert re.findall(r"(?m)^password = (\S+)$", text) == [password]
    assert re.findall(r"(?m)^user = (\S+)$", text) == ["api"]
    assert re.findall(r"(?m)^\[(\w+)\]$", text) == ["api"]

    # The unit: gunicorn from the venv with the installed gunicorn.conf.py, as the
    # service user, on the unix socket, reload = HUP.
    unit = (root / "etc" / "systemd" / "system" / "rfapi.service").read_text()
    for line in ("Type=notify", "User=nobody", "Group=nogroup",
                 "Environment=RFAPI_CONFIG=/etc/rfapi/rfapi.ini",
                 "Environment=RFAPI_BIND=unix:/run/rfapi/rfapi.sock",
                 "EnvironmentFile=-/etc/rfapi/rfapi.env",
                 "RuntimeDirectory=rfapi",
                 "ExecStart=/opt/rfapi/venv/bin/gunicorn --config /opt/rfapi/deploy/gunicorn.conf.py rfapi:create_app()",
                 "ExecReload=/bin/kill -s HUP $MAINPID",
                 "RestartPreventExitStatus=3 4",
                 "WantedBy=multi-user.target"):
        assert line in unit.splitlines(), line
    assert not re.search(r"@[A-Z_]+@", unit)

    # Support files mirror the checkout under PREFIX.
    pre = root / "opt" / "rfapi"
    for f in ("deploy/gunicorn.conf.py", "deploy/uninstall.sh", "deploy/install.sh", "apache/rfapi.conf.in",
              "apache/rfapi-vhost.conf.in", "deploy/fail2ban/jail.d/rfapi.conf", "module.xml"):
        assert (pre / f).read_bytes() == (REPO / f).read_bytes(), f
    assert os.access(pre / "deploy" / "uninstall.sh", os.X_OK)
    assert (pre / ".rfapi-install").read_text() == (
        "version=%s\nprefix=/opt/rfapi\netc=/etc/rfapi\nuser=nobody\ngroup=nogroup\n"
        "bind=unix:/run/rfapi/rfapi.sock\napache_dir=/etc/apache2\nsystemd_dir=/etc/systemd/system\n"
        "webroot=/var/www/html\n" % rfapi.__version__)

    # Apache: the snippet, enabled like a2enconf does, the modules it needs, a real
    # configtest, then a reload.
    a = root / "etc" / "apache2"
    snippet = a / "conf-available" / "rfapi.conf"
    assert snippet.read_text() == render_snippet("unix:/run/rfapi/rfapi.sock")
    assert os.readlink(a / "conf-enabled" / "rfapi.conf") == "../conf-available/rfapi.conf"
    enabled = sorted(p.name for p in (a / "mods-enabled").iterdir())
    assert enabled == sorted(["proxy.load", "proxy.conf", "proxy_http.load", "headers.load", "authz_host.load"])
    assert {n.split(".")[0] for n in enabled} == set(SNIPPET_MODULES)
    assert calls(ctl_dir) == ["configtest", "graceful"]
    assert "Syntax OK" not in out  # configtest output only shown on failure

    # FreePBX: module.xml where Module Admin looks; fail2ban filter; cache.
    mod = root / "var" / "www" / "html" / "admin" / "modules" / "rfapi" / "module.xml"
    assert mod.read_bytes() == (REPO / "module.xml").read_bytes()
    assert mod.stat().st_uid == _uid("nobody")
    assert "FreePBX module descriptor /var/www/html/admin/modules/rfapi/module.xml" in out
    f2b = root / "etc" / "fail2ban" / "filter.d" / "rfapi.conf"
    assert f2b.read_bytes() == (REPO / "deploy" / "fail2ban" / "filter.d" / "rfapi.conf").read_bytes()
    cache = root / "var" / "cache" / "rfapi"
    assert (cache.stat().st_uid, oct(cache.stat().st_mode & 0o777)) == (_uid("nobody"), oct(0o750))
    state = root / "var" / "lib" / "rfapi"  # [paths] state: the API tokens
    assert (state.stat().st_uid, oct(state.stat().st_mode & 0o777)) == (_uid("nobody"), oct(0o750))
    (state / "tokens.sqlite").write_bytes(b"kept across upgrades")

    # No systemd under a temp root: nothing started, the manual command printed.
    assert "systemd not used here" in out

    # -- 2. the installed gunicorn serves the test world --------------------------------------
    port = free_port()
    log = tmp_path / "installed-gunicorn.log"
    e = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    e.update(RFAPI_CONFIG=str(pbx.ini), RFAPI_BIND="127.0.0.1:%d" % port)
    g = Process([str(venv / "bin" / "gunicorn"), "--config", str(pre / "deploy" / "gunicorn.conf.py"),
                 "rfapi:create_app()"], log, env=e, cwd=Path("/"))
    try:
        wait_until(lambda: can_connect(("127.0.0.1", port)), 30, "installed gunicorn", proc=g.proc, log=log)
        r = request(("127.0.0.1", port), "GET", "/api/v1/test", AUTH)
        assert r.status == 200 and r.json() == {"status": 200, "message": "OK", "data": {"method": "GET"}}
    finally:
        g.stop()

    # -- 3. re-run from the checkout: upgrade in place, config kept ----------------------------
    with ini.open("a") as fh:
        fh.write("; operator's note\n")
    ini_before = ini.read_bytes()
    unit_mtime = (root / "etc" / "systemd" / "system" / "rfapi.service").stat().st_mtime_ns
    p = run([INSTALL, "--root", root], env)
    out = out_of(p)
    assert p.returncode == 0, out
    assert "kept /etc/rfapi/rfapi.ini" in out
    assert "password" not in out
    assert "upgraded rfapi %s -> %s" % (rfapi.__version__, rfapi.__version__) in out
    assert ini.read_bytes() == ini_before
    assert oct(ini.stat().st_mode & 0o777) == oct(0o640)
    assert (root / "etc" / "systemd" / "system" / "rfapi.service").stat().st_mtime_ns == unit_mtime
    assert snippet.read_text() == render_snippet("unix:/run/rfapi/rfapi.sock")
    assert calls(ctl_dir) == ["configtest", "graceful"] * 2

    # -- 4. Apache refuses the new config: rolled back, not reloaded, install fails ----------
    (a / "mods-enabled" / "headers.load").unlink()
    (a / "mods-available" / "headers.load").rename(tmp_path / "headers.load")
    p = run([INSTALL, "--root", root, "--wheel", wheel, "--proxy-timeout", "400"], env)
    out = out_of(p)
    assert p.returncode == 1, out
    assert "apachectl configtest failed; the rfapi Apache change was rolled back" in out
    assert "RequestHeader" in out  # apache2 -t's own complaint is shown
    assert snippet.read_text() == render_snippet("unix:/run/rfapi/rfapi.sock")  # timeout=360 again
    assert calls(ctl_dir) == ["configtest", "graceful"] * 2 + ["configtest"]
    (tmp_path / "headers.load").rename(a / "mods-available" / "headers.load")

    # -- 5. uninstall: everything but the config ----------------------------------------------
    p = run([pre / "deploy" / "uninstall.sh", "--root", root], env)
    out = out_of(p)
    assert p.returncode == 0, out
    assert not pre.exists()
    assert not (root / "etc" / "systemd" / "system" / "rfapi.service").exists()
    assert not snippet.exists() and not os.path.lexists(a / "conf-enabled" / "rfapi.conf")
    assert not mod.parent.exists() and (mod.parent.parent / "core").is_dir()
    assert not f2b.exists() and not cache.exists()
    assert not os.path.lexists(root / "usr" / "local" / "bin" / "rfapi")
    assert ini.read_bytes() == ini_before
    assert "kept /etc/rfapi (remove it with --purge)" in out
    assert (state / "tokens.sqlite").read_bytes() == b"kept across upgrades"
    assert calls(ctl_dir)[-2:] == ["configtest", "graceful"]
    # Twice is fine.
    p = run([UNINSTALL, "--root", root], env)
    assert p.returncode == 0, out_of(p)
    assert ini.exists()

    # -- 6. purge --------------------------------------------------------------------------------
    p = run([UNINSTALL, "--root", root, "--purge"], env)
    assert p.returncode == 0, out_of(p)
    assert not etc.exists() and not state.exists()
    assert "purged /etc/rfapi" in out_of(p)

    assert real_box_state() == before


def _gid(name: str) -> int:
    import grp
    return grp.getgrnam(name).gr_gid


def _uid(name: str) -> int:
    import pwd
    return pwd.getpwnam(name).pw_uid


# -- fast checks ------------------------------------------------------------------------------
def test_module_xml_is_a_freepbx_descriptor_in_step_with_the_package():
    root = ET.parse(str(REPO / "module.xml")).getroot()
    assert root.tag == "module"
    assert root.findtext("rawname") == "rfapi"
    assert root.findtext("version") == rfapi.__version__
    for tag in ("name", "publisher", "license", "category", "description"):
        assert (root.findtext(tag) or "").strip(), tag
    assert root.findtext("supported/version") == "16.0"
    assert root.findtext("depends/version") == "16.0"
    assert ("*%s*" % rfapi.__version__) in root.findtext("changelog")


@pytest.mark.parametrize("bind", ["0.0.0.0:8000", "192.0.2.1:8000", "[::]:8000", "unix:relative.sock"])
def test_install_refuses_a_public_bind(tmp_path, bind):
    p = run([INSTALL, "--root", tmp_path, "--bind", bind])
    assert p.returncode == 1
    assert "--bind must be unix:/path or 127.0.0.1:PORT (never a public address)" in out_of(p)
    assert list(tmp_path.iterdir()) == []


def test_install_needs_the_service_user(tmp_path):
    p = run([INSTALL, "--root", tmp_path, "--user", "no-such-user-rfapi"])
    assert p.returncode == 1
    assert "no user 'no-such-user-rfapi' on this box" in out_of(p)


@pytest.mark.parametrize("flag,value", [("--prefix", "/"), ("--etc", "/etc"), ("--prefix", "/usr")])
def test_uninstall_refuses_system_directories(tmp_path, flag, value):
    p = run([UNINSTALL, "--root", tmp_path, flag, value, "--purge"])
    assert p.returncode == 1
    assert "refusing to remove" in out_of(p)


def test_scripts_parse_and_templates_use_known_placeholders():
    for script in (INSTALL, UNINSTALL):
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    known = {
        "deploy/rfapi.service": {"USER", "GROUP", "CONFIG", "ETC", "BIND", "PREFIX", "VENV"},
        "apache/rfapi.conf.in": {"UPSTREAM", "UPSTREAM_REVERSE", "TIMEOUT"},
        "apache/rfapi-vhost.conf.in": {"SERVER_NAME", "PORT", "CERT_FILE", "KEY_FILE", "UPSTREAM",
                                       "UPSTREAM_REVERSE", "TIMEOUT"},
    }
    for rel, names in known.items():
        assert set(re.findall(r"@([A-Z_]+)@", (REPO / rel).read_text())) == names, rel
