"""GET /events: Server-Sent Events from the AMI peer's events (as the
captured transcripts of a real Asterisk show them) and from rfapi's own writes, with
filters, ids and Last-Event-ID replay, resync, heartbeats, slow clients dropped, one
AMI event connection per process whatever the number of subscribers."""
from __future__ import annotations

import threading
import time

import pytest

from rfapi.services import events as svc
from rfapi.services import livestate
from tests.support import office, world
from tests.support.sse import Server, Stream
from tests.support.world import body
from tests.test_auth import _ampuser

AUTH = (world.API_USER, world.API_PASSWORD)


@pytest.fixture
def served(pbx_rw):
    """The read-write world's app on a real socket (streams need one)."""
    pbx_rw.ini.write_text(pbx_rw.ini.read_text().replace("[api]\n", "[api]\nevents_heartbeat = 0.3\n", 1))
    srv = Server(pbx_rw.app)
    streams = []

    def open_stream(query="", headers=None, auth=AUTH):
        s = Stream(srv.addr, "/api/v1/events" + query, auth=auth, headers=headers)
        streams.append(s)
        return s

    try:
        yield pbx_rw, open_stream
    finally:
        for s in streams:
            s.close()
        srv.close()


def first_frame(s: Stream):
    f = s.next()
    assert f is not None and f.get("retry") == "3000", f
    assert f.comments and f.comments[0].startswith("rfapi events "), f
    return f


def ready(pbx, s: Stream):
    """The stream's first frame is there and the shared feed is live (subscribed before any event)."""
    first_frame(s)
    h = svc.hub_of(pbx.app)
    deadline = time.monotonic() + 10
    while not (h.feed.ready() and h.feed.applied_mask == svc.AMI_MASK):
        assert time.monotonic() < deadline, "feed not ready"
        time.sleep(0.02)
    return h


def test_answer_is_an_event_stream_with_ids_types_and_json(served):
    pbx, open_stream = served
    s = open_stream()
    assert s.status == 200
    assert s.headers["content-type"].startswith("text/event-stream")
    assert s.headers["cache-control"] == "no-cache"
    assert s.headers["x-accel-buffering"] == "no"
    h = ready(pbx, s)
    pbx.peer.pjsip_register("101")
    frames = s.events(3)
    # events-registration.txt: ContactStatus NonQualified, PeerStatus (PJSIP: not repeated),
    # ContactStatus Reachable, DeviceStateChange (not published), ExtensionStatus.
    assert [(f.event, f.data.get("status")) for f in frames] == [
        ("registrations", "NonQualified"), ("registrations", "Reachable"), ("state", 0)]
    reg = frames[1].data
    assert {k: reg[k] for k in ("type", "extension", "tech", "aor", "uri", "status", "registered",
                                "roundtrip_usec")} == {
        "type": "registrations", "extension": "101", "tech": "pjsip", "aor": "101",
        "uri": "sip:101@127.0.0.1:5062", "status": "Reachable", "registered": True, "roundtrip_usec": 1134}
    st = frames[2].data
    assert (frames[2].event, st["extension"], st["state"], st["status"]) == ("state", "101", "idle", 0)
    assert st["hint"] == office.hint(office.EXTENSIONS_BY_NUMBER["101"])
    ids = [f.id for f in frames]
    nums = [int(i.rsplit("-", 1)[1]) for i in ids]
    assert all(i.startswith(h.origin + "-") for i in ids) and nums == sorted(nums) and len(set(nums)) == 3
    assert st["time"].endswith("Z") and "T" in st["time"]


def test_presence_and_chan_sip_registration(served):
    pbx, open_stream = served
    s = open_stream()
    ready(pbx, s)
    pbx.peer.emit_event("PresenceStateChange", [("Presentity", "CustomPresence:103"), ("Status", "dnd"),
                                                ("Subtype", ""), ("Message", "In a meeting")])
    pbx.peer.emit_event("PeerStatus", [("ChannelType", "SIP"), ("Peer", "SIP/201"),
                                       ("PeerStatus", "Registered"), ("Address", "127.0.0.1:5070")],
                        "system,all")
    p, r = s.events(2)
    assert (p.event, p.data["extension"], p.data["state"], p.data["message"]) == \
        ("presence", "103", "dnd", "In a meeting")
    assert (r.event, r.data["extension"], r.data["tech"], r.data["status"], r.data["registered"],
            r.data["address"]) == ("registrations", "201", "sip", "Registered", True, "127.0.0.1:5070")


