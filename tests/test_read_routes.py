"""Read routes: each answers the fixture office's content, field by field."""
from __future__ import annotations


import pytest

from tests.support import office
from tests.support.world import body


def data(pbx, path):
    r = pbx.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)
    b = body(r)
    assert b["status"] == 200
    return b["data"]


GET_ONLY = ["announcements", "callflowcontrols", "conferences", "ivrs", "patterns/outbound", "queues", "ringgroups",
            "timeconditions", "recordings", "recordings/Welcome Greeting", "cdr"]


@pytest.mark.parametrize("path", GET_ONLY)
def test_other_methods_are_405_with_allow(pbx, path):
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        r = pbx.call(method, path)
        assert r.status_code == 405, (method, path)
        assert r.headers["Allow"] == "GET, HEAD"
        assert body(r) == {"status": 405, "message": "Method Not Allowed", "data": None}


def test_routes_need_credentials(pbx):
    for path in GET_ONLY:
        assert pbx.get(path, auth=False).status_code == 401


def test_unknown_query_parameter_is_400(pbx):
    r = pbx.get("queues?strategy=ringall")
    assert r.status_code == 400
    assert body(r)["data"] == {"errors": {"strategy": "unknown parameter"}}


def test_announcements(pbx):
    got = data(pbx, "announcements")
    assert got == [dict(a) for a in office.ANNOUNCEMENTS]
    a = got[1]
    assert a["announcement_id"] == 2 and a["description"] == "After Hours Message"
    assert a["recording_id"] == 3 and a["post_dest"] == "ext-local,vmu190,1" and a["allow_skip"] == 1


def test_conferences(pbx):
    got = data(pbx, "conferences")
    assert got == [dict(c) for c in office.CONFERENCES]
    assert got[0]["exten"] == "800" and got[0]["options"] == "oTMI" and got[0]["timeout"] == 21600


def test_ivrs_with_entries_in_freepbx_order(pbx):
    got = data(pbx, "ivrs")
    assert len(got) == len(office.IVRS)
    ivr, want = got[0], office.IVRS[0]
    for k, v in want.items():
        if k != "entries":
            assert ivr[k] == v, k
    assert set(ivr) == set(want)
    # ORDER BY selection + 0: "0" first although it was inserted last.
    assert [e["selection"] for e in ivr["entries"]] == ["0", "1", "2", "3", "8"]
    assert sorted(ivr["entries"], key=lambda e: e["selection"]) == sorted(want["entries"],
                                                                            key=lambda e: e["selection"])
    assert ivr["entries"][0] == {"selection": "0", "dest": "from-did-direct,109,1", "ivr_ret": 0}


def test_outbound_routes_in_sequence_with_patterns_and_trunks(pbx):
    got = data(pbx, "patterns/outbound")
    assert [r["name"] for r in got] == ["Emergency", "US-Outbound", "International"]
    trunk_names = {t["trunkid"]: (t["name"], t["tech"]) for t in office.TRUNKS}
    for route, want in zip(got, sorted(office.OUTBOUND_ROUTES, key=lambda r: r["seq"])):
        for k, v in want.items():
            if k == "patterns":
                assert sorted((p["match_pattern_prefix"], p["match_pattern_pass"], p["match_cid"],
                               p["prepend_digits"]) for p in route["patterns"]) == sorted(v)
            elif k == "trunks":
                assert [t["trunk_id"] for t in route["trunks"]] == v
                assert [(t["name"], t["tech"]) for t in route["trunks"]] == [trunk_names[i] for i in v]
                assert [t["seq"] for t in route["trunks"]] == list(range(len(v)))
            else:
                assert route[k] == v, k
    intl = got[2]
    assert intl["route_id"] == 3 and intl["password"] == "8675" and intl["time_group_id"] == 1
    assert intl["outcid"] == office.MAIN_CID and intl["outcid_mode"] == "override_extension"
    # Patterns ordered by prefix, then pattern (FreePBX's order).
    assert [(p["match_pattern_prefix"], p["match_pattern_pass"]) for p in got[1]["patterns"]] == [
        ("", "1NXXNXXXXXX"), ("", "NXXNXXXXXX"), ("9", "1NXXNXXXXXX"), ("9", "NXXNXXXXXX")]
    assert got[0]["trunks"][1] == {"trunk_id": 2, "seq": 1, "name": "carrier_backup", "tech": "sip",
                                   "disabled": "off"}


