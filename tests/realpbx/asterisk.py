"""A private, real Asterisk 20 for the tier (from $RFAPI_REAL_ASTERISK), confined to one directory, on loopback ports of its own.

Its configuration is FreePBX-shaped: the lab's pjsip.conf/sip.conf include the
files FreePBX's reload writes (tests/realpbx/freepbx.py writes them from the
rows rfapi wrote), extensions.conf includes extensions_additional.conf, and
manager.conf has FreePBX's ``admin`` user plus ``limited`` (no originate/call
classes) for the permission tests."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parents[2]
TARBALL = "asterisk-20.20.1-debian12-amd64.tar.xz"
AMI_USER, AMI_SECRET = "admin", "amp111"
LIMITED_USER, LIMITED_SECRET = "limited", "limited-secret-4711"


def realpbx_dir() -> Optional[Path]:
    """Where the Asterisk build is: $RFAPI_REAL_ASTERISK, or None (tier off)."""
    env = os.environ.get("RFAPI_REAL_ASTERISK")
    for cand in ([Path(env)] if env else []):
        if (cand / "run-private.sh").exists() and (cand / TARBALL).exists():
            return cand
    return None


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


EXTENSIONS_CONF = """[general]
static=yes
writeprotect=no
clearglobalvars=no

[globals]

#include extensions_additional.conf
#tryinclude extensions_custom.conf
"""

MANAGER_LIMITED = """
[%s]
secret = %s
deny = 0.0.0.0/0.0.0.0
permit = 127.0.0.1/255.255.255.0
read = system,log,verbose,command,agent,user,config,dtmf,reporting,cdr,dialplan
write = system,log,verbose,command,agent,user,config,dtmf,reporting,cdr,dialplan
""" % (LIMITED_USER, LIMITED_SECRET)


class RealAsterisk:
    def __init__(self, root: Path, source: Path):
        self.root = Path(root)
        self.source = source
        self.ami_port, self.pjsip_port, self.chansip_port = free_ports(3)
        self.etc = self.root / "etc" / "asterisk"
        self.spool = self.root / "var" / "spool" / "asterisk"
        self.sounds = self.root / "var" / "lib" / "asterisk" / "sounds"

    # -- lifecycle ---------------------------------------------------------------------
    def unpack(self, voicemail_conf: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with tarfile.open(self.source / TARBALL) as t:
            t.extractall(self.root)
        for f in (self.source / "conf").glob("*.conf"):
            shutil.copy2(f, self.etc / f.name)
        (self.etc / "extensions.conf").write_text(EXTENSIONS_CONF)
        with open(self.etc / "manager.conf", "a") as f:
            f.write(MANAGER_LIMITED)
        # FreePBX's voicemail.conf (rfapi edits this very file)
        (self.etc / "voicemail.conf").write_text(voicemail_conf)
        self.sounds.mkdir(parents=True, exist_ok=True)

    def start(self) -> str:
        out = subprocess.run(["bash", str(self.source / "run-private.sh"), str(self.root), str(self.ami_port),
                              str(self.pjsip_port), str(self.chansip_port)],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
        self.wait_booted()
        return out.stdout

    def wait_booted(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
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
            return int((self.root / "run" / "asterisk.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def running(self) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        # a zombie or another process that took the pid does not count
        try:
            return "asterisk" in Path("/proc/%d/cmdline" % pid).read_bytes().decode(errors="replace")
        except OSError:
            return False

    def stop_now(self) -> None:
        """`core stop now`, as an operator would."""
        self.rx("core stop now", check=False)
        self._wait_gone()

    def kill9(self) -> None:
        pid = self.pid()
        if pid:
            os.kill(pid, signal.SIGKILL)
        self._wait_gone()

    def _wait_gone(self, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.running():
            time.sleep(0.05)
        assert not self.running(), "Asterisk still running"
        # run-private.sh treats a leftover ctl socket of a dead process as "running"
        for leftover in ("asterisk.ctl",):
            p = self.root / "run" / leftover
            if p.exists():
                p.unlink()

    def stop(self) -> None:
        if self.running():
            subprocess.run(["bash", str(self.source / "run-private.sh"), "--stop", str(self.root)],
                           capture_output=True, timeout=30)
            if self.running():
                self.kill9()

    # -- the CLI (an independent view of what Asterisk holds) --------------------------------
    def _rx(self, command: str) -> subprocess.CompletedProcess:
        env = dict(os.environ, LD_LIBRARY_PATH=str(self.root / "usr" / "lib"))
        return subprocess.run([str(self.root / "usr" / "sbin" / "asterisk"), "-C",
                               str(self.etc / "asterisk.conf"), "-rx", command],
                              capture_output=True, text=True, env=env, timeout=30)

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
        for f in ("log/messages.log", "log/start.out"):
            p = self.root / f
            if p.exists():
                parts.append(p.read_text(errors="replace")[-n:])
        return "\n".join(parts)

    def contacts(self) -> List[Tuple[str, str]]:
        """(aor, contact uri) from `pjsip show contacts`."""
        out = self.rx("pjsip show contacts")
        return re.findall(r"^\s*Contact:\s+(\S+?)/(sip:\S+)\s", out, re.M)
