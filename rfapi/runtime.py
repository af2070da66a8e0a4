"""The adapters of one app instance, and FreePBX settings resolved lazily.

Keys missing from the INI file fall back to FreePBX's ``freepbx_settings``
table; that needs the database, so it happens on first use (and is retried
after a failure) rather than at start-up."""
from __future__ import annotations

import os
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from flask import current_app

from .adapters.ami import AMI
from .adapters.db import Database
from .adapters.fwconsole import Fwconsole
from .config import Config
from .text import text


class FreepbxSettings:
    """Read-through cache of ``freepbx_settings`` (keyword -> value)."""

    TTL = 60.0

    def __init__(self, db: Database):
        self._db = db
        self._values: Dict[str, str] = {}
        self._loaded = 0.0
        self._lock = threading.Lock()

    def all(self) -> Dict[str, str]:
        with self._lock:
            if time.monotonic() - self._loaded > self.TTL:
                rows = self._db.query("SELECT keyword, value FROM freepbx_settings")
                self._values = {r["keyword"]: text(r["value"]) for r in rows}
                self._loaded = time.monotonic()
            return self._values

    def get(self, keyword: str, default: str = "") -> str:
        val = self.all().get(keyword)
        return default if val is None or val == "" else val

    def invalidate(self) -> None:
        with self._lock:
            self._loaded = 0.0


class PerProcess:
    """One object per process, built on first use.

    gunicorn forks its workers after the app is built, and threads and sockets do
    not survive a fork: objects that own them (the live state table and its AMI
    event feed, the /events hub) are built in the process that uses them, once."""

    def __init__(self, build: Callable[[], Any]):
        self._build = build
        self._obj: Any = None
        self._pid = 0
        self._lock = threading.Lock()

    def get(self) -> Any:
        obj = self._obj
        if obj is None or self._pid != os.getpid():
            with self._lock:
                if self._obj is None or self._pid != os.getpid():
                    self._obj, self._pid = self._build(), os.getpid()
                obj = self._obj
        return obj

    def peek(self) -> Any:
        """The object if this process has built it already, else None (never builds)."""
        return self._obj if self._obj is not None and self._pid == os.getpid() else None


class Runtime:
    def __init__(self, config: Config):
        self.config = config
        dbc = config.database
        self.db = Database(dbc.host, dbc.port, dbc.user, dbc.password, dbc.name,
                           cdr_name=self._cdr_name, socket=dbc.socket,
                           connect_timeout=dbc.connect_timeout, read_timeout=dbc.read_timeout,
                           pool_size=dbc.pool_size, pool_wait=dbc.pool_wait)
        self.settings = FreepbxSettings(self.db)
        self.ami = AMI(self.ami_params, timeout=config.ami.timeout)
        self.fwconsole = Fwconsole(config.fwconsole_path, config.fwconsole_timeout)
        # Set by the app factory (rfapi.app.create_app), which knows how they are built:
        self.admin_cache: Any = None         # admins' logins remembered per worker (auth)
        self.live: Optional[PerProcess] = None     # the live state table (services.livestate)
        self.events: Optional[PerProcess] = None   # the /events hub (services.events)

    def _cdr_name(self) -> str:
        return self.config.database.cdr_name or self.settings.get("CDRDBNAME", "asteriskcdrdb")

    def ami_params(self) -> Tuple[str, int, str, str]:
        a = self.config.ami
        host = a.host or self.settings.get("ASTMANAGERHOST", "localhost")
        port = a.port or int(self.settings.get("ASTMANAGERPORT", "5038") or 5038)
        user = a.user or self.settings.get("AMPMGRUSER", "admin")
        secret = a.secret if a.secret is not None else self.settings.get("AMPMGRPASS", "amp111")
        if host == "localhost":
            host = "127.0.0.1"  # Asterisk listens on IPv4; avoid a ::1 attempt first
        return host, port, user, secret

    def path(self, name: str) -> str:
        """A configured directory/file, or FreePBX's own location for it."""
        p = self.config.paths
        explicit: Optional[str] = getattr(p, name)
        if explicit:
            return explicit
        if name == "voicemail_spool":
            return os.path.join(self.settings.get("ASTSPOOLDIR", "/var/spool/asterisk"), "voicemail")
        if name == "monitor":
            # FreePBX's cdr module: MIXMON_DIR ("Override Call Recording Location"), else the spool's monitor/.
            return self.settings.get("MIXMON_DIR", "") or os.path.join(
                self.settings.get("ASTSPOOLDIR", "/var/spool/asterisk"), "monitor")
        if name == "sounds":
            return os.path.join(self.settings.get("ASTVARLIBDIR", "/var/lib/asterisk"), "sounds")
        if name == "voicemail_conf":
            return os.path.join(self.settings.get("ASTETCDIR", "/etc/asterisk"), "voicemail.conf")
        raise KeyError(name)

    def close(self) -> None:
        self.ami.close()
        self.db.close()


def runtime() -> Runtime:
    """The Runtime of the current app."""
    return current_app.extensions["rfapi"]
