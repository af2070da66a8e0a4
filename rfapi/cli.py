"""The ``rfapi`` command: ``rfapi --version`` and ``rfapi check``.

``rfapi check`` diagnoses a box the way the service sees it: run as root it
switches to the service user (FreePBX's ``asterisk``) first, so "readable" and
"writable" mean readable/writable *for the API*. It prints one line per check,
``OK <check>: <reason>`` or ``FAIL <check>: <reason>``, and exits non-zero if
any check failed. No password or secret is ever printed.
"""
from __future__ import annotations

import argparse
import configparser
import os
import pwd
import re
import sys
import time
from typing import List, Optional

from . import __version__
from .text import text

# FreePBX tables every route family leans on; their absence means the
# credentials point at the wrong database (or FreePBX is not installed).
FREEPBX_TABLES = ("admin", "ampusers", "freepbx_settings", "modules", "users", "devices", "sip")
SERVICE_USER = "asterisk"

_DB_ERRORS = {
    1044: "access denied to the database for this user",
    1045: "access denied (wrong user or password)",
    1049: "unknown database",
    1040: "too many connections",
    2002: "server not reachable (socket)",
    2003: "server not reachable",
    2005: "unknown server host",
    2006: "server went away",
    2013: "connection lost",
}


class Report:
    def __init__(self, out=None):
        self.out = out or sys.stdout
        self.failed = 0

    def line(self, ok: bool, check: str, reason: str) -> bool:
        if not ok:
            self.failed += 1
        self.out.write("%s %s: %s\n" % ("OK" if ok else "FAIL", check, _one_line(reason)))
        self.out.flush()
        return ok


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _db_reason(exc: Exception) -> str:
    """The adapter's message names the database and the client error code only."""
    text = str(exc)
    m = re.search(r"error (\d+)", text)
    if m and int(m.group(1)) in _DB_ERRORS:
        return "%s: %s" % (text, _DB_ERRORS[int(m.group(1))])
    return text


def _credential_source(cfg) -> str:
    """Where the database credentials came from (the INI file, or FreePBX's files)."""
    from .config import read_amportal_conf, read_freepbx_conf

    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    try:
        cp.read(cfg.path, encoding="utf-8")
        if cp.has_option("database", "user") and cp.get("database", "user").strip():
            return cfg.path
    except (configparser.Error, OSError, UnicodeDecodeError):
        pass
    if read_freepbx_conf(cfg.freepbx_conf).get("AMPDBUSER"):
        return cfg.freepbx_conf
    if read_amportal_conf(cfg.amportal_conf).get("AMPDBUSER"):
        return cfg.amportal_conf
    return "built-in defaults"


# -- running as the service user ---------------------------------------------------
def _become(user_arg: Optional[str], report: Report) -> bool:
    """Drop to the service user when run as root; report who the checks run as."""
    if os.geteuid() != 0:
        name = pwd.getpwuid(os.geteuid()).pw_name
        if user_arg and user_arg != name:
            return report.line(False, "user", "only root can check as %s; running as %s" % (user_arg, name))
        return report.line(True, "user", "checks run as %s" % name)
    name = user_arg or SERVICE_USER
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        if user_arg:
            return report.line(False, "user", "no user %s on this box" % name)
        return report.line(True, "user", "checks run as root (no %s user on this box)" % SERVICE_USER)
    if pw.pw_uid == 0:
        return report.line(True, "user", "checks run as root")
    os.setgroups(os.getgrouplist(pw.pw_name, pw.pw_gid))
    os.setgid(pw.pw_gid)
    os.setuid(pw.pw_uid)
    return report.line(True, "user", "checks run as %s, the service user" % name)


# -- the checks --------------------------------------------------------------------
def _dir_readable(report: Report, check: str, path: str) -> None:
    if not os.path.isdir(path):
        report.line(False, check, "%s is not a directory" % path)
    elif not os.access(path, os.R_OK | os.X_OK):
        report.line(False, check, "%s is not readable" % path)
    else:
        report.line(True, check, "%s is readable" % path)


def _file_writable(report: Report, check: str, path: str) -> None:
    # Files are replaced by write-to-temp-and-rename: the directory must be writable too.
    directory = os.path.dirname(path) or "."
    if not os.path.isfile(path):
        report.line(False, check, "%s does not exist" % path)
    elif not os.access(path, os.R_OK | os.W_OK):
        report.line(False, check, "%s is not writable" % path)
    elif not os.access(directory, os.W_OK | os.X_OK):
        report.line(False, check, "%s is writable but its directory %s is not" % (path, directory))
    else:
        report.line(True, check, "%s is writable" % path)


def _dir_writable_or_creatable(report: Report, check: str, path: str) -> None:
    if os.path.isdir(path):
        ok = os.access(path, os.W_OK | os.X_OK)
        report.line(ok, check, "%s is %swritable" % (path, "" if ok else "not "))
        return
    parent = os.path.dirname(path.rstrip("/")) or "."
    ok = os.path.isdir(parent) and os.access(parent, os.W_OK | os.X_OK)
    report.line(ok, check, "%s does not exist%s" % (path, "; it will be created" if ok else " and cannot be created"))