def test_click_to_call_first_leg_rings_the_phone_and_is_not_the_answer(served):
    """originate-async-success.txt as the peer plays it: the originate's first leg
    (DialBegin/DialEnd with only Dest* headers) rings 101; 101 picking up is not the
    call being answered (the peer dials nothing further), so it ends unanswered."""
    pbx, open_stream = served
    pbx.peer.call_duration = 0.3
    pbx.peer.originate_outcomes["PJSIP/101"] = "answer"
    s = open_stream("?types=calls")
    ready(pbx, s)
    r = pbx.post("call", data={"ext": "101", "secret": office.EXTENSIONS_BY_NUMBER["101"]["secret"],
                               "dest": "2125550147"})
    assert r.status_code == 200, body(r)
    calls = [f.data for f in s.events(3, event="calls")]
    assert [c["call"] for c in calls] == ["start", "ring", "end"]
    link = calls[0]["linkedid"]
    assert link and all(c["linkedid"] == link for c in calls)
    assert calls[0]["channel"].startswith("PJSIP/101-")
    assert calls[1]["ringing"] == "101" and calls[1]["dest_channel"].startswith("PJSIP/101-")
    assert (calls[2]["answered"], calls[2]["cause"], calls[2]["cause_txt"]) == (False, 16, "Normal Clearing")


def test_internal_call_from_the_real_asterisk_capture(served):
    """events-call-internal.txt (Asterisk 20, SIPp phones): originate to 101, 101 dials 102."""
    pbx, open_stream = served
    s = open_stream("?types=calls")
    only102 = open_stream("?types=calls,state&extension=102")
    ready(pbx, s)
    first_frame(only102)
    link, = pbx.peer.replay_events("events-call-internal")
    calls = [f.data for f in s.events(5, event="calls")]
    assert [(c["call"], c.get("ringing"), c.get("answered_by")) for c in calls] == [
        ("start", None, None), ("ring", "101", None), ("ring", "102", None), ("answer", None, "102"),
        ("end", None, None)]
    assert all(c["linkedid"] == link for c in calls)
    start, end = calls[0], calls[-1]
    assert (start["caller"], start["caller_name"], start["callee"], start["direction"]) == \
        ("101", "Ext 101", None, None)
    assert (end["caller"], end["callee"], end["direction"], end["did"]) == ("101", "102", "internal", None)
    assert (end["answered"], end["cause"], end["cause_txt"]) == (True, 16, "Normal Clearing")
    # 102's subscriber: the call from the ring on (102 joined there) and 102's state changes.
    seen = only102.events(6)
    assert [f.data["call"] for f in seen if f.event == "calls"] == ["ring", "answer", "end"]
    assert {f.data["extension"] for f in seen if f.event == "state"} == {"102"}


def test_inbound_call_on_a_did_from_the_real_asterisk_capture(served):
    """events-call-inbound.txt: a call into from-trunk on DID 2125550100, dialled to 102."""
    pbx, open_stream = served
    s = open_stream("?types=calls")
    ready(pbx, s)
    link, = pbx.peer.replay_events("events-call-inbound")
    calls = [f.data for f in s.events(4, event="calls")]
    assert [(c["call"], c.get("ringing"), c.get("answered_by")) for c in calls] == [
        ("start", None, None), ("ring", "102", None), ("answer", None, "102"), ("end", None, None)]
    assert all(c["linkedid"] == link and c["direction"] == "inbound" and c["did"] == "2125550100"
               for c in calls)
    assert calls[-1]["callee"] == "102" and calls[-1]["answered"] is True and calls[-1]["cause"] == 16


