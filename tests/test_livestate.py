"""GET /state from the live state table: seeded once on the feed
connection, then kept current by ExtensionStatus / PresenceStateChange events,
re-seeded after a reconnect, never used while AMI is gone, and no feed thread
outlives its app."""
from __future__ import annotations

import threading
import time

from rfapi.services import livestate
from tests.support import office, world
from tests.test_read_schemas import check, document, schema_for
from tests.test_state import PROBE, SIP_EXTENSIONS, expected, stamp_time, without_live
from tests.support.world import body

FEED_THREAD = "rfapi-ami-" + livestate.FEED
WAIT = 10.0  # bound for anything asynchronous (events, reconnects); never a timing assertion


def states(pbx):
    r = pbx.get("state")
    assert r.status_code == 200, body(r)
    return {s["extension"]: s for s in body(r)["data"]}


def until(fn, what, timeout=WAIT):
    """fn() until it returns something truthy (bounded)."""
    deadline = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("still waiting for %s after %.0f s" % (what, timeout))
        time.sleep(0.02)


def feed_logins(peer):
    """Connection ids of the logins made with Events: call (the feed's)."""
    return [a.conn_id for a in peer.actions if a.name == "Login" and a.get("Events") == "call"]


def sent_on(peer, conn_id):
    return [(a.name, [(k, v) for k, v in a.headers if k not in ("Action", "ActionID")])
            for a in peer.actions if a.conn_id == conn_id and a.name != "Login"]




def feed_threads():
    return [t for t in threading.enumerate() if t.name == FEED_THREAD]


def hint_event(exten, status, text, hint=None):
    e = office.EXTENSIONS_BY_NUMBER[exten]
    return [("Exten", exten), ("Context", "from-internal"), ("Hint", hint or office.hint(e)),
            ("Status", str(status)), ("StatusText", text)]


def test_first_request_seeds_on_the_feed_connection_then_no_action_at_all(pbx):
    t0 = time.time()
    data = states(pbx)
    assert list(data) == [e["number"] for e in SIP_EXTENSIONS]
    assert without_live(list(data.values()), True, since=t0) == [expected(e) for e in SIP_EXTENSIONS]
    # The only connection is the feed's: Login with Events: call, then the two lists on it.
    logins = [a for a in pbx.peer.actions if a.name == "Login"]
    assert [(a.get("Username"), a.get("Events")) for a in logins] == [(world.AMI_USER, "call")]
    conn = logins[0].conn_id
    assert sent_on(pbx.peer, conn) == PROBE + [("ExtensionStateList", []), ("PresenceStateList", [])]
    assert all(a.conn_id == conn for a in pbx.peer.actions)
    # Every row was refreshed by that seed.
    assert len({s["refreshed_at"] for s in data.values()}) == 1
    pbx.peer.clear_actions()
    for _ in range(5):
        again = states(pbx)
        assert again == data
    assert pbx.peer.actions == []
    assert len(feed_threads()) == 1


def test_answer_matches_the_declared_schema_live_and_on_demand(pbx):
    doc = document(pbx)
    for path, live in (("state", True), ("state/103", False)):
        r = pbx.get(path)
        assert r.status_code == 200
        value = body(r)
        check(schema_for(doc, path if path == "state" else "state/{ext}"), value)
        rows = value["data"] if isinstance(value["data"], list) else [value["data"]]
        assert {row["live"] for row in rows} == {live}
    props = schema_for(doc, "state")["properties"]["data"]["items"]
    assert {"refreshed_at", "live"} <= set(props["required"])


def test_extension_status_event_shows_up_without_any_action(pbx):
    before = states(pbx)
    pbx.peer.clear_actions()
    with pbx.peer.lock:
        pbx.peer.hints["101"]["status"] = 1
    pbx.peer.emit_event("ExtensionStatus", hint_event("101", 1, "InUse"))
    now = until(lambda: (lambda d: d if d["101"]["state"] == "inuse" else None)(states(pbx)), "101 in use")
    assert (now["101"]["status"], now["101"]["status_text"], now["101"]["live"]) == (1, "InUse", True)
    assert stamp_time(now["101"]["refreshed_at"]) >= stamp_time(before["101"]["refreshed_at"])
    # Nothing else moved.
    for ext, row in before.items():
        if ext != "101":
            assert now[ext] == row
    assert pbx.peer.actions == []


def test_registration_events_drive_the_state(pbx):
    """The peer's own REGISTER/un-REGISTER cycle (events-registration.txt): DeviceStateChange
    then ExtensionStatus; the table follows the ExtensionStatus."""
    with pbx.peer.lock:  # let the peer derive 101's state from its device states
        del pbx.peer.hints["101"]["status"]
        pbx.peer.device_states["Custom:DND101"] = "UNAVAILABLE"
    assert states(pbx)["101"]["state"] == "idle"
    pbx.peer.clear_actions()
    pbx.peer.pjsip_unregister("101")
    gone = until(lambda: (lambda d: d if d["101"]["state"] == "unavailable" else None)(states(pbx)),
                 "101 unavailable")
    assert (gone["101"]["status"], gone["101"]["status_text"]) == (4, "Unavailable")
    pbx.peer.pjsip_register("101")
    until(lambda: states(pbx)["101"]["state"] == "idle", "101 idle again")
    assert pbx.peer.actions == []


