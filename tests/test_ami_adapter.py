"""The AMI adapter over pyst2, against the AMI peer on a real TCP socket."""
from __future__ import annotations

import threading
import time

import pytest

from rfapi.adapters.ami import AMI, AmiInputError, AmiTimeout, AmiUnavailable, parse_message
from tests.support.amipeer import AmiPeer


@pytest.fixture
def peer():
    p = AmiPeer(users={"admin": "amp111"})
    p.login_fail_delay = 0.05
    p.start()
    yield p
    p.stop()


def make_ami(peer, timeout=2.0, secret="amp111"):
    ami = AMI(lambda: (peer.host, peer.port, "admin", secret), timeout=timeout)
    ami.RETRY_AFTER = 0.0
    return ami


def test_login_events_off_and_ping(peer):
    ami = make_ami(peer)
    resp = ami.action("Ping")
    assert resp.get("Response") == "Success" and resp.get("Ping") == "Pong"
    login = peer.actions[0]
    assert login.name == "Login"
    assert login.headers[:4] == [("Action", "Login"), ("Username", "admin"), ("Secret", "amp111"),
                                 ("Events", "off")]
    ping = peer.actions[1]
    assert ping.name == "Ping" and ping.get("ActionID") == resp.get("ActionID")
    # One persistent login for many actions.
    for _ in range(5):
        ami.action("Ping")
    assert peer.connections_opened == 1 and ami.connects == 1
    ami.close()


def test_event_list_collected_by_action_id(peer):
    peer.astdb.update({"/AMPUSER/101/cidname": "Ext 101", "/AMPUSER/101/cidnum": "101",
                       "/AMPUSER/1010/cidname": "not me"})
    ami = make_ami(peer)
    assert ami.db_gettree("AMPUSER", "101") == {"/AMPUSER/101/cidname": "Ext 101", "/AMPUSER/101/cidnum": "101"}
    assert ami.db_get("AMPUSER", "101/cidnum") == "101"
    assert ami.db_get("AMPUSER", "101/missing") is None
    ami.db_put("CW", "101", "ENABLED")
    assert peer.astdb["/CW/101"] == "ENABLED"
    assert ami.db_del("CW", "101") is True
    assert ami.db_del("CW", "101") is False
    assert ami.db_deltree("AMPUSER", "101") is True
    assert "/AMPUSER/1010/cidname" in peer.astdb and "/AMPUSER/101/cidname" not in peer.astdb
    ami.close()


def test_threads_never_get_each_others_replies(peer):
    ami = make_ami(peer)
    for i in range(8):
        peer.astdb["/T/%d" % i] = "v%d" % i
    errors = []

    def worker(i):
        for _ in range(20):
            if ami.db_get("T", str(i)) != "v%d" % i:
                errors.append(i)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert peer.connections_opened == 1
    ami.close()


def test_reconnects_after_the_peer_restarts(peer):
    ami = make_ami(peer)
    assert ami.action("Ping").ok
    peer.restart()
    time.sleep(0.1)  # the reader sees EOF; the next action logs in on a brand-new pyst2 Manager
    assert ami.action("Ping").ok
    assert ami.connects == 2
    peer.drop_connections()
    time.sleep(0.1)
    assert ami.action("Ping").ok
    assert ami.connects == 3 and peer.connections_opened == 3


def test_connection_lost_mid_action_is_unavailable(peer):
    ami = make_ami(peer)
    assert ami.action("Ping").ok
    peer.stall = True  # the action is read but never answered...
    threading.Timer(0.2, peer.drop_connections).start()  # ...and then the socket goes away
    with pytest.raises(AmiUnavailable):
        ami.action("Ping")
    peer.stall = False
    assert ami.action("Ping").ok
    ami.close()


def test_peer_down_is_unavailable(peer):
    ami = make_ami(peer)
    peer.stop()
    with pytest.raises(AmiUnavailable):
        ami.action("Ping")