def test_voicemail_counts_from_message_waiting(served):
    pbx, open_stream = served
    s = open_stream("?types=voicemail&extension=101")
    ready(pbx, s)
    # The fields of voicemail-remove.txt's MessageWaiting, for two boxes: only 101 passes the filter.
    pbx.peer.emit_event("MessageWaiting", [("Mailbox", "102@default"), ("Waiting", "0"), ("New", "0"),
                                           ("Old", "2")])
    pbx.peer.emit_event("MessageWaiting", [("Mailbox", "101@default"), ("Waiting", "1"), ("New", "1"),
                                           ("Old", "1")])
    v = s.events(1)[0]
    assert v.event == "voicemail"
    assert {k: v.data[k] for k in ("extension", "mailbox", "context", "waiting", "new", "old")} == {
        "extension": "101", "mailbox": "101@default", "context": "default", "waiting": True, "new": 1, "old": 1}


def test_own_writes_reach_the_stream(served):
    pbx, open_stream = served
    s = open_stream("?types=config")
    first_frame(s)
    r = pbx.post("did/add", data={"did": "5551230001", "destination": "from-did-direct,101,1"})
    assert r.status_code in (200, 201), body(r)
    r = pbx.delete("did/5551230001")
    assert r.status_code == 200, body(r)
    r = pbx.post("pbx/framework/needreload")
    assert r.status_code == 200, body(r)
    r = pbx.get("pbx/framework/reload")
    assert r.status_code == 200, body(r)
    r = pbx.post("ampusers/add", data={"username": "evadmin", "password": "S3cret-pass-word", "sections": "*"})
    assert r.status_code in (200, 201), body(r)
    r = pbx.put("ampusers/evadmin", data={"password": "S3cret-pass-word2", "sections": "*"})
    assert r.status_code == 200, body(r)
    r = pbx.delete("ampusers/evadmin")
    assert r.status_code == 200, body(r)
    pbx.fwconsole_control(mode="fail")
    r = pbx.get("pbx/framework/reload")
    assert r.status_code == 500, body(r)

    def key(d):
        return d.get("did", d.get("username", d.get("needreload", d.get("exit_code", d.get("error")))))

    got = [(f.data["what"], f.data["action"], key(f.data)) for f in s.events(11, event="config")]
    assert got == [("did", "created", "5551230001"), ("needreload", "changed", True),
                   ("did", "deleted", "5551230001"), ("needreload", "changed", True),
                   ("needreload", "changed", True),
                   ("reload", "done", 0), ("needreload", "changed", False),
                   ("admin", "created", "evadmin"), ("admin", "updated", "evadmin"), ("admin", "deleted", "evadmin"),
                   ("reload", "failed", "ApiError")]


def test_writes_in_one_process_reach_subscribers_of_another(served, pbx_rw):
    """Two apps on the same cache directory are two gunicorn workers as far as rfapi
    is concerned (each its own hub, own buffer, own feed)."""
    pbx, open_stream = served
    from rfapi import create_app

    other = create_app(str(pbx.ini))
    try:
        s = open_stream("?types=config&extension=4321")
        first_frame(s)
        r = other.test_client().post("/api/v1/extension/add", headers=pbx.auth,
                                     data={"extension": "4321", "displayname": "Event Test", "exttype": "pjsip"})
        assert r.status_code == 201, body(r)
        f = s.events(1, event="config")[0]
        assert (f.data["what"], f.data["action"], f.data["extension"]) == ("extension", "created", "4321")
        r = other.test_client().delete("/api/v1/extension/4321", headers=pbx.auth)
        assert r.status_code == 200, body(r)
        f = s.events(1, event="config")[0]  # (the need-reload events concern no extension: filtered out)
        assert (f.data["what"], f.data["action"], f.data["extension"]) == ("extension", "deleted", "4321")
        assert svc.hub_of(other) is None  # the writer never had a hub: the journal carried it
    finally:
        other.extensions["rfapi"].close()


def test_filters_by_type_and_extension(served):
    pbx, open_stream = served
    only102 = open_stream("?extension=102")
    states = open_stream("?types=state,presence")
    everything = open_stream()
    ready(pbx, everything)
    first_frame(only102)
    first_frame(states)
    pbx.peer.pjsip_register("101")
    pbx.peer.pjsip_register("102")
    want102 = only102.events(3)
    assert {f.data["extension"] for f in want102} == {"102"}
    assert [f.event for f in states.events(2)] == ["state", "state"]
    assert {f.event for f in everything.events(6)} == {"registrations", "state"}


