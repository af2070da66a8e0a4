"""rfapi configuration: one INI file, every key optional but the API password.

Missing keys fall back to what FreePBX itself keeps on the box, so on a FreePBX
machine the operator sets only ``[api] password``:

* database credentials: /etc/freepbx.conf (PHP ``$amp_conf[...]`` lines), then
  the legacy /etc/amportal.conf (``KEY=value``);
* AMI, spool, sounds, CDR database name: the ``freepbx_settings`` table. Those
  need the database, so they are resolved lazily (see ``rfapi.settings``).
"""
from __future__ import annotations

import configparser
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Dict, Optional

DEFAULT_PATH = "/etc/rfapi/rfapi.ini"


class ConfigError(SystemExit):
    """A configuration problem found at start-up.

    Subclasses SystemExit so a bad file stops gunicorn/the CLI with one clear
    line and no traceback; code 3 is gunicorn's "worker failed to boot",
    which makes the arbiter halt instead of respawning workers forever.
    """

    def __init__(self, message: str):
        super().__init__(3)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass
class DatabaseConfig:
    host: str = "localhost"
    port: int = 3306
    user: str = "root"
    password: str = ""
    name: str = "asterisk"
    cdr_name: Optional[str] = None  # None: freepbx_settings CDRDBNAME, else asteriskcdrdb
    socket: str = ""
    connect_timeout: int = 3
    read_timeout: int = 30
    # Connections per logical database (asterisk, asteriskcdrdb) per worker process: the
    # most rfapi ever holds is workers x pool_size x 2. A request waits at most
    # pool_wait seconds for a free one, then gets 503 with Retry-After.
    pool_size: int = 6
    pool_wait: float = 5.0


@dataclass
class AmiConfig:
    # None: take it from freepbx_settings when first needed.
    host: Optional[str] = None
    port: Optional[int] = None
    user: Optional[str] = None
    secret: Optional[str] = None
    timeout: float = 10.0


@dataclass
class PathsConfig:
    voicemail_spool: Optional[str] = None  # None: ASTSPOOLDIR + /voicemail
    sounds: Optional[str] = None           # None: ASTVARLIBDIR + /sounds
    voicemail_conf: Optional[str] = None   # None: ASTETCDIR + /voicemail.conf
    monitor: Optional[str] = None          # None: MIXMON_DIR, else ASTSPOOLDIR + /monitor (call recordings)
    cache: str = "/var/cache/rfapi"
    state: str = "/var/lib/rfapi"          # rfapi's own lasting state (API tokens); kept across upgrades
    audit_log: str = ""                    # empty: audit lines go to the "rfapi.audit" logger only


@dataclass
class Config:
    path: str
    api_user: str = "api"
    api_password: str = ""
    auth_cache_seconds: float = 5.0
    cache_ttl: float = 300.0
    trusted_proxies: int = 1
    trusted_proxy_networks: tuple = ("127.0.0.0/8", "::1/128")
    max_body_bytes: int = 1024 * 1024
    max_import_bytes: int = 8 * 1024 * 1024  # POST /extensions/import: 5,000 full rows are ~1.3 MB
    auth_fail_limit: int = 10
    auth_fail_window: float = 60.0
    auth_fail_cooldown: float = 300.0
    call_allow_feature_codes: bool = False  # [call] allow_feature_codes: may POST /call dial *xx / #?
    events_heartbeat: float = 15.0      # GET /events: seconds between heartbeat comments
    events_max_seconds: float = 0.0     # GET /events: end a stream after this long (0: never)
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    ami: AmiConfig = field(default_factory=AmiConfig)
    fwconsole_path: str = "/usr/sbin/fwconsole"
    fwconsole_timeout: float = 300.0
    paths: PathsConfig = field(default_factory=PathsConfig)
    freepbx_conf: str = "/etc/freepbx.conf"
    amportal_conf: str = "/etc/amportal.conf"


_PHP_ASSIGN = re.compile(
    r"""\$amp_conf\s*\[\s*(['"])(?P<key>\w+)\1\s*\]\s*=\s*(?P<q>['"])(?P<val>(?:\\.|(?!(?P=q)).)*)(?P=q)\s*;"""
)


