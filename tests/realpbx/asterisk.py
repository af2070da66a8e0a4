"""A private, real Asterisk 20 for the tier, run from the installation named by
$RFAPI_REAL_ASTERISK, confined to one directory, on loopback ports of its own.

The installation provides only the binary, the modules and read-only data; the
private root holds the configuration the tier writes (tests/realpbx/astconf.py),
and everything Asterisk writes. Its configuration is FreePBX-shaped: pjsip.conf /
sip.conf include the files FreePBX's reload writes (tests/realpbx/freepbx.py
writes them from the rows rfapi wrote), extensions.conf includes
extensions_additional.conf, and manager.conf has FreePBX's ``admin`` user plus
``limited`` (no originate/call classes) for the permission tests."""
from __future__ import annotations

import atexit
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from tests.realpbx import astconf
from tests.realpbx.astconf import AMI_SECRET, AMI_USER, LIMITED_SECRET, LIMITED_USER  # noqa: F401

# What the tier's calls, dialplan and CLI checks load: an installation without
# one of these cannot run the tier, and says so before anything starts.
REQUIRED_MODULES = (
    "chan_pjsip", "res_pjsip", "res_pjsip_session", "res_pjsip_registrar", "res_pjsip_authenticator_digest",
    "res_pjsip_endpoint_identifier_user", "res_pjsip_outbound_registration", "res_pjsip_pubsub",
    "res_pjsip_exten_state", "res_pjsip_sdp_rtp", "res_pjproject", "res_sorcery_config", "res_sorcery_memory",
    "res_sorcery_astdb", "res_rtp_asterisk", "chan_sip", "app_voicemail", "app_dial", "app_echo", "app_playback",
    "app_stack", "res_agi", "res_clioriginate", "func_db", "func_devstate", "func_presencestate", "func_logic",
    "func_cut", "func_strings", "pbx_config", "format_wav", "format_wav_gsm", "format_pcm", "codec_ulaw",
    "codec_gsm", "bridge_simple", "res_timing_timerfd",
)