def test_refused_login_is_unavailable_without_the_secret(peer):
    ami = make_ami(peer, secret="wrong-secret")
    with pytest.raises(AmiUnavailable) as exc:
        ami.action("Ping")
    assert "wrong-secret" not in str(exc.value)
    assert peer.logins[-1][:2] == ("admin", False)


def test_stalled_asterisk_times_out_and_next_action_reconnects(peer):
    ami = make_ami(peer, timeout=0.5)
    assert ami.action("Ping").ok
    peer.stall = True
    t0 = time.monotonic()
    with pytest.raises(AmiTimeout):
        ami.action("Ping")
    assert time.monotonic() - t0 < 1.5
    peer.stall = False
    assert ami.action("Ping").ok
    assert ami.connects == 2
    ami.close()


@pytest.mark.parametrize("value", ["a\r\nAction: Originate", "a\nb", "a\rb", "nul\x00"])
def test_cr_lf_nul_refused_before_anything_is_sent(peer, value):
    ami = make_ami(peer)
    ami.action("Ping")
    before = len(peer.actions)
    with pytest.raises(AmiInputError):
        ami.db_put("AMPUSER", "101/cidname", value)
    with pytest.raises(AmiInputError):
        ami.action("DBGet", [("Family", value), ("Key", "x")])
    assert len(peer.actions) == before
    ami.close()


def test_parser_keeps_repeated_headers_and_chanvariable():
    """pyst2's own parser calls dict.has_key() on ChanVariable (dies on Python 3) and
    keeps only the last of repeated headers; the adapter's parser does neither."""
    lines = ["Event: Newchannel\r\n", "Channel: PJSIP/101-00000001\r\n", "ChanVariable: A=1\r\n",
             "ChanVariable: B=2\r\n", "Message: Presence State\r\n", "Message: Back at two\n",
             "Uniqueid: 1.1\r\n"]
    m = parse_message(lines)
    assert m.pairs == [("Event", "Newchannel"), ("Channel", "PJSIP/101-00000001"), ("ChanVariable", "A=1"),
                       ("ChanVariable", "B=2"), ("Message", "Presence State"), ("Message", "Back at two"),
                       ("Uniqueid", "1.1")]
    assert m.get("Message") == "Presence State" and m.getall("Message") == ["Presence State", "Back at two"]


def test_chanvariable_events_do_not_kill_the_connection(peer):
    """pyst2's own reader dies on the first ChanVariable header; the adapter's does not."""
    ami = make_ami(peer)
    got = []
    mgr = ami._login("on")  # an events-on connection, like the one a live-state feed uses
    mgr.register_event("*", lambda ev, m: got.append(ev))
    peer.emit_event("Newchannel", [("Channel", "PJSIP/101-00000001"), ("ChanVariable", "FROM_API=yes"),
                                   ("ChanVariable", "X=1")])
    deadline = time.monotonic() + 2
    while not [e for e in got if e.name == "Newchannel"] and time.monotonic() < deadline:
        time.sleep(0.01)
    ev = [e for e in got if e.name == "Newchannel"][0]
    assert ev.message.getall("ChanVariable") == ["FROM_API=yes", "X=1"]
    # ...and the connection still answers.
    assert mgr.send_action([("Action", "Ping")], timeout=2).get("Response") == "Success"
    mgr.shutdown()


def test_large_event_list_is_collected_completely(peer):
    """A 20,000-key DBGetTree arrives whole, in order, on the one reader thread."""
    for i in range(20000):
        peer.astdb["/BIG/%05d" % i] = "v%d" % i
    ami = make_ami(peer, timeout=30)
    tree = ami.db_gettree("BIG")
    assert len(tree) == 20000 and tree["/BIG/00000"] == "v0" and tree["/BIG/19999"] == "v19999"
    ami.close()