@pytest.mark.parametrize("query,field,why", [
    ("?types=state,bogus", "types", "unknown type 'bogus'"),
    ("?extension=10a", "extension", "'10a' is not an extension number"),
    ("?extension=101,,102", "extension", "'' is not an extension number"),
    ("?since=1", "since", "unknown parameter"),
])
def test_bad_filters_are_400_naming_the_field(pbx, query, field, why):
    r = pbx.get("events" + query)
    assert r.status_code == 400
    errors = body(r)["data"]["errors"]
    assert list(errors) == [field] and errors[field].startswith(why), errors


def test_auth_like_every_route(served):
    pbx, open_stream = served
    s = open_stream(auth=None)
    assert s.status == 401 and b'"status":401' in s.body
    limited = _ampuser(False)
    s = open_stream(auth=(limited["username"], limited["password"]))
    assert s.status == 403 and b"ALL SECTIONS" in s.body
    full = _ampuser(True)
    s = open_stream(auth=(full["username"], full["password"]))
    assert s.status == 200


def test_last_event_id_replays_what_was_missed(served):
    pbx, open_stream = served
    s = open_stream()
    ready(pbx, s)
    pbx.peer.pjsip_register("101")
    seen = s.events(3)
    s.close()
    pbx.peer.pjsip_unregister("101")
    pbx.peer.pjsip_register("102")
    h = svc.hub_of(pbx.app)
    deadline = time.monotonic() + 10
    while h.head() < int(seen[-1].id.rsplit("-", 1)[1]) + 4:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    again = open_stream(headers={"Last-Event-ID": seen[0].id})
    first_frame(again)
    replay = again.events(2)
    assert [f.id for f in replay] == [f.id for f in seen[1:3]]
    later = again.events(4)
    assert [f.data["status"] for f in later if f.event == "registrations"][:2] == ["Removed", "NonQualified"]


@pytest.mark.parametrize("last_id", ["deadbeef-3", "not an id", "%s-999999"])
def test_unknown_or_future_last_event_id_gets_resync(served, last_id):
    pbx, open_stream = served
    if "%s" in last_id:
        s0 = open_stream()
        h = ready(pbx, s0)
        last_id = last_id % h.origin
    s = open_stream(headers={"Last-Event-ID": last_id})
    f = s.next()
    assert f.get("retry") == "3000"
    r = s.events(1)[0]
    assert r.event == "resync" and "re-read /state" in r.data["reason"]


def test_gap_older_than_the_buffer_gets_resync(pbx):
    with pbx.app.app_context():
        h = svc.hub()
    h.BUFFER = 5
    for i in range(8):
        h.publish("state", {"extension": "101", "n": i}, ["101"])
    assert h.start("%s-1" % h.origin) == (8, True)   # events 2 and 3 are gone
    assert h.start("%s-3" % h.origin) == (3, False)  # 4..8 are all there
    assert h.start("%s-8" % h.origin) == (8, False)


def test_events_older_than_max_age_are_not_replayed(pbx):
    with pbx.app.app_context():
        h = svc.hub()
    h.publish("state", {"extension": "101"}, ["101"])
    h.MAX_AGE = 0.2
    time.sleep(0.3)
    h.publish("state", {"extension": "102"}, ["102"])  # publishing expires the old ones
    assert h.start("%s-0" % h.origin) == (2, True)
    assert h.start("%s-1" % h.origin) == (1, False)


def test_heartbeat_comment_when_idle(served):
    pbx, open_stream = served
    s = open_stream("?types=voicemail")
    first_frame(s)
    f = s.next(5)
    assert f.comments == ["heartbeat"] and f.event is None
    g = s.next(5)
    assert g.comments == ["heartbeat"] and 0.2 < g.at - f.at < 3


def test_slow_subscriber_is_dropped_with_a_final_event_and_never_blocks_publishing(pbx):
    with pbx.app.app_context():
        h = svc.hub()
    h.MAX_BEHIND = 50
    h.open()
    closed = []
    gen = svc.stream(h, frozenset(svc.TYPES), None, None, 15.0, 0.0, lambda: (closed.append(1), h.leave()))
    assert next(gen).startswith(b"retry: 3000\n")
    t0 = time.monotonic()
    for i in range(500):  # nobody reads: publishing still costs the same
        h.publish("state", {"extension": "101", "n": i}, ["101"])
    assert time.monotonic() - t0 < 5
    final = next(gen)
    assert final.startswith(b"id: %s-500\nevent: dropped\n" % h.origin.encode())
    assert b"fell 50 events behind" in final
    with pytest.raises(StopIteration):
        next(gen)
    assert closed == [1] and h.subscribers == 0


