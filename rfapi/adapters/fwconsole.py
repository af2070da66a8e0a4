"""fwconsole adapter: runs FreePBX's CLI with an argument list (never a shell)."""
from __future__ import annotations

import os
import signal
import subprocess
import threading
from dataclasses import dataclass
from typing import List, Sequence


class FwconsoleError(Exception):
    pass


class FwconsoleMissing(FwconsoleError):
    """The configured fwconsole is not an executable file."""


class FwconsoleTimeout(FwconsoleError):
    def __init__(self, timeout: float, output: str):
        super().__init__("fwconsole did not finish within %g s" % timeout)
        self.output = output


@dataclass
class Result:
    args: List[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + (("\n" + self.stderr) if self.stderr else "")

    def tail(self, lines: int = 20) -> List[str]:
        return self.output.rstrip("\n").splitlines()[-lines:]


class Fwconsole:
    def __init__(self, path: str, timeout: float = 300.0):
        self.path = path
        self.timeout = float(timeout)
        # FreePBX refuses concurrent reloads; callers that need one-at-a-time use this.
        self.reload_lock = threading.Lock()

    def available(self) -> bool:
        return os.path.isfile(self.path) and os.access(self.path, os.X_OK)

    def run(self, args: Sequence[str], timeout: float = None) -> Result:
        timeout = self.timeout if timeout is None else timeout
        argv = [self.path] + [str(a) for a in args]
        if not self.available():
            raise FwconsoleMissing("fwconsole not found or not executable at %s" % self.path)
        # Own process group, so a timeout kills fwconsole *and* its children
        # (it runs php, which runs asterisk -rx ...): no orphan keeps the lock.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()  # reaps the child: no zombie
            raise FwconsoleTimeout(timeout, _text(out) + _text(err)) from None
        return Result(argv, proc.returncode, _text(out), _text(err))


def _text(b: bytes) -> str:
    return (b or b"").decode("utf-8", "replace")
