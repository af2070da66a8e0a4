"""GET /registrations and /registrations/<ext>: PJSIPShowContacts for chan_pjsip,
SIPpeers/SIPshowpeer for chan_sip, Asterisk 21 without chan_sip, 404s, outages."""
from __future__ import annotations

import time

from tests.support import office
from tests.support.amipeer import transcript_seed
from tests.support.world import body

SIP_EXTENSIONS = [e for e in office.EXTENSIONS if e["tech"] in ("pjsip", "sip")]


def sent(peer):
    return [(a.name, [(k, v) for k, v in a.headers if k not in ("Action", "ActionID")])
            for a in peer.actions if a.name != "Login"]


def pjsip_contacts(e):
    """What the office's contacts must look like (the peer got them from office.ami_state())."""
    seeded = office.ami_state()["pjsip_contacts"][e["number"]]
    out = []
    for c, (ip, port, agent, rtt) in zip(seeded, e["contacts"]):
        out.append({"uri": "sip:%s@%s:%d" % (e["number"], ip, port), "ip": ip, "port": port, "via_addr": ip,
                    "via_port": port, "user_agent": agent, "status": "Reachable", "rtt_ms": rtt / 1000.0,
                    "expires_at": c["expiration_time"], "qualify_frequency": 60})
    return out


def without_expires_in(entry):
    """expires_in depends on the clock; check it separately."""
    for c in entry["contacts"]:
        left = c.pop("expires_in")
        if c["expires_at"] is not None:
            assert abs(left - (c["expires_at"] - time.time())) <= 2
    return entry


def test_all_registrations_pjsip_and_chan_sip(pbx):
    r = pbx.get("registrations")
    assert r.status_code == 200, body(r)
    data = [without_expires_in(x) for x in body(r)["data"]]
    assert [x["extension"] for x in data] == [e["number"] for e in SIP_EXTENSIONS]
    by = {x["extension"]: x for x in data}
    for e in SIP_EXTENSIONS:
        if e["tech"] != "pjsip":
            continue
        want = {"extension": e["number"], "name": e["name"], "tech": "pjsip", "registered": e["registered"],
                "status": "Reachable" if e["registered"] else "unregistered",
                "contacts": pjsip_contacts(e) if e["registered"] else []}
        assert by[e["number"]] == want, e["number"]
    assert len(by["102"]["contacts"]) == 2          # max_contacts 3: desk phone and softphone
    ata = by["201"]
    assert ata["registered"] is True and ata["status"] == "OK (9 ms)"
    assert ata["contacts"] == [{"uri": "sip:201@192.168.10.61:5060", "ip": "192.168.10.61", "port": 5060,
                                "via_addr": None, "via_port": None, "user_agent": "Grandstream HT802 1.0.43.11",
                                "status": "OK (9 ms)", "rtt_ms": 9.0, "expires_at": ata["contacts"][0]["expires_at"],
                                "qualify_frequency": None}]
    assert by["202"] == {"extension": "202", "name": "Lobby Paging", "tech": "sip", "registered": False,
                         "status": "unregistered", "contacts": []}
    # One contact list for every PJSIP phone; the chan_sip peer list, then the detail of the one
    # registered chan_sip peer (its user agent, contact and expiry are only there).
    assert sent(pbx.peer) == [("PJSIPShowContacts", []), ("SIPpeers", []), ("SIPshowpeer", [("Peer", "201")])]


def test_one_pjsip_registration(pbx):
    r = pbx.get("registrations/102")
    assert r.status_code == 200
    e = office.EXTENSIONS_BY_NUMBER["102"]
    assert without_expires_in(body(r)["data"]) == {
        "extension": "102", "name": "Bob Smith", "tech": "pjsip", "registered": True, "status": "Reachable",
        "contacts": pjsip_contacts(e)}
    # Never PJSIPShowEndpoint: its AuthDetail carries the SIP password in clear text.
    assert sent(pbx.peer) == [("PJSIPShowContacts", [])]


def test_one_unregistered_pjsip_extension(pbx):
    r = pbx.get("registrations/106")
    assert body(r)["data"] == {"extension": "106", "name": "Frank Miller", "tech": "pjsip", "registered": False,
                               "status": "unregistered", "contacts": []}