def test_one_ami_event_connection_whatever_the_number_of_subscribers(served):
    pbx, open_stream = served
    before = set(c for c in _event_logins(pbx.peer))
    streams = [open_stream("?types=state") for _ in range(8)]
    ready(pbx, streams[0])
    for s in streams[1:]:
        first_frame(s)
    assert pbx.get("state").status_code == 200
    logins = [c for c in _event_logins(pbx.peer) if c not in before]
    assert len(logins) == 1, logins
    pbx.peer.pjsip_register("103")
    for s in streams:
        assert s.events(1, event="state")[0].data["extension"] == "103"
    # /state shares the same connection, seeded there: still one.
    assert [c for c in _event_logins(pbx.peer) if c not in before] == logins


def _event_logins(peer):
    return [a.conn_id for a in peer.actions if a.name == "Login" and (a.get("Events") or "off") != "off"]


def test_state_table_stays_live_when_streams_widen_the_mask(served):
    """/state first (feed logged in with Events: call), then a stream: the mask grows with
    the Events action on the same connection; the table stays seeded and live."""
    pbx, open_stream = served
    r = pbx.get("state")
    assert r.status_code == 200 and body(r)["data"][0]["live"] is True
    logins = _event_logins(pbx.peer)
    s = open_stream("?types=registrations")
    ready(pbx, s)
    ev = [a for a in pbx.peer.actions if a.name == "Events"]
    assert [(a.conn_id, a.get("EventMask")) for a in ev] == [(logins[0], "call,system")]
    assert _event_logins(pbx.peer) == logins
    pbx.peer.pjsip_register("104")
    assert s.events(1)[0].data["extension"] == "104"
    assert body(pbx.get("state"))["data"][0]["live"] is True
    # A lost connection: the stream is told (resync), the new login asks for both classes at once.
    pbx.peer.drop_connections()
    f = s.until(lambda f: f.event == "resync", timeout=15)
    assert "AMI connection was re-established" in f.data["reason"]
    assert [a.get("Events") for a in pbx.peer.actions if a.name == "Login"][-1] == "call,system"
    pbx.peer.pjsip_register("105")
    assert s.until(lambda f: f.event == "registrations").data["extension"] == "105"


def test_head_answers_the_headers_without_holding_a_stream(served):
    pbx, open_stream = served
    r = pbx.call("HEAD", "events")
    assert r.status_code == 200 and r.data == b""
    assert r.headers["Content-Type"].startswith("text/event-stream")
    h = svc.hub_of(pbx.app)
    assert h is None or h.subscribers == 0


def test_a_lost_ami_connection_is_announced_with_resync(served):
    pbx, open_stream = served
    s = open_stream("?types=calls")
    ready(pbx, s)
    pbx.peer.drop_connections()
    f = s.until(lambda f: f.event == "resync", timeout=15)
    assert "AMI connection was re-established" in f.data["reason"]


def test_too_many_streams_is_503_with_retry_after_and_a_closed_stream_frees_its_slot_at_once(served, monkeypatch):
    pbx, open_stream = served
    monkeypatch.delenv("RFAPI_EVENT_CAPACITY", raising=False)
    monkeypatch.setenv("RFAPI_EVENT_STREAMS", "2")
    # No heartbeat for a minute: only the socket watch can notice the closed stream.
    pbx.app.extensions["rfapi"].config.events_heartbeat = 60
    a, b = open_stream(), open_stream()
    first_frame(a)
    first_frame(b)
    c = open_stream()
    assert c.status == 503 and b"Too many event streams on this PBX (2)" in c.body
    assert c.headers["retry-after"] == "2"
    a.close()
    deadline = time.monotonic() + 10  # far below the heartbeat
    while svc.hub_of(pbx.app).subscribers > 1:
        assert time.monotonic() < deadline, "closed stream not noticed"
        time.sleep(0.05)
    d = open_stream()
    assert d.status == 200
    first_frame(d)