def test_route_without_sequence_comes_last(pbx_rw):
    pbx_rw.sql("DELETE FROM outbound_route_sequence WHERE route_id = 1")
    got = data(pbx_rw, "patterns/outbound")
    assert [(r["route_id"], r["seq"]) for r in got] == [(2, 1), (3, 2), (1, None)]


def test_queues_settings_and_static_members(pbx):
    got = data(pbx, "queues")
    assert len(got) == 1
    q, want = got[0], office.QUEUES[0]
    cols = [k for k in want if k not in ("strategy", "members", "details", "dynamic_members")]
    for k in cols:
        assert q[k] == want[k], k
    assert q["settings"] == dict(want["details"])
    assert q["settings"]["strategy"] == "rrmemory" and q["settings"]["music"] == "jazz"
    assert q["members"] == [{"interface": "Local/%s@from-queue/n" % m, "extension": m, "penalty": 0,
                             "data": "Local/%s@from-queue/n,0" % m} for m in want["members"]]


def test_queue_member_other_interface_and_position_order(pbx_rw):
    pbx_rw.sql("UPDATE queues_details SET flags = 9 WHERE id = '400' AND data = 'Local/102@from-queue/n,0'")
    pbx_rw.sql("INSERT INTO queues_details (id, keyword, data, flags) VALUES ('400', 'member', 'PJSIP/201,3', 1)")
    q = data(pbx_rw, "queues")[0]
    assert [m["data"] for m in q["members"]] == ["Local/103@from-queue/n,0", "PJSIP/201,3",
                                                 "Local/104@from-queue/n,0", "Local/102@from-queue/n,0"]
    assert q["members"][1] == {"interface": "PJSIP/201", "extension": None, "penalty": 3, "data": "PJSIP/201,3"}


def test_ringgroups_member_list_as_array(pbx):
    got = data(pbx, "ringgroups")
    assert [g["grpnum"] for g in got] == ["600", "601"]
    for g, want in zip(got, office.RINGGROUPS):
        for k, v in want.items():
            assert g[k] == (v.split("-") if k == "grplist" else v), k
        assert set(g) == set(want)
    assert got[1]["grplist"] == ["101", "105", "5551234567#"]
    assert got[1]["strategy"] == "hunt" and got[1]["grptime"] == 15 and got[1]["cwignore"] == "CHECKED"


def test_timeconditions_with_group_and_rules(pbx):
    got = data(pbx, "timeconditions")
    groups = {g["id"]: g for g in office.TIMEGROUPS}
    assert len(got) == len(office.TIMECONDITIONS)
    for tc, want in zip(got, office.TIMECONDITIONS):
        for k, v in want.items():
            if k != "override":  # AstDB only
                assert tc[k] == v, k
        g = groups[want["time"]]
        assert tc["timegroup"] == {"id": g["id"], "description": g["description"],
                                   "times": [{"id": i, "time": t} for i, t in g["rules"]]}
    assert got[0]["truegoto"] == "ivr-1,s,1" and got[0]["timegroup"]["times"][0]["time"] == "08:30-17:30|mon-fri|*|*"


def test_timecondition_with_missing_group_has_null_timegroup(pbx_rw):
    pbx_rw.sql("UPDATE timeconditions SET time = 99 WHERE timeconditions_id = 2")
    got = data(pbx_rw, "timeconditions")
    assert got[1]["time"] == 99 and got[1]["timegroup"] is None


# -- call flow control -------------------------------------------------------------

