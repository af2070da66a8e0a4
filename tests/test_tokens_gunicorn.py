"""A revoked API token under real gunicorn (2 workers): each worker has just
accepted the token on a kept-alive connection; after the revoke, every one of
those connections, and every new one, is refused at once."""
from __future__ import annotations

import http.client
import json
import os
from pathlib import Path
from typing import Dict, List

from tests.test_gunicorn import AUTH, _children, free_port, processes, start_gunicorn, wait_until  # noqa: F401


def _socket_inodes(pid: int) -> set:
    out = set()
    fd_dir = "/proc/%d/fd" % pid
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def _server_inode(server_port: int, client_port: int) -> int:
    """The inode of the server side of the connection from ``client_port`` (/proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        f = line.split()
        local, remote = f[1], f[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == client_port:
            return int(f[9])
    raise AssertionError("no server socket for client port %d" % client_port)


def _worker_of(conn: http.client.HTTPConnection, server_port: int, workers: List[int]) -> int:
    inode = _server_inode(server_port, conn.sock.getsockname()[1])
    owners = [w for w in workers if inode in _socket_inodes(w)]
    assert len(owners) == 1, owners
    return owners[0]


def _ask(conn: http.client.HTTPConnection, method: str, path: str, headers: Dict[str, str], payload=None):
    body = json.dumps(payload).encode() if payload is not None else None
    h = dict(headers)
    if body is not None:
        h["Content-Type"] = "application/json"
    conn.request(method, path, body=body, headers=h)
    resp = conn.getresponse()
    data = resp.read()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(data or b"null")


def test_revoked_token_is_refused_at_once_by_every_worker(pbx, tmp_path, processes):  # noqa: F811
    port = free_port()
    g = start_gunicorn(pbx.ini, tmp_path / "g.log", "127.0.0.1:%d" % port)
    processes.append(g)
    wait_until(lambda: len(_children(g.pid)) == 2, 15, "two workers")
    workers = _children(g.pid)
    admin = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    status, _, made = _ask(admin, "POST", "/api/v1/tokens", AUTH, {"name": "wallboard", "scopes": ["read"]})
    assert status == 201, made
    bearer = {"Authorization": "Bearer " + made["data"]["token"]}

    # Kept-alive connections until each worker holds one that just used the token.
    held: Dict[int, http.client.HTTPConnection] = {}
    spare = []
    for _ in range(60):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        status, _, answer = _ask(conn, "GET", "/api/v1/extensions", bearer)
        assert status == 200 and answer["data"], answer
        w = _worker_of(conn, port, workers)
        if w in held:
            spare.append(conn)
        else:
            held[w] = conn
        if len(held) == len(workers):
            break
    assert sorted(held) == workers, "the connections did not reach both workers"
    for w, conn in held.items():  # each worker answers the token again (its in-memory copy is warm)
        assert _ask(conn, "GET", "/api/v1/test", bearer)[0] == 200
        assert _worker_of(conn, port, workers) == w

    status, _, gone = _ask(admin, "DELETE", "/api/v1/tokens/" + made["data"]["id"], AUTH)
    assert status == 200 and gone["data"]["id"] == made["data"]["id"]

    for w, conn in held.items():
        status, headers, answer = _ask(conn, "GET", "/api/v1/test", bearer)
        assert (status, answer["status"]) == (401, 401), w
        assert headers["www-authenticate"] == 'Bearer realm="PBX API", error="invalid_token"'
        assert _worker_of(conn, port, workers) == w  # the same kept-alive connection, the same worker
    for _ in range(6):  # (with the two above, under the default lock-out of 10 failures)
        fresh = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        assert _ask(fresh, "GET", "/api/v1/test", bearer)[0] == 401
        fresh.close()
    for conn in list(held.values()) + spare + [admin]:
        conn.close()
    assert made["data"]["token"].split("_", 2)[2] not in g.log()
