"""A complete test PBX: databases, AMI peer, fwconsole stand-in, spool/sounds
trees, voicemail.conf, the rfapi config file, the app and a client."""
from __future__ import annotations

import base64
import copy
import json
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Optional

import MySQLdb

from . import dbworld, office
from .amipeer import AmiPeer

HERE = Path(__file__).resolve().parent
API_USER = "api"
API_PASSWORD = "test-api-password-0123456789"
AMI_USER = "admin"
AMI_SECRET = "amp111"


def body(resp) -> Any:
    """The JSON envelope of a test-client response."""
    return json.loads(resp.get_data(as_text=True))


def need_reload(pbx) -> str:
    return pbx.sql("SELECT value FROM admin WHERE variable = 'need_reload'")[0]["value"]


def without_need_reload(snap: Dict[str, Any]) -> Dict[str, Any]:
    """A snapshot without the need_reload flag (writes set it; undoing them need not clear it)."""
    s = copy.deepcopy(snap)
    s["db"]["config"]["admin"] = [r for r in s["db"]["config"]["admin"] if r[0] != "need_reload"]
    return s


def basic(user: str, password: str) -> Dict[str, str]:
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    return {"Authorization": "Basic " + token}


def connect(dbname: str):
    conn = MySQLdb.connect(db=dbname, **dbworld.server_args())
    conn.autocommit(True)
    return conn


def load_office(w) -> None:
    cfg = connect(w.config_db)
    cdr = connect(w.cdr_db)
    try:
        office.load(cfg, cdr, now=office_now())
    finally:
        cfg.close()
        cdr.close()


_NOW = None
_APP_LOCK = threading.RLock()


def office_now() -> int:
    """One anchor time for the whole test session (CDR dates are relative to it)."""
    global _NOW
    if _NOW is None:
        _NOW = int(time.time())
    return _NOW


def seed_peer(peer: AmiPeer) -> None:
    state = office.ami_state()
    with peer.lock:
        peer.astdb.update(office.astdb())
        for key in ("hints", "device_states", "presence", "pjsip_endpoints", "pjsip_contacts", "sip_peers",
                    "voicemail_boxes"):
            getattr(peer, key).update(state.get(key, {}))
        outcomes = state.get("originate_outcomes")
        if outcomes:
            peer.originate_outcomes.update(outcomes)