def test_presence_event_shows_up_without_any_action(pbx):
    assert states(pbx)["103"]["presence"] == {"state": "away", "subtype": "lunch", "message": "Back at two"}
    pbx.peer.clear_actions()
    with pbx.peer.lock:
        pbx.peer.presence["CustomPresence:103"] = {"state": "dnd", "subtype": "", "message": "In a meeting"}
    pbx.peer.emit_event("PresenceStateChange", [("Presentity", "CustomPresence:103"), ("Status", "dnd"),
                                                ("Subtype", ""), ("Message", "In a meeting")])
    now = until(lambda: (lambda d: d if d["103"]["presence"]["state"] == "dnd" else None)(states(pbx)),
                "103 dnd")
    assert now["103"]["presence"] == {"state": "dnd", "subtype": "", "message": "In a meeting"}
    assert now["103"]["state"] == expected(office.EXTENSIONS_BY_NUMBER["103"])["state"]
    assert pbx.peer.actions == []


def test_reload_refresh_brings_changed_hints(pbx):
    """A dialplan reload re-announces every hint (reload-action.txt): a hint changed behind
    the feed's back is picked up from those events."""
    states(pbx)
    with pbx.peer.lock:
        pbx.peer.hints["105"]["hint"] = "PJSIP/105"
        pbx.peer.hints["105"]["status"] = 2
    pbx.peer.clear_actions()
    pbx.peer._do_reload(None)
    now = until(lambda: (lambda d: d if d["105"]["hint"] == "PJSIP/105" else None)(states(pbx)), "new hint")
    assert (now["105"]["state"], now["105"]["presence"], now["105"]["live"]) == ("busy", None, True)
    assert pbx.peer.actions == []


def test_events_crossing_the_seed_keep_wire_order(pbx):
    """An event that arrives before the list answer is older than the list (the list wins);
    one that arrives after it is newer (it wins, even though the seed is applied later)."""
    pbx.peer.response_delay = 0.3
    result = {}
    t = threading.Thread(target=lambda: result.update(r=pbx.get("state")))
    t.start()
    try:
        pbx.peer.wait_for_action("ExtensionStateList", timeout=WAIT)
        # Still before the list answer: a stale 102 "busy" the list will correct.
        pbx.peer.emit_event("ExtensionStatus", hint_event("102", 2, "Busy"))
        pbx.peer.wait_for_action("PresenceStateList", timeout=WAIT)
        # After ExtensionStateList completed, before the seed is applied: 101 goes in use.
        with pbx.peer.lock:
            pbx.peer.hints["101"]["status"] = 1
        pbx.peer.emit_event("ExtensionStatus", hint_event("101", 1, "InUse"))
    finally:
        t.join(WAIT)
        pbx.peer.response_delay = 0.0
    r = result["r"]
    assert r.status_code == 200, body(r)
    data = {s["extension"]: s for s in body(r)["data"]}
    assert data["102"]["state"] == expected(office.EXTENSIONS_BY_NUMBER["102"])["state"] != "busy"
    assert (data["101"]["state"], data["101"]["live"]) == ("inuse", True)
    assert states(pbx)["101"]["state"] == "inuse"


def test_concurrent_first_requests_seed_once(pbx):
    barrier = threading.Barrier(6, timeout=WAIT)
    answers = []

    def one():
        barrier.wait()
        r = pbx.get("state")
        answers.append((r.status_code, {row["live"] for row in body(r)["data"]}))

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT * 2)
    assert answers == [(200, {True})] * 6
    assert [a.name for a in pbx.peer.actions] == ["Login", "Setvar", "Setvar", "ExtensionStateList", "PresenceStateList"]
    assert len(feed_threads()) == 1


def test_peer_restart_reconnects_and_reseeds(pbx):
    first = states(pbx)
    assert first["104"]["state"] == "inuse"
    old_conn = feed_logins(pbx.peer)[0]
    # A change Asterisk never announced (it happens while the feed is down): only a re-seed sees it.
    with pbx.peer.lock:
        pbx.peer.hints["104"]["status"] = 8
    pbx.peer.restart()
    codes = []

    def ringing():
        r = pbx.get("state")
        codes.append(r.status_code)
        if r.status_code != 200:
            return None
        row = {s["extension"]: s for s in body(r)["data"]}["104"]
        return row if row["live"] and row["state"] == "ringing" else None

    row = until(ringing, "a re-seeded table")
    assert (row["status"], row["status_text"]) == (8, "Ringing")
    assert set(codes) <= {200, 503}
    logins = feed_logins(pbx.peer)
    assert len(logins) >= 2 and logins[-1] != old_conn
    assert sent_on(pbx.peer, logins[-1]) == PROBE + [("ExtensionStateList", []), ("PresenceStateList", [])]
    pbx.peer.clear_actions()
    assert states(pbx)["104"]["state"] == "ringing"
    assert pbx.peer.actions == []
    assert len(feed_threads()) == 1