def read_freepbx_conf(path: str) -> Dict[str, str]:
    """The ``$amp_conf['KEY'] = 'value';`` assignments of /etc/freepbx.conf."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return {}
    out = {}
    for m in _PHP_ASSIGN.finditer(text):
        out[m.group("key")] = re.sub(r"\\(.)", r"\1", m.group("val"))
    return out


def read_amportal_conf(path: str) -> Dict[str, str]:
    """``KEY=value`` lines of the legacy /etc/amportal.conf (comments: # or ;)."""
    out = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if not line or line[0] in "#;" or "=" not in line:
                    continue
                k, v = line.split("=", 1)
                out[k.strip()] = v.strip().strip('"').strip("'")
    except OSError:
        return {}
    return out


def _number(cp, path, section, key, kind, default, minimum=None):
    if not cp.has_option(section, key) or cp.get(section, key).strip() == "":
        return default
    raw = cp.get(section, key).strip()
    try:
        val = kind(raw)
    except ValueError:
        raise ConfigError("%s: [%s] %s = %r is not a %s" % (path, section, key, raw, kind.__name__)) from None
    if minimum is not None and val < minimum:
        raise ConfigError("%s: [%s] %s must be at least %s" % (path, section, key, minimum))
    return val


def _bool(cp, path, section, key, default):
    if not cp.has_option(section, key) or cp.get(section, key).strip() == "":
        return default
    raw = cp.get(section, key).strip().lower()
    if raw in ("1", "yes", "true", "on"):
        return True
    if raw in ("0", "no", "false", "off"):
        return False
    raise ConfigError("%s: [%s] %s = %r is not yes or no" % (path, section, key, raw))


def _text(cp, section, key, default=None):
    if cp.has_option(section, key):
        val = cp.get(section, key).strip()
        if val != "":
            return val
    return default


def load(path: Optional[str] = None) -> Config:
    """Read and check the INI file; raise ConfigError naming file and key."""
    path = path or os.environ.get("RFAPI_CONFIG") or DEFAULT_PATH
    cp = configparser.ConfigParser(interpolation=None, inline_comment_prefixes=(";", "#"))
    try:
        with open(path, encoding="utf-8") as fh:
            cp.read_file(fh)
    except FileNotFoundError:
        raise ConfigError("%s: config file not found (set RFAPI_CONFIG or create it)" % path) from None
    except PermissionError:
        raise ConfigError("%s: config file not readable by this user" % path) from None
    except OSError as exc:
        raise ConfigError("%s: cannot read the config file (%s)" % (path, exc.strerror or exc)) from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        raise ConfigError("%s: not a valid INI file: %s" % (path, first)) from None

    known = {
        "api": {"user", "password", "auth_cache_seconds", "cache_ttl", "trusted_proxies", "trusted_proxy_networks",
                "max_body_bytes", "max_import_bytes",
                "auth_fail_limit", "auth_fail_window", "auth_fail_cooldown", "events_heartbeat",
                "events_max_seconds"},
        "database": {"host", "port", "user", "password", "name", "cdr_name", "socket", "connect_timeout",
                     "read_timeout", "pool_size", "pool_wait"},
        "ami": {"host", "port", "user", "secret", "timeout"},
        "fwconsole": {"path", "timeout"},
        "call": {"allow_feature_codes"},
        "paths": {"voicemail_spool", "sounds", "voicemail_conf", "monitor", "cache", "state", "audit_log"},
        "freepbx": {"conf", "amportal_conf"},
    }
    for section in cp.sections():
        if section not in known:
            raise ConfigError("%s: unknown section [%s]" % (path, section))
        for key in cp.options(section):
            if key not in known[section]:
                raise ConfigError("%s: unknown key [%s] %s" % (path, section, key))

    cfg = Config(path=path)
    cfg.api_user = _text(cp, "api", "user", "api")
    cfg.api_password = _text(cp, "api", "password", "")
    if not cfg.api_password:
        raise ConfigError("%s: [api] password is required" % path)
    cfg.auth_cache_seconds = _number(cp, path, "api", "auth_cache_seconds", float, 5.0, 0)
    cfg.cache_ttl = _number(cp, path, "api", "cache_ttl", float, 300.0, 0)
    cfg.trusted_proxies = _number(cp, path, "api", "trusted_proxies", int, 1, 0)
    nets = _text(cp, "api", "trusted_proxy_networks")
    if nets is not None:
        import ipaddress

        parsed = []
        for item in [n.strip() for n in nets.split(",") if n.strip()]:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ConfigError("%s: [api] trusted_proxy_networks: %r is not a network" % (path, item)) from None
            parsed.append(item)
        cfg.trusted_proxy_networks = tuple(parsed)
    cfg.max_body_bytes = _number(cp, path, "api", "max_body_bytes", int, 1024 * 1024, 1024)
    cfg.max_import_bytes = _number(cp, path, "api", "max_import_bytes", int, 8 * 1024 * 1024, 1024)
    cfg.auth_fail_limit = _number(cp, path, "api", "auth_fail_limit", int, 10, 1)
    cfg.auth_fail_window = _number(cp, path, "api", "auth_fail_window", float, 60.0, 1)
    cfg.auth_fail_cooldown = _number(cp, path, "api", "auth_fail_cooldown", float, 300.0, 1)
    cfg.events_heartbeat = _number(cp, path, "api", "events_heartbeat", float, 15.0, 0.05)
    cfg.events_max_seconds = _number(cp, path, "api", "events_max_seconds", float, 0.0, 0)

    cfg.call_allow_feature_codes = _bool(cp, path, "call", "allow_feature_codes", False)

    cfg.freepbx_conf = _text(cp, "freepbx", "conf", os.environ.get("FREEPBX_CONF", "/etc/freepbx.conf"))
    cfg.amportal_conf = _text(cp, "freepbx", "amportal_conf", "/etc/amportal.conf")

    # Database: INI first, then /etc/freepbx.conf, then /etc/amportal.conf.
    fpbx = read_freepbx_conf(cfg.freepbx_conf)
    amp = read_amportal_conf(cfg.amportal_conf)

    def fallback(key, ini_key, default):
        val = _text(cp, "database", ini_key)
        if val is not None:
            return val
        for src in (fpbx, amp):
            if src.get(key, "") != "":
                return src[key]
        return default

    db = cfg.database
    db.host = fallback("AMPDBHOST", "host", "localhost")
    port = fallback("AMPDBPORT", "port", "3306")
    try:
        db.port = int(port)
    except ValueError:
        raise ConfigError("%s: [database] port = %r is not a number" % (path, port)) from None
    db.user = fallback("AMPDBUSER", "user", "root")
    db.password = fallback("AMPDBPASS", "password", "")
    db.name = fallback("AMPDBNAME", "name", "asterisk")
    db.socket = fallback("AMPDBSOCK", "socket", "")
    db.cdr_name = _text(cp, "database", "cdr_name")
    db.connect_timeout = _number(cp, path, "database", "connect_timeout", int, 3, 1)
    db.read_timeout = _number(cp, path, "database", "read_timeout", int, 30, 1)
    db.pool_size = _number(cp, path, "database", "pool_size", int, 6, 1)
    db.pool_wait = _number(cp, path, "database", "pool_wait", float, 5.0, 0)

    ami = cfg.ami
    ami.host = _text(cp, "ami", "host")
    ami.port = _number(cp, path, "ami", "port", int, None, 1)
    ami.user = _text(cp, "ami", "user")
    ami.secret = _text(cp, "ami", "secret")
    ami.timeout = _number(cp, path, "ami", "timeout", float, 10.0, 0.1)

    fw = _text(cp, "fwconsole", "path")
    if fw is None:
        fw = "/usr/sbin/fwconsole" if os.path.exists("/usr/sbin/fwconsole") else (shutil.which("fwconsole") or "/usr/sbin/fwconsole")
    cfg.fwconsole_path = fw
    cfg.fwconsole_timeout = _number(cp, path, "fwconsole", "timeout", float, 300.0, 0.1)

    p = cfg.paths
    p.voicemail_spool = _text(cp, "paths", "voicemail_spool")
    p.sounds = _text(cp, "paths", "sounds")
    p.voicemail_conf = _text(cp, "paths", "voicemail_conf")
    p.monitor = _text(cp, "paths", "monitor")
    p.cache = _text(cp, "paths", "cache", "/var/cache/rfapi")
    p.state = _text(cp, "paths", "state", "/var/lib/rfapi")
    p.audit_log = _text(cp, "paths", "audit_log", "")
    return cfg