def test_one_chan_sip_registration_uses_sipshowpeer(pbx):
    data = body(pbx.get("registrations/201"))["data"]
    assert data["registered"] is True
    c = data["contacts"][0]
    assert (c["uri"], c["ip"], c["port"], c["user_agent"], c["status"], c["expires_in"]) == \
        ("sip:201@192.168.10.61:5060", "192.168.10.61", 5060, "Grandstream HT802 1.0.43.11", "OK (9 ms)", 3600)
    data = body(pbx.get("registrations/202"))["data"]
    assert (data["registered"], data["status"], data["contacts"]) == (False, "unregistered", [])
    assert sent(pbx.peer) == [("SIPshowpeer", [("Peer", "201")]), ("SIPshowpeer", [("Peer", "202")])]


def test_asterisk_21_without_chan_sip(pbx):
    """SIPpeers/SIPshowpeer answer 'Invalid/unknown command': chan_sip extensions are unknown."""
    pbx.peer.chan_sip = False
    data = {x["extension"]: x for x in body(pbx.get("registrations"))["data"]}
    unknown = {"registered": False, "status": "unknown", "contacts": [],
               "note": "chan_sip is not available in this Asterisk"}
    for ext, name in (("201", "Fax ATA"), ("202", "Lobby Paging")):
        assert data[ext] == dict(unknown, extension=ext, name=name, tech="sip")
    assert data["101"]["registered"] is True         # PJSIP unaffected
    assert sent(pbx.peer) == [("PJSIPShowContacts", []), ("SIPpeers", [])]
    r = pbx.get("registrations/201")
    assert r.status_code == 200
    assert body(r)["data"] == dict(unknown, extension="201", name="Fax ATA", tech="sip")


def test_transcript_contact_is_parsed(pbx):
    """pjsip-show-contacts.txt: 101 registered from SIPp on 127.0.0.1:5062."""
    seed = transcript_seed()
    with pbx.peer.lock:
        pbx.peer.pjsip_contacts.clear()
        for ep in pbx.peer.pjsip_endpoints.values():
            ep["contacts"] = []
        pbx.peer.pjsip_contacts.update(seed["pjsip_contacts"])
    data = body(pbx.get("registrations/101"))["data"]
    contact = data["contacts"][0]
    contact.pop("expires_in")
    assert data["registered"] is True
    assert contact == {"uri": "sip:101@127.0.0.1:5062", "ip": "127.0.0.1", "port": 5062, "via_addr": "127.0.0.1",
                       "via_port": 5062, "user_agent": "SIPp/3.6.1 capture-phone-101", "status": "Reachable",
                       "rtt_ms": 0.767, "expires_at": 1795725357, "qualify_frequency": 30}
    assert body(pbx.get("registrations/102"))["data"]["registered"] is False


def test_no_contact_anywhere(pbx):
    with pbx.peer.lock:
        pbx.peer.pjsip_contacts.clear()
        for ep in pbx.peer.pjsip_endpoints.values():
            ep["contacts"] = []
        for peer in pbx.peer.sip_peers.values():
            peer.update({"ip": "-none-", "port": 0, "status": "UNKNOWN"})
    data = body(pbx.get("registrations"))["data"]
    assert [x["registered"] for x in data] == [False] * len(SIP_EXTENSIONS)
    # No registered chan_sip peer: no SIPshowpeer.
    assert sent(pbx.peer) == [("PJSIPShowContacts", []), ("SIPpeers", [])]


def test_unknown_and_non_sip_extensions_are_404_without_ami(pbx):
    assert body(pbx.get("registrations/999"))["message"] == "Extension 999 not found"
    r = pbx.get("registrations/191")
    assert r.status_code == 404 and body(r)["message"] == "Extension 191 is not a SIP extension"
    r = pbx.get("registrations/101%0AAction:%20Ping")  # refused before any handler runs
    assert r.status_code == 400 and body(r)["data"]["errors"] == {"ext": "must not contain control characters"}
    assert pbx.peer.actions == []


def test_ami_down_is_503_while_other_routes_work(pbx):
    pbx.peer.stop()
    for path in ("registrations", "registrations/101", "registrations/201"):
        r = pbx.get(path)
        assert r.status_code == 503
        assert body(r)["message"] == "Service Unavailable: Asterisk (AMI) is unreachable"
    assert pbx.get("test").status_code == 200
    assert pbx.get("pbx/framework/needreload").status_code == 200