def test_ami_loss_is_503_never_the_stale_table(pbx):
    assert states(pbx)["101"]["live"] is True
    pbx.peer.stop()
    codes = []

    def unavailable():
        r = pbx.get("state")
        codes.append(r.status_code)
        return r if r.status_code == 503 else None

    r = until(unavailable, "503")
    assert body(r)["message"] == "Service Unavailable: Asterisk (AMI) is unreachable"
    assert set(codes) <= {200, 503}
    for _ in range(3):
        r = pbx.get("state")
        assert r.status_code == 503
        assert body(r)["message"] == "Service Unavailable: Asterisk (AMI) is unreachable"
    assert pbx.get("test").status_code == 200
    assert pbx.get("voicemail/101").status_code == 200


def test_refused_login_is_503(pbx):
    pbx.peer.refuse_login = True
    r = pbx.get("state")
    assert r.status_code == 503
    assert body(r)["message"] == "Service Unavailable: Asterisk (AMI) is unreachable"
    pbx.peer.refuse_login = False
    # The feed retries with backoff; a request pokes it (at most once a second).
    row = until(lambda: (lambda r: r.status_code == 200 and body(r)["data"][0]["live"] and body(r))(
        pbx.get("state")), "the feed back")
    assert without_live(row["data"], True) == [expected(e) for e in SIP_EXTENSIONS]


def test_no_feed_before_first_state_request(pbx):
    assert pbx.get("test").status_code == 200
    assert pbx.get("state/101").status_code == 200
    assert body(pbx.get("state/101"))["data"]["live"] is False
    assert [a.get("Events") for a in pbx.peer.actions if a.name == "Login"] == ["off"]
    assert feed_threads() == []


def test_silent_feed_is_pinged_and_stays_live(pbx):
    with pbx.app.app_context():
        feed = livestate.table().feed
    feed.PING_AFTER = 0.2
    states(pbx)
    conn = feed_logins(pbx.peer)[0]
    ping = pbx.peer.wait_for_action("Ping", timeout=WAIT)
    assert ping.conn_id == conn
    pbx.peer.clear_actions()
    feed.PING_AFTER = 3600.0
    feed.reseed()  # wake the feed thread so it takes the new interval (and re-lists once)
    pbx.peer.wait_for_action("PresenceStateList", timeout=WAIT)
    assert [a.name for a in pbx.peer.actions] == ["ExtensionStateList", "PresenceStateList"]
    assert all(a.conn_id == conn for a in pbx.peer.actions)
    pbx.peer.clear_actions()
    assert {s["live"] for s in states(pbx).values()} == {True}
    assert pbx.peer.actions == []


def test_idle_feed_disconnects_and_comes_back(pbx):
    with pbx.app.app_context():
        feed = livestate.table().feed
    feed.IDLE_AFTER = 0.3
    states(pbx)
    until(lambda: pbx.peer.connection_count == 0 and not feed_threads(), "the idle feed to disconnect")
    pbx.peer.clear_actions()
    feed.IDLE_AFTER = 600.0
    data = states(pbx)
    assert {s["live"] for s in data.values()} == {True}
    assert [a.name for a in pbx.peer.actions] == ["Login", "Setvar", "Setvar", "ExtensionStateList", "PresenceStateList"]


def test_no_thread_left_after_closing_several_apps(pbx, office_db, tmp_path):
    baseline = set(threading.enumerate())
    second = world.build(tmp_path / "second", office_db)
    try:
        baseline |= set(threading.enumerate())  # the second peer's listener
        assert states(pbx)["101"]["live"] is True
        assert states(second)["101"]["live"] is True
        assert len(feed_threads()) == 2
        assert len(threading.enumerate()) > len(baseline)
        for p in (pbx, second):
            p.app.extensions["rfapi"].close()  # what Pbx.close() (fixture teardown) does
        assert feed_threads() == []
        until(lambda: set(threading.enumerate()) <= baseline, "every rfapi thread to end")
        until(lambda: pbx.peer.connection_count == 0 and second.peer.connection_count == 0,
              "the feed connections to close")
    finally:
        second.close()


def test_user_without_call_events_is_never_live(pbx):
    """A real Asterisk seeds the table for a user without the "call" read class
    (ExtensionStateList is reporting class) but never sends it an ExtensionStatus:
    such a table would be stale forever, so /state asks Asterisk instead."""
    with pbx.peer.lock:
        pbx.peer.users[world.AMI_USER] = {"secret": world.AMI_SECRET, "read": "system,reporting,command",
                                          "write": "system,reporting,command"}
    data = states(pbx)
    assert {s["live"] for s in data.values()} == {False}
    assert data["103"]["state"] != "ringing"
    with pbx.peer.lock:
        pbx.peer.hints["103"]["status"] = 8
    until(lambda: states(pbx)["103"]["state"] == "ringing", "the on-demand answer follows Asterisk")
    assert {s["live"] for s in states(pbx).values()} == {False}