class TricklingAsterisk:
    """A scripted AMI server that writes every reply a few bytes at a time, so the
    reader meets messages, lines and UTF-8 characters cut at every possible place."""

    def __init__(self, replies):
        import socket
        self.replies = replies  # action name -> bytes with {aid} for the ActionID
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(1)
        self.port = self.srv.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _trickle(self, conn, data):
        import random
        import socket
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        r = random.Random(len(data))
        i = 0
        while i < len(data):
            n = r.randint(1, 7)
            conn.sendall(data[i:i + n])
            i += n
            time.sleep(0.0002)

    def _serve(self):
        conn, _ = self.srv.accept()
        # The banner and an unsolicited event in one write: the reader must keep what follows the banner.
        conn.sendall(b"Asterisk Call Manager/9.0.0\r\nEvent: FullyBooted\r\nPrivilege: system,all\r\n\r\n")
        buf = b""
        while True:
            data = conn.recv(4096)
            if not data:
                break
            buf += data
            while b"\r\n\r\n" in buf:
                action, buf = buf.split(b"\r\n\r\n", 1)
                headers = dict(line.split(b": ", 1) for line in action.split(b"\r\n"))
                reply = self.replies[headers[b"Action"].decode()]
                self._trickle(conn, reply.replace(b"{aid}", headers[b"ActionID"]))
        conn.close()

    def close(self):
        self.srv.close()


def test_reader_reassembles_messages_cut_anywhere():
    from rfapi.adapters.ami import Manager, list_complete
    agent = "Téléphone ✓ 3.1".encode("utf-8")
    contact = (b"Event: ContactList\r\nActionID: {aid}\r\nObjectName: 101;@abc\r\nRegServer: \r\n"
               b"UserAgent: " + agent + b"\r\nStatus: Reachable\r\n\r\n")
    server = TricklingAsterisk({
        # VoicemailMove's Message ends in a stray LF (AMI.md): "...\n\r\n\r\n".
        "VoicemailMove": b"Response: Success\r\nActionID: {aid}\r\nMessage: Message move successful\n\r\n\r\n",
        "PJSIPShowContacts": (b"Response: Success\r\nActionID: {aid}\r\nEventList: start\r\n"
                              b"Message: A listing of Contacts follows, presented as ContactList events\r\n\r\n"
                              + contact + contact.replace(b"101;", b"102;")
                              + b"Event: ContactListComplete\r\nActionID: {aid}\r\nEventList: Complete\r\n"
                                b"ListItems: 2\r\n\r\n"),
        "Ping": b"Response: Success\r\nActionID: {aid}\r\nPing: Pong\r\nTimestamp: 1764100000.000000\r\n\r\n",
    })
    mgr = Manager()
    try:
        banner = mgr.connect("127.0.0.1", server.port, timeout=2)
        assert banner.get("Banner") == "Asterisk Call Manager/9.0.0"
        resp = mgr.send_action([("Action", "VoicemailMove"), ("ActionID", "vm-1")], timeout=5)
        assert resp.pairs == [("Response", "Success"), ("ActionID", "vm-1"), ("Message", "Message move successful")]
        col = mgr.collect("ct-1", list_complete)
        resp = mgr.send_action([("Action", "PJSIPShowContacts"), ("ActionID", "ct-1")], timeout=5)
        assert resp.get("EventList") == "start"
        assert col.done.wait(5) and not col.lost
        assert [m.pairs for m in col.items[:2]] == [
            [("Event", "ContactList"), ("ActionID", "ct-1"), ("ObjectName", name), ("RegServer", ""),
             ("UserAgent", "Téléphone ✓ 3.1"), ("Status", "Reachable")] for name in ("101;@abc", "102;@abc")]
        assert col.items[2].get("EventList") == "Complete" and len(col.items) == 3
        # The stray blank line after VoicemailMove's reply was not taken for a message: the next
        # action gets its own reply.
        resp = mgr.send_action([("Action", "Ping"), ("ActionID", "p-1")], timeout=5)
        assert (resp.get("ActionID"), resp.get("Ping")) == ("p-1", "Pong")
    finally:
        mgr.shutdown()
        server.close()