class Installation:
    """An Asterisk installation: a prefix (``--prefix=DIR``: DIR/sbin/asterisk,
    DIR/lib/asterisk/modules) or a root laid out like Debian's (DIR/usr/sbin/asterisk)."""

    def __init__(self, prefix: Path):
        self.prefix = Path(prefix)
        self.binary = self._first("sbin/asterisk", "usr/sbin/asterisk")
        self.moddir = self._first("lib/asterisk/modules", "lib64/asterisk/modules", "usr/lib/asterisk/modules",
                                  "usr/lib/x86_64-linux-gnu/asterisk/modules", "usr/lib64/asterisk/modules")
        self.varlibdir = self._first("var/lib/asterisk", "usr/share/asterisk") or self.prefix / "var/lib/asterisk"
        # libasteriskpj / libasteriskssl sit beside the modules' parent when the
        # prefix is not in the loader's path
        libs = [d for d in (self.prefix / "lib", self.prefix / "lib64", self.prefix / "usr" / "lib") if d.is_dir()]
        self.ld_library_path = ":".join(str(d) for d in libs)

    def _first(self, *rels: str) -> Optional[Path]:
        for rel in rels:
            if (self.prefix / rel).exists():
                return self.prefix / rel
        return None

    def problems(self) -> List[str]:
        if self.binary is None:
            return ["no sbin/asterisk under %s" % self.prefix]
        if self.moddir is None:
            return ["no lib/asterisk/modules under %s" % self.prefix]
        found = [] if self.version().startswith("20.") else [
            "%s is Asterisk %r; the tier's expectations are Asterisk 20's" % (self.binary, self.version())]
        return found + ["module %s.so missing from %s" % (m, self.moddir) for m in REQUIRED_MODULES
                        if not (self.moddir / (m + ".so")).exists()]

    def version(self) -> str:
        """`asterisk -V` without the name: "20.20.1"."""
        r = subprocess.run([str(self.binary), "-V"], capture_output=True, text=True, env=self.env(), timeout=30)
        return r.stdout.strip().replace("Asterisk ", "", 1)

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        if self.ld_library_path:
            env["LD_LIBRARY_PATH"] = self.ld_library_path + (
                ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        return env


def realpbx_dir() -> Optional[Path]:
    """The Asterisk installation named by $RFAPI_REAL_ASTERISK, or None (tier off)."""
    env = os.environ.get("RFAPI_REAL_ASTERISK")
    return Path(env) if env else None


def free_ports(n: int) -> List[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    tcp = []
    for p in ports:  # the AMI port must be free for TCP too
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.bind(("127.0.0.1", p))
        except OSError:
            for s in socks + tcp:
                s.close()
            return free_ports(n)
        tcp.append(t)
    for s in socks + tcp:
        s.close()
    return ports


class RealAsterisk:
    def __init__(self, root: Path, installation: Path):
        self.root = Path(root)
        self.inst = Installation(installation)
        self.ami_port, self.pjsip_port, self.chansip_port = free_ports(3)
        # RTP: a range of its own per run (Asterisk skips ports in use within it)
        self.rtp_start = 20000 + (os.getpid() % 40) * 1000
        self.etc = self.root / "etc" / "asterisk"
        self.run_dir = self.root / "run"
        self.log_dir = self.root / "log"
        self.spool = self.root / "var" / "spool" / "asterisk"
        self.data_dir = self.root / "var" / "lib" / "asterisk"
        self.sounds = self.data_dir / "sounds"
        self.proc: Optional[subprocess.Popen] = None

    def dirs(self) -> Dict[str, Path]:
        return {
            "astetcdir": self.etc,
            "astmoddir": self.inst.moddir,
            "astvarlibdir": self.inst.varlibdir,
            "astdbdir": self.root / "db",
            "astkeydir": self.data_dir,
            "astdatadir": self.data_dir,
            "astagidir": self.data_dir / "agi-bin",
            "astspooldir": self.spool,
            "astrundir": self.run_dir,
            "astlogdir": self.log_dir,
            "astcachedir": self.root / "cache",
            "astsbindir": self.inst.binary.parent,
        }

    # -- lifecycle ---------------------------------------------------------------------
    def prepare(self, voicemail_conf: str) -> None:
        """Lay out the private root and write the configuration."""
        problems = self.inst.problems()
        assert not problems, "$RFAPI_REAL_ASTERISK=%s is not a usable Asterisk installation: %s" % (
            self.inst.prefix, "; ".join(problems))
        for d in self.dirs().values():
            if str(d).startswith(str(self.root)):
                d.mkdir(parents=True, exist_ok=True)
        for d in (self.sounds, self.data_dir / "keys"):
            d.mkdir(parents=True, exist_ok=True)
        # the installation's XML documentation, read-only (CLI help, AMI action lists)
        docs = self.inst.varlibdir / "documentation"
        if docs.is_dir() and not (self.data_dir / "documentation").exists():
            (self.data_dir / "documentation").symlink_to(docs)
        astconf.write_all(self.etc, self.dirs(),
                          {"ami": self.ami_port, "pjsip": self.pjsip_port, "chansip": self.chansip_port,
                           "rtp": self.rtp_start}, voicemail_conf)

    @property
    def conf(self) -> Path:
        return self.etc / "asterisk.conf"

    def start(self) -> None:
        """`asterisk -f` on the private asterisk.conf, as a child of the test
        process (so a kill -9 leaves no orphan and its exit is reaped)."""
        self._clear_run_dir()
        out = open(self.log_dir / "start.out", "ab")
        try:
            self.proc = subprocess.Popen([str(self.inst.binary), "-f", "-n", "-C", str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                         env=self.inst.env(), start_new_session=True)
        finally:
            out.close()
        # its own session survives the test process: a run that dies before
        # stop() (a failed fixture, Ctrl-C) must not leave it behind
        atexit.register(self._kill_at_exit, self.proc)
        self.wait_booted()

    @staticmethod
    def _kill_at_exit(proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)

    def wait_booted(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError("Asterisk exited (%s) while booting:\n%s" % (self.proc.returncode,
                                                                                   self.log_tail()))
            r = self._rx("core waitfullybooted")
            if r.returncode == 0 and self.ami_answers():
                return
            time.sleep(0.1)
        raise AssertionError("Asterisk did not boot:\n" + self.log_tail())

    def ami_answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.ami_port), timeout=1) as s:
                return s.recv(100).startswith(b"Asterisk Call Manager")
        except OSError:
            return False

    def pid(self) -> Optional[int]:
        try:
            return int((self.run_dir / "asterisk.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:   # poll() reaps an exited child
            return False
        return True

    def stop_now(self) -> None:
        """`core stop now`, as an operator would."""
        self.rx("core stop now", check=False)
        self._wait_gone()

    def kill9(self) -> None:
        if self.running():
            os.kill(self.proc.pid, signal.SIGKILL)
        self._wait_gone()

    def _wait_gone(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            time.sleep(0.05)
        assert not self.running(), "Asterisk still running"

    def _clear_run_dir(self) -> None:
        # a kill -9 leaves the ctl socket and pid file behind; a new Asterisk
        # would take the stale socket for a running one (-rx would connect to nothing)
        for leftover in ("asterisk.ctl", "asterisk.pid"):
            p = self.run_dir / leftover
            if p.exists() or p.is_symlink():
                p.unlink()

    def stop(self) -> None:
        """Graceful `core stop now`; SIGKILL only if it does not go."""
        if self.running():
            self._rx("core stop now")
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._clear_run_dir()

    # -- the CLI (an independent view of what Asterisk holds) --------------------------------
    def _rx(self, command: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.inst.binary), "-C", str(self.conf), "-rx", command],
                              capture_output=True, text=True, env=self.inst.env(), timeout=30)

    def rx(self, command: str, check: bool = True) -> str:
        r = self._rx(command)
        if check:
            assert r.returncode == 0, "asterisk -rx %r failed: %s" % (command, r.stderr)
        return r.stdout

    def astdb(self, family: str = "") -> Dict[str, str]:
        """`database show [family]` as {"/family/key": value}."""
        out = self.rx("database show %s" % family if family else "database show")
        found = {}
        for line in out.splitlines():
            m = re.match(r"^(/\S+)\s*:\s?(.*?)\s*$", line)
            if m:
                found[m.group(1)] = m.group(2)
        return found

    def reload_generated(self) -> None:
        """What `fwconsole reload` makes Asterisk do after writing the files."""
        for cmd in ("module reload res_pjsip.so", "sip reload", "dialplan reload", "voicemail reload"):
            self.rx(cmd)

    def log_tail(self, n: int = 4000) -> str:
        parts = []
        for f in ("messages.log", "start.out"):
            p = self.log_dir / f
            if p.exists():
                parts.append(p.read_text(errors="replace")[-n:])
        return "\n".join(parts)

    def contacts(self) -> List[Tuple[str, str]]:
        """(aor, contact uri) from `pjsip show contacts`."""
        out = self.rx("pjsip show contacts")
        return re.findall(r"^\s*Contact:\s+(\S+?)/(sip:\S+)\s", out, re.M)