def test_peer_replays_a_real_capture_byte_for_byte_but_the_ids(pbx):
    """What the peer sends for events-call-internal.txt is what Asterisk sent, except
    the renumbered Uniqueid/Linkedid values (consistently: one old id, one new id)."""
    import re
    import socket

    from tests.support.amipeer import parse_transcript

    path = world.HERE.parent / "data" / "ami" / "events-call-internal.txt"
    want = [p for d, p in parse_transcript(path)
            if d == "<<<" and p.startswith(b"Event: ") and b"\r\nActionID: " not in p
            and not p.startswith(b"Event: FullyBooted")]
    assert len(want) > 60 and any(p.startswith(b"Event: BridgeEnter") for p in want)
    s = socket.create_connection((pbx.peer.host, pbx.peer.port), timeout=10)
    try:
        s.sendall(b"Action: Login\r\nUsername: %s\r\nSecret: %s\r\nEvents: on\r\nActionID: l1\r\n\r\n"
                  % (world.AMI_USER.encode(), world.AMI_SECRET.encode()))
        data = b""
        while b"Event: FullyBooted" not in data or not data.endswith(b"\r\n\r\n"):
            data += s.recv(65536)
        links = pbx.peer.replay_events("events-call-internal")
        got = b""
        total = sum(len(p) for p in want)
        while len(got) < total:
            chunk = s.recv(262144)
            assert chunk
            got += chunk
    finally:
        s.close()
    ids = re.compile(rb"^(Uniqueid|Linkedid|DestUniqueid|DestLinkedid): ([0-9]+\.[0-9]+)\r$", re.M)
    assert ids.sub(rb"\1: X\r", got) == ids.sub(rb"\1: X\r", b"".join(want))
    mapping = {}
    for (k1, old), (k2, new) in zip(ids.findall(b"".join(want)), ids.findall(got)):
        assert k1 == k2 and mapping.setdefault(old, new) == new
    assert len(set(mapping.values())) == len(mapping) and links == [mapping[b"1796418116.0"].decode()]


def test_one_event_per_change_a_reload_that_re_announces_everything_is_quiet(served):
    """reload-action.txt: Asterisk re-announces every hint and mailbox on a reload. The
    first time they are news; the same values again are not events."""
    pbx, open_stream = served
    s = open_stream("?types=state,voicemail")
    ready(pbx, s)
    pbx.peer.replay_events("reload-action")
    first = s.events(6)
    assert sorted(f.event for f in first) == ["state"] * 4 + ["voicemail"] * 2
    pbx.peer.replay_events("reload-action")
    pbx.peer.emit_event("ExtensionStatus", [("Exten", "101"), ("Context", "ext-local"),
                                            ("Hint", "PJSIP/101"), ("Status", "1"), ("StatusText", "InUse")])
    marker = s.events(1)[0]
    assert (marker.event, marker.data["extension"], marker.data["state"]) == ("state", "101", "inuse")


def test_stream_ends_after_events_max_seconds(pbx):
    with pbx.app.app_context():
        h = svc.hub()
    h.open()
    t0 = time.monotonic()
    frames = list(svc.stream(h, frozenset(svc.TYPES), None, None, 0.1, 0.5, h.leave))
    assert 0.45 < time.monotonic() - t0 < 3
    assert frames[0].startswith(b"retry: 3000\n") and b": heartbeat\n\n" in frames[1:]
    assert h.subscribers == 0


def test_journal_is_read_across_rotations(tmp_path, monkeypatch):
    """Writers rotate the journal at JOURNAL_MAX; a reader drains the old file, then follows
    the new one: nothing lost, nothing twice (the reader looks every 50 ms, a rotation takes
    1 MiB of writes)."""
    monkeypatch.setattr(svc.journal, "JOURNAL_MAX", 300)
    j = svc.Journal(str(tmp_path))
    j.append({"what": "did", "action": "created", "did": "0"})
    reader = svc.JournalReader(j)  # opens at the end: only what comes next
    got = []
    for i in range(1, 40):
        j.append({"what": "did", "action": "created", "did": str(i)})
        if i % 3 == 0:
            got += [r["did"] for r in reader.read()]
    got += [r["did"] for r in reader.read()]
    reader.close()
    assert got == [str(i) for i in range(1, 40)]
    assert (tmp_path / "events.journal.1").stat().st_size <= 300
    assert j.counter.value == 40