@dataclass
class Pbx:
    root: Path
    db: Any                      # dbworld World
    peer: AmiPeer
    ini: Path
    spool: Path
    sounds: Path
    voicemail_conf: Path
    cache: Path
    fwconsole: Path
    monitor: Optional[Path] = None  # ASTSPOOLDIR/monitor: call recordings (build_monitor)
    extra: Dict[str, Any] = field(default_factory=dict)
    _app: Any = None

    # -- the app ------------------------------------------------------------------
    @property
    def app(self):
        # Tests start threads that all ask for the app: build it once, under a lock.
        with _APP_LOCK:
            if self._app is None:
                from rfapi import create_app

                self._app = create_app(str(self.ini))
            return self._app

    @property
    def client(self):
        return self.app.test_client()

    @property
    def auth(self) -> Dict[str, str]:
        return basic(API_USER, API_PASSWORD)

    def call(self, method: str, path: str, headers: Optional[Dict[str, str]] = None, auth: bool = True, **kw):
        h = dict(self.auth if auth else {})
        h.update(headers or {})
        if not path.startswith("/"):
            path = "/api/v1/" + path
        return getattr(self.client, method.lower())(path, headers=h, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def put(self, path, **kw):
        return self.call("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)

    # -- looking at the world ------------------------------------------------------------
    def sql(self, query: str, params=(), which: str = "config"):
        conn = connect(self.db.config_db if which == "config" else self.db.cdr_db)
        try:
            cur = conn.cursor(MySQLdb.cursors.DictCursor)
            cur.execute(query, params)
            rows = list(cur.fetchall())
            cur.close()
            return rows
        finally:
            conn.close()

    def fwconsole_calls(self):
        log = self.fwconsole.parent / "fwconsole.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def fwconsole_control(self, **control) -> None:
        (self.fwconsole.parent / "fwconsole.control").write_text(json.dumps(control))

    def snapshot(self) -> Dict[str, Any]:
        """Everything a write could touch: both databases, AstDB, voicemail.conf bytes, spool files."""
        files = {}
        for base in (self.spool, self.sounds) + ((self.monitor,) if self.monitor else ()):
            for p in sorted(base.rglob("*")):
                if p.is_file():
                    files[str(p)] = p.read_bytes()
        with self.peer.lock:
            astdb = dict(self.peer.astdb)
        return {"db": dbworld.dump_world(self.db), "astdb": astdb,
                "voicemail_conf": self.voicemail_conf.read_bytes(), "files": files}

    def close(self) -> None:
        if self._app is not None:
            self._app.extensions["rfapi"].close()
        self.peer.stop()


def build(tmp: Path, db, *, ini_extra: str = "") -> Pbx:
    """Lay out a fresh PBX world under ``tmp`` over database pair ``db``."""
    tmp.mkdir(parents=True, exist_ok=True)
    spool = tmp / "spool" / "voicemail"
    sounds = tmp / "sounds"
    etc = tmp / "etc" / "asterisk"
    cache = tmp / "cache"
    bindir = tmp / "bin"
    for d in (spool, sounds, etc, cache, bindir):
        d.mkdir(parents=True, exist_ok=True)
    office.build_spool(str(spool))
    office.build_sounds(str(sounds))
    monitor = tmp / "spool" / "monitor"
    build_monitor(monitor)
    vmconf = etc / "voicemail.conf"
    vmconf.write_text(office.voicemail_conf())
    fw = bindir / "fwconsole"
    shutil.copy2(HERE / "fwconsole", fw)
    peer = AmiPeer(users={AMI_USER: AMI_SECRET})
    peer.login_fail_delay = 0.05
    seed_peer(peer)
    peer.start()
    args = dbworld.server_args()
    (bindir / "fwconsole.control").write_text(json.dumps({
        "mode": "ok", "needreload_db": db.config_db, "db_host": args.get("host", "127.0.0.1"),
        "db_port": args.get("port", 3306), "db_user": args.get("user", "root")}))
    ini = tmp / "rfapi.ini"
    ini.write_text(render_ini(db, peer, fw, spool, sounds, vmconf, cache, tmp, monitor) + ini_extra)
    return Pbx(root=tmp, db=db, peer=peer, ini=ini, spool=spool, sounds=sounds, voicemail_conf=vmconf,
               cache=cache, fwconsole=fw, monitor=monitor)


_MONITOR_FILES: Dict[str, bytes] = {}


def monitor_files() -> Dict[str, bytes]:
    """{path relative to the monitor folder: bytes} for every office CDR row with a
    recordingfile: <YYYY>/<MM>/<DD>/<name> with the date of the name's 4th part, as
    FreePBX's cdr module looks for it; each a small valid WAV (a distinct tone)."""
    if not _MONITOR_FILES:
        for r in office.cdr_rows(office_now()):
            name = r["recordingfile"]
            if name and name not in _MONITOR_FILES:
                day = name.split("-")[3]
                rel = "%s/%s/%s/%s" % (day[:4], day[4:6], day[6:8], name)
                _MONITOR_FILES[rel] = office.wav_pcm(seconds=0.25, freq=300 + 7 * len(_MONITOR_FILES))
    return _MONITOR_FILES


def build_monitor(base: Path) -> Dict[str, bytes]:
    """Write the call-recording tree (ASTSPOOLDIR/monitor/YYYY/MM/DD/<recordingfile>)."""
    files = monitor_files()
    for rel, data in files.items():
        p = base / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    base.mkdir(parents=True, exist_ok=True)
    return files


def render_ini(db, peer, fw, spool, sounds, vmconf, cache, tmp, monitor=None) -> str:
    args = dbworld.server_args()
    return "\n".join([
        "[api]",
        "user = %s" % API_USER,
        "password = %s" % API_PASSWORD,
        "[database]",
        "host = %s" % args.get("host", "127.0.0.1"),
        "port = %s" % args.get("port", 3306),
        "user = %s" % args.get("user", "root"),
        "password = %s" % args.get("passwd", ""),
        "name = %s" % db.config_db,
        "cdr_name = %s" % db.cdr_db,
        "[ami]",
        "host = %s" % peer.host,
        "port = %s" % peer.port,
        "user = %s" % AMI_USER,
        "secret = %s" % AMI_SECRET,
        "timeout = 3",
        "[fwconsole]",
        "path = %s" % fw,
        "timeout = 10",
        "[paths]",
        "voicemail_spool = %s" % spool,
        "sounds = %s" % sounds,
        "voicemail_conf = %s" % vmconf,
    ] + (["monitor = %s" % monitor] if monitor else []) + [
        "cache = %s" % cache,
        "state = %s" % (tmp / "state"),
        "audit_log = %s" % (tmp / "audit.log"),
        "[freepbx]",
        "conf = %s" % (tmp / "etc" / "freepbx.conf"),
        "amportal_conf = %s" % (tmp / "etc" / "amportal.conf"),
        "",
    ])