def run_checks(config_path: Optional[str], report: Report) -> None:
    from .adapters.ami import AmiError
    from .adapters.db import DatabaseUnavailable
    from .config import ConfigError, load
    from .runtime import Runtime

    later = ("database", "tables", "cdr", "ami", "fwconsole", "spool", "sounds", "monitor", "voicemail.conf",
             "cache", "state")
    try:
        cfg = load(config_path)
    except ConfigError as exc:
        report.line(False, "config", str(exc))
        for check in later:
            report.line(False, check, "not checked: the config file is unusable")
        return
    report.line(True, "config", "%s is readable and valid" % cfg.path)

    rt = Runtime(cfg)
    try:
        _checks_with_runtime(cfg, rt, report, DatabaseUnavailable, AmiError)
    finally:
        rt.close()


def _checks_with_runtime(cfg, rt, report: Report, DatabaseUnavailable, AmiError) -> None:
    dbc = cfg.database
    where = dbc.socket or "%s:%s" % (dbc.host, dbc.port)
    db_ok = False
    try:
        t0 = time.monotonic()
        rt.db.query("SELECT 1")
        db_ok = report.line(True, "database", "connected to %s on %s as %s (credentials from %s, %.0f ms)" % (
            dbc.name, where, dbc.user, _credential_source(cfg), (time.monotonic() - t0) * 1000))
    except DatabaseUnavailable as exc:
        report.line(False, "database", "%s on %s as %s (credentials from %s)" % (
            _db_reason(exc), where, dbc.user, _credential_source(cfg)))
    except Exception as exc:  # e.g. a query error: say what kind, not a traceback
        report.line(False, "database", "%s on %s" % (type(exc).__name__, where))

    if db_ok:
        try:
            rows = rt.db.query("SELECT table_name AS name FROM information_schema.tables "
                               "WHERE table_schema = %s", (dbc.name,))
            present = {text(r["name"]) for r in rows}
            missing = [t for t in FREEPBX_TABLES if t not in present]
            if missing:
                report.line(False, "tables", "FreePBX tables missing in %s: %s" % (dbc.name, ", ".join(missing)))
            else:
                report.line(True, "tables", "FreePBX tables present in %s (%s)" % (dbc.name, ", ".join(FREEPBX_TABLES)))
        except Exception as exc:
            report.line(False, "tables", _db_reason(exc))
    else:
        report.line(False, "tables", "not checked: no database connection")

    try:
        cdr_name = rt.db.dbname("cdr")
        rows = rt.db.query("SELECT table_name AS name FROM information_schema.tables "
                           "WHERE table_schema = %s AND table_name = 'cdr'", (cdr_name,), which="cdr")
        if rows:
            report.line(True, "cdr", "connected to %s, table cdr present" % cdr_name)
        else:
            report.line(False, "cdr", "connected to %s but it has no cdr table" % cdr_name)
    except DatabaseUnavailable as exc:
        report.line(False, "cdr", _db_reason(exc))
    except Exception as exc:
        report.line(False, "cdr", type(exc).__name__)

    try:
        host, port, user, _secret = rt.ami_params()
    except Exception as exc:
        report.line(False, "ami", "AMI settings come from freepbx_settings, unreadable: %s" % _db_reason(exc))
    else:
        try:
            resp = rt.ami.action("Ping")
            if resp.ok:
                report.line(True, "ami", "logged in to %s:%s as %s" % (host, port, user))
            else:
                report.line(False, "ami", "logged in to %s:%s as %s but Ping answered %s" % (
                    host, port, user, resp.get("Response")))
        except AmiError as exc:
            report.line(False, "ami", str(exc))

    fw = cfg.fwconsole_path
    if not os.path.isfile(fw):
        report.line(False, "fwconsole", "%s not found" % fw)
    elif not os.access(fw, os.X_OK):
        report.line(False, "fwconsole", "%s is not executable" % fw)
    else:
        report.line(True, "fwconsole", "%s is executable" % fw)

    for check, name, test in (("spool", "voicemail_spool", _dir_readable),
                              ("sounds", "sounds", _dir_readable),
                              ("monitor", "monitor", _dir_readable),   # call recordings (/cdr/<id>/recording)
                              ("voicemail.conf", "voicemail_conf", _file_writable)):
        try:
            path = rt.path(name)
        except Exception as exc:
            report.line(False, check, "location comes from freepbx_settings, unreadable: %s" % _db_reason(exc))
            continue
        test(report, check, path)

    _dir_writable_or_creatable(report, "cache", cfg.paths.cache)
    _dir_writable_or_creatable(report, "state", cfg.paths.state)  # API tokens


# -- entry point ---------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rfapi", description="rfapi: the REST API of a FreePBX phone system")
    p.add_argument("--version", action="version", version="rfapi %s" % __version__)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    c = sub.add_parser("check", help="diagnose this box: config, databases, AMI, fwconsole, files",
                       description="One line per check (OK/FAIL and why); exit code 1 if any check failed.")
    c.add_argument("--config", metavar="FILE",
                   help="the INI file (default: $RFAPI_CONFIG, else /etc/rfapi/rfapi.ini)")
    c.add_argument("--user", metavar="NAME",
                   help="when run as root, check as this user (default: %s, the service user)" % SERVICE_USER)
    return p


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command != "check":
        parser.print_help()
        return 2
    report = Report()
    if not _become(args.user, report):
        return 1
    run_checks(args.config, report)
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
