"""The peer's TCP server: listen, accept, one reader thread per connection,
cut messages off the stream and dispatch each to its handler after the checks
Asterisk makes first (login required, action known, write class allowed) and
the behaviour switches tests flip (stall, response delay, shutting down).
Also what tests observe: every message received, connection counts.
"""
from __future__ import annotations

import select
import socket
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any, List, Optional

from .conn import ManagerUser, PeerConn
from .constants import ACTION_CLASSES, BANNER
from .wire import Action, error, parse_headers, take_message

if TYPE_CHECKING:  # for annotations only: the peer is composed of this mixin
    from .peer import AmiPeer


class PeerServer:
    """Lifecycle, networking, dispatch and observation of ``AmiPeer`` (a mixin)."""

    _MAX_BUFFER = 1 << 20   # a client that sends 1 MiB without a blank line is garbage

    # ------------------------------------------------------------ lifecycle

    def start(self) -> "AmiPeer":
        if self._listener is not None:
            raise RuntimeError("AmiPeer already started")
        self._stopping.clear()
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # SO_REUSEADDR so restart() can bind the same port while old
        # connections sit in TIME_WAIT.
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            lsock.bind((self.host, self.port))
            lsock.listen(64)
        except OSError:
            lsock.close()
            raise
        lsock.settimeout(0.1)
        self.port = lsock.getsockname()[1]
        self._listener = lsock
        t = threading.Thread(target=self._accept_loop, args=(lsock,),
                             name="amipeer-listen-%d" % self.port, daemon=True)
        self._listen_thread = t
        t.start()
        return self

    def stop(self) -> None:
        """Close the listener and every client socket; wait for all threads."""
        self._stopping.set()
        lsock, self._listener = self._listener, None
        if lsock is not None:
            try:
                lsock.shutdown(socket.SHUT_RDWR)  # wakes the accept() at once (close alone does not)
            except OSError:
                pass
            try:
                lsock.close()
            except OSError:
                pass
        self.drop_connections()
        threads = []
        if self._listen_thread is not None:
            threads.append(self._listen_thread)
            self._listen_thread = None
        with self.lock:
            threads.extend(self._threads)
            self._threads = []
        me = threading.current_thread()
        for t in threads:
            if t is not me:
                t.join(timeout=3.0)
        with self.lock:
            self._channels.clear()

    def restart(self) -> "AmiPeer":
        """Stop, then listen again on the same port (outage tests)."""
        port = self.port
        self.stop()
        self.port = port
        deadline = time.monotonic() + 5.0
        while True:
            try:
                return self.start()
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def drop_connections(self) -> None:
        """Close every client socket without a Goodbye; keep listening."""
        with self.lock:
            conns = list(self._conns.values())
        for c in conns:
            c.shutdown()
        for c in conns:
            if c.thread is not None and c.thread is not threading.current_thread():
                c.thread.join(timeout=3.0)

    def __enter__(self) -> "AmiPeer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._listener is not None

    # ---------------------------------------------------------- observation

    @property
    def actions(self) -> List[Action]:
        """Snapshot of every message received, all connections, arrival order."""
        with self.lock:
            return list(self._actions)

    def clear_actions(self) -> None:
        with self.lock:
            self._actions.clear()

    def wait_for_action(self, name: str, timeout: float = 2.0) -> Action:
        """The first recorded action called ``name`` (case-insensitive),
        waiting up to ``timeout`` seconds for it.  Use clear_actions() first
        to wait for a new one."""
        want = name.lower()
        deadline = time.monotonic() + timeout
        with self._action_cond:
            while True:
                for a in self._actions:
                    if a.name.lower() == want:
                        return a
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("no %r action within %.1fs" % (name, timeout))
                self._action_cond.wait(remaining)

    @property
    def connection_count(self) -> int:
        """Currently open client connections."""
        with self.lock:
            return len(self._conns)

    # ------------------------------------------------------------ networking

    def _accept_loop(self, lsock: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                csock, addr = lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            if self._stopping.is_set():
                csock.close()
                break
            csock.settimeout(5.0)   # bounds sendall to a client that never reads
            with self.lock:
                self._next_conn_id += 1
                conn = PeerConn(csock, self._next_conn_id, addr)
                self._conns[conn.id] = conn
                self.connections_opened += 1
                t = threading.Thread(target=self._conn_loop, args=(conn,),
                                     name="amipeer-conn-%d" % conn.id, daemon=True)
                conn.thread = t
                self._threads.append(t)
            t.start()

    def _conn_loop(self, conn: PeerConn) -> None:
        buf = b""
        try:
            conn.send(BANNER)
            while not conn.closed.is_set() and not self._stopping.is_set():
                try:
                    ready, _, _ = select.select([conn.sock], [], [], 0.1)
                except (OSError, ValueError):
                    break
                if not ready:
                    continue
                try:
                    data = conn.sock.recv(65536)
                except socket.timeout:
                    continue
                except OSError:
                    break
                if not data:
                    break
                buf += data
                while not conn.closed.is_set():
                    msg, buf = take_message(buf)
                    if msg is None:
                        break
                    if not self._dispatch(conn, msg):
                        conn.finish()
                        break
                if len(buf) > self._MAX_BUFFER:
                    buf = b""
        except Exception:   # never let a bug take the server down; show it
            traceback.print_exc()
        finally:
            conn.closed.set()
            try:
                conn.sock.close()
            except OSError:
                pass
            with self.lock:
                self._conns.pop(conn.id, None)
                me = threading.current_thread()
                if me in self._threads:
                    self._threads.remove(me)

    # -------------------------------------------------------------- dispatch

    def _dispatch(self, conn: PeerConn, raw: bytes) -> bool:
        """Handle one message; False closes the connection."""
        text = raw.decode("utf-8", errors="replace")
        lines = [l[:-1] if l.endswith("\r") else l for l in text.split("\n")]
        headers = parse_headers([l for l in lines if l])
        action = Action("", headers, raw, conn.id, conn.user)
        action.name = (action.get("Action") or "").strip()
        with self._action_cond:
            self._actions.append(action)
            self._action_cond.notify_all()

        if self.stall:
            return True
        if self.response_delay > 0 and conn.pause(self.response_delay, self._stopping):
            return False

        aid = action.get("ActionID", "") or ""
        name = action.name
        if not name:
            conn.send(error(aid, "Missing action in request"))
            return True
        lname = name.lower()
        if self.shutting_down:
            # `core stop` on a real Asterisk 20: every action, Login and Ping included
            # (tests/data/ami/shutting-down.txt)
            conn.send(error(aid, "Asterisk is shutting down"))
            return True
        if conn.user is None and lname not in ("login", "logoff", "challenge"):
            conn.send(error(aid, "Permission denied"))
            return True
        handler = self._handlers.get(lname)
        if handler is None or (not self.chan_sip and lname in ("sippeers", "sipshowpeer")):
            conn.send(error(aid, "Invalid/unknown command: %s. Use Action: ListCommands to "
                                  "show available commands." % name))
            return True
        needed = ACTION_CLASSES.get(lname)
        if needed and conn.user is not None and not (needed & conn.write):
            conn.send(error(aid, "Permission denied"))
            return True
        try:
            return handler(conn, action, aid)
        except Exception as exc:   # a peer bug: say so on the wire, keep serving
            traceback.print_exc()
            conn.send(error(aid, "amipeer internal error: %s" % exc))
            return True

    def _lookup_user(self, name: str) -> Optional[ManagerUser]:
        with self.lock:
            spec = self.users.get(name)
        return ManagerUser(name, spec) if spec is not None else None