def test_list_follows_every_contact_change_and_matches_the_single_route(pbx):
    """The device part of each entry is kept between requests; the contacts never are."""
    first = {x["extension"]: x for x in body(pbx.get("registrations"))["data"]}
    assert first["101"]["registered"] is True and first["106"]["registered"] is False
    with pbx.peer.lock:
        moved = pbx.peer.pjsip_contacts.pop("101")
        pbx.peer.pjsip_endpoints["101"]["contacts"] = []
        pbx.peer.pjsip_contacts["106"] = [dict(moved[0], uri="sip:106@10.9.8.7:5070", via_addr="10.9.8.7",
                                               via_port=5070, status="Unreachable", roundtrip_usec=0)]
        pbx.peer.pjsip_endpoints["106"]["contacts"] = ["sip:106@10.9.8.7:5070"]
    data = body(pbx.get("registrations"))["data"]
    by = {x["extension"]: x for x in data}
    assert by["101"] == {"extension": "101", "name": first["101"]["name"], "tech": "pjsip", "registered": False,
                         "status": "unregistered", "contacts": []}
    assert (by["106"]["registered"], by["106"]["status"]) == (True, "Unreachable")
    assert [(c["uri"], c["ip"], c["port"], c["rtt_ms"]) for c in by["106"]["contacts"]] == \
        [("sip:106@10.9.8.7:5070", "10.9.8.7", 5070, 0.0)]
    # Every entry of the list is what the single route answers for that extension.
    for e in SIP_EXTENSIONS:
        one = without_expires_in(body(pbx.get("registrations/" + e["number"]))["data"])
        listed = without_expires_in(by[e["number"]])
        if one["tech"] == "sip":
            # chan_sip reports seconds left (RegExpire), so expires_at is "now + left": two
            # requests a moment apart may straddle a second. PJSIP's is Asterisk's own, exact.
            for c1, c2 in zip(one["contacts"], listed["contacts"]):
                if c1["expires_at"] is not None and c2["expires_at"] is not None:
                    assert abs(c1["expires_at"] - c2["expires_at"]) <= 1, e["number"]
                    c1["expires_at"] = c2["expires_at"]
        assert one == listed, e["number"]


def test_list_follows_extensions_written_through_the_api(pbx_rw):
    before = [x["extension"] for x in body(pbx_rw.get("registrations"))["data"]]
    assert "150" not in before
    r = pbx_rw.post("extension/add", data={"extension": "150", "exttype": "pjsip", "displayname": "New Phone",
                                           "secret": "Sec-150-abcdefghijkl"})
    assert r.status_code == 201, body(r)
    data = body(pbx_rw.get("registrations"))["data"]
    assert [x["extension"] for x in data] == sorted(before + ["150"], key=int)
    assert {"extension": "150", "name": "New Phone", "tech": "pjsip", "registered": False,
            "status": "unregistered", "contacts": []} in data
    assert pbx_rw.delete("extension/150").status_code == 200
    assert [x["extension"] for x in body(pbx_rw.get("registrations"))["data"]] == before


def test_list_text_is_exactly_the_encoded_entries_and_follows_rtt_and_clock(pbx):
    """The list is assembled from kept pieces; it must be byte for byte what encoding the
    entries gives, and a contact whose RTT changed (nothing else) must show the new RTT."""
    from rfapi.http import reply
    with pbx.peer.lock:
        c = pbx.peer.pjsip_contacts["101"][0]
        c["user_agent"] = 'Desk "Phone" \\ Ünïcode ✓'
        c["status"] = "Unreachable"
        c["expiration_time"] = 0   # no expiry reported
    r = pbx.get("registrations")
    data = body(r)["data"]
    assert r.get_data() == reply(data).get_data()
    by = {x["extension"]: x for x in data}
    assert by["101"]["status"] == "Unreachable"
    assert by["101"]["contacts"][0]["user_agent"] == 'Desk "Phone" \\ Ünïcode ✓'
    assert (by["101"]["contacts"][0]["expires_at"], by["101"]["contacts"][0]["expires_in"]) == (None, None)
    rtt_before = by["102"]["contacts"][0]["rtt_ms"]
    left_before = by["102"]["contacts"][0]["expires_in"]
    with pbx.peer.lock:
        pbx.peer.pjsip_contacts["102"][0]["roundtrip_usec"] = 123456
    time.sleep(1.1)
    by = {x["extension"]: x for x in body(pbx.get("registrations"))["data"]}
    assert by["102"]["contacts"][0]["rtt_ms"] == 123.456 != rtt_before
    assert by["102"]["contacts"][1]["rtt_ms"] != 123.456      # the softphone did not change
    assert by["102"]["contacts"][0]["expires_in"] < left_before  # the clock moved on
