"""GET /events capacity under the shipped gunicorn config: the limit is for the box
(workers x RFAPI_EVENT_STREAMS) whatever the spread of streams over the workers, a
client that closes its stream frees its slot at once (not at the next heartbeat), and
beyond the limit the answer is 503 with Retry-After. Behind Apache (which notices a
departed client only when it writes to it), a full box makes every stream probe its
client so the slots of clients that left are freed for the new ones."""
from __future__ import annotations

import json
import os
import socket
import time
from typing import List, Optional, Tuple

from rfapi.services.events import slots as eventslots
from tests.test_apache import SNIPPET_MODULES, Apache, render_snippet, shared_dir, stack  # noqa: F401
from tests.test_gunicorn import AUTH, free_port, start_gunicorn


def _quiet(pbx) -> None:
    """No heartbeat for a minute: only the socket watch can notice a closed stream."""
    pbx.ini.write_text(pbx.ini.read_text().replace("[api]\n", "[api]\nevents_heartbeat = 60\n", 1))


class RawStream:
    """One GET /events on a plain socket: status, headers and the first frame, nothing more
    (hundreds of them without a thread each)."""

    def __init__(self, addr: Tuple[str, int]):
        self.sock = socket.create_connection(addr, timeout=30)
        req = "GET /api/v1/events?types=config HTTP/1.1\r\nHost: localhost\r\nAuthorization: %s\r\n\r\n" % (
            AUTH["Authorization"])
        self.sock.sendall(req.encode())
        self.status = 0
        self.headers = {}
        self.body = b""

    def answer(self) -> "RawStream":
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            assert chunk, "connection closed before the answer"
            buf += chunk
        head, _, self.body = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        self.headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
        if self.status == 200:
            while not (b"rfapi events " in self.body and b"\n\n" in self.body.partition(b"rfapi events ")[2]):
                chunk = self.sock.recv(4096)
                assert chunk, "stream closed before its first frame"
                self.body += chunk
        else:
            length = int(self.headers.get("content-length", "0"))
            while len(self.body) < length:
                chunk = self.sock.recv(4096)
                if not chunk:
                    break
                self.body += chunk
        return self

    @property
    def origin(self) -> Optional[str]:
        text = self.body.decode("latin-1")
        i = text.find("rfapi events ")
        return text[i + len("rfapi events "):].split()[0] if i >= 0 else None

    def close(self) -> None:
        self.sock.close()


def open_many(addr, n: int) -> List[RawStream]:
    streams = [RawStream(addr) for _ in range(n)]  # every request sent first, then the answers read
    return [s.answer() for s in streams]


def test_capacity_is_for_the_box_whatever_the_spread_over_workers(pbx, tmp_path):
    _quiet(pbx)
    port = free_port()
    g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", "127.0.0.1:%d" % port, RFAPI_EVENT_STREAMS="3")
    streams: List[RawStream] = []
    try:
        addr = ("127.0.0.1", port)
        # 2 workers x 3 = 6 streams for the box, however they land on the workers.
        streams = open_many(addr, 6)
        assert [s.status for s in streams] == [200] * 6, [s.body[:200] for s in streams]
        extra = RawStream(addr).answer()
        streams.append(extra)
        assert extra.status == 503 and extra.headers["retry-after"] == "2"
        assert json.loads(extra.body)["message"] == "Too many event streams on this PBX (6); try again later"
        # One client leaves: its slot is free well before any heartbeat would have noticed.
        streams[0].close()
        deadline = time.monotonic() + 10
        while True:
            s = RawStream(addr).answer()
            streams.append(s)
            if s.status == 200:
                break
            assert time.monotonic() < deadline, "the closed stream's slot was not freed"
            time.sleep(0.1)
    finally:
        for s in streams:
            s.close()
        g.stop()


def test_200_streams_closed_and_200_opened_at_once_are_all_accepted(pbx, tmp_path):
    """The shipped defaults: 2 workers x 128 = 256 streams for the box."""
    _quiet(pbx)
    port = free_port()
    g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", "127.0.0.1:%d" % port)
    first: List[RawStream] = []
    second: List[RawStream] = []
    try:
        addr = ("127.0.0.1", port)
        first = open_many(addr, 200)
        assert [s.status for s in first].count(200) == 200
        t0 = time.monotonic()
        for s in first:
            s.close()
        second = open_many(addr, 200)
        statuses = [s.status for s in second]
        assert statuses.count(200) == 200, {st: statuses.count(st) for st in set(statuses)}
        assert time.monotonic() - t0 < 30  # a bound against a hang, not a speed goal
        assert len({s.origin for s in second}) >= 1
    finally:
        for s in first + second:
            s.close()
        g.stop()


def test_box_slots_ignore_processes_that_no_longer_exist(tmp_path):
    # A worker killed with SIGKILL never released its slots: its line must not count.
    dead = 2 ** 22 + 12345
    while True:
        try:
            os.kill(dead, 0)
        except ProcessLookupError:
            break
        dead += 1
    (tmp_path / eventslots.SLOTS_FILE).write_text("%d:abcd 5\n" % dead)
    slots = eventslots.BoxSlots(str(tmp_path), "hub1")
    other = eventslots.BoxSlots(str(tmp_path), "hub2")
    assert slots.claim(2) and other.claim(2)
    assert not slots.claim(2)
    assert slots.total() == 2
    other.release()
    assert slots.claim(2)
    lines = sorted((tmp_path / eventslots.SLOTS_FILE).read_text().splitlines())
    assert lines == ["%d:hub1 2" % os.getpid()]


def test_behind_apache_a_full_box_probes_its_streams_and_frees_the_slots_of_clients_that_left(
        pbx, tmp_path, stack):  # noqa: F811
    """Apache notices a client that left only when it writes to it: a new stream that finds the
    box full makes every stream write a probe, and gets the freed slot (heartbeat: a minute)."""
    _quiet(pbx)
    sdir = shared_dir()
    stack.append(sdir)
    sock = sdir / "rfapi.sock"
    bind = "unix:%s" % sock
    g = start_gunicorn(pbx.ini, tmp_path / "gunicorn.log", bind, wait_for=str(sock), RFAPI_EVENT_STREAMS="1")
    stack.append(g)
    port = free_port()
    apache = Apache(tmp_path / "apache", sdir / "htdocs", ["127.0.0.1:%d" % port], render_snippet(bind),
                    modules=SNIPPET_MODULES)
    stack.append(apache.start())
    addr = ("127.0.0.1", port)
    streams = []
    try:
        a, b = RawStream(addr).answer(), RawStream(addr).answer()
        streams += [a, b]
        assert (a.status, b.status) == (200, 200)
        full = RawStream(addr).answer()  # both clients still there: probed, still full
        streams.append(full)
        assert full.status == 503 and full.headers["retry-after"] == "2"
        b.sock.settimeout(5)
        assert b":\n\n" in b.sock.recv(4096)  # the live stream got the probe (an empty comment)
        a.close()
        c = RawStream(addr).answer()
        streams.append(c)
        assert c.status == 200, c.body
    finally:
        for s in streams:
            s.close()