def test_callflowcontrols_from_sql_and_astdb(pbx):
    pbx.peer.clear_actions()
    got = data(pbx, "callflowcontrols")
    cf = office.CALLFLOWS[0]
    assert got == [{
        "ext": 0, "fc_description": cf["fc_description"], "day": cf["day"], "night": cf["night"],
        "password": "", "day_recording_id": None, "night_recording_id": None, "timeday": [], "timenight": [],
        "state": cf["state"], "featurecode": cf["featurecode"], "destination": "app-daynight,0,1"}]
    trees = [a for a in pbx.peer.actions if a.name.lower() == "dbgettree"]
    assert len(trees) == 1 and trees[0].get("Family") == "DAYNIGHT" and trees[0].get("Key") is None
    assert not [a for a in pbx.peer.actions if a.name.lower() == "dbget"]


def test_callflowcontrols_several_toggles_one_dbgettree(pbx_rw):
    rows = [("1", "fc_description", "Lunch"), ("1", "day", "from-did-direct,109,1"),
            ("1", "night", "ext-local,vmu190,1"), ("1", "password", "4321"), ("1", "day_recording_id", "3"),
            ("1", "night_recording_id", "0"), ("1", "timeday", "2"), ("1", "timeday", "1"),
            ("10", "fc_description", "Storm"), ("10", "day", "ivr-1,s,1")]
    for r in rows:
        pbx_rw.sql("INSERT INTO daynight (ext, dmode, dest) VALUES (%s, %s, %s)", r)
    pbx_rw.sql("INSERT INTO featurecodes (modulename, featurename, description, helptext, defaultcode, customcode,"
               " enabled, providedest) VALUES ('daynight', 'toggle-mode-1', '1: Lunch', '', '*281', '*55', 1, 1)")
    with pbx_rw.peer.lock:
        pbx_rw.peer.astdb["/DAYNIGHT/C1"] = "NIGHT"
        pbx_rw.peer.astdb["/DAYNIGHT/C10"] = "bogus"
    pbx_rw.peer.clear_actions()
    got = data(pbx_rw, "callflowcontrols")
    assert [t["ext"] for t in got] == [0, 1, 10]
    assert got[1] == {"ext": 1, "fc_description": "Lunch", "day": "from-did-direct,109,1",
                      "night": "ext-local,vmu190,1", "password": "4321", "day_recording_id": 3,
                      "night_recording_id": 0, "timeday": [1, 2], "timenight": [], "state": "NIGHT",
                      "featurecode": "*55", "destination": "app-daynight,1,1"}
    # Not DAY/NIGHT in AstDB -> null, as FreePBX's getState() returns false; no feature code row -> null.
    assert got[2]["state"] is None and got[2]["night"] is None and got[2]["featurecode"] is None
    assert [a.name for a in pbx_rw.peer.actions if a.name.lower().startswith("db")] == ["DBGetTree"]


def test_callflowcontrols_without_ami_answer_from_sql(pbx):
    pbx.peer.stop()
    r = pbx.get("callflowcontrols")
    assert r.status_code == 200
    b = body(r)
    assert b["message"] == "OK; Asterisk (AMI) is unreachable, so state is null"
    assert len(b["data"]) == 1
    t = b["data"][0]
    assert t["state"] is None
    assert t["fc_description"] == "Snow Day Override" and t["featurecode"] == "*280"


def test_disabled_feature_code_is_null(pbx_rw):
    pbx_rw.sql("UPDATE featurecodes SET enabled = 0 WHERE modulename = 'daynight'")
    assert data(pbx_rw, "callflowcontrols")[0]["featurecode"] is None


def test_missing_module_table_reads_as_empty(pbx_rw):
    pbx_rw.sql("DROP TABLE meetme")
    assert data(pbx_rw, "conferences") == []


def test_database_down_is_503(pbx):
    pbx.ini.write_text(pbx.ini.read_text().replace("port = 3306", "port = 1"))
    r = pbx.get("ringgroups")
    assert r.status_code == 503
    assert body(r)["message"] == "Service Unavailable: the PBX database is unreachable"
