"""GET /extdump and /extdump/<ext>: every configuration item, a bounded number
of queries, AstDB only for one extension, secrets only on request."""
from __future__ import annotations

import json

from tests.support import office
from tests.support.world import body

OFFICE_ROWS = office.config_rows()


def user_row(n):
    row = dict(next(u for u in OFFICE_ROWS["users"] if u["extension"] == n))
    row["mohclass"] = "default"
    return row


def device_row(n):
    rows = [d for d in OFFICE_ROWS["devices"] if d["id"] == n]
    return dict(rows[0]) if rows else None


def sip_dict(n, secrets=False):
    rows = sorted(office.sip_rows(n), key=lambda r: (r[3], r[1]))
    return {kw: (d if (secrets or kw not in ("secret", "md5_cred") or not d) else None) for _, kw, d, _ in rows}


def fm_row(n):
    rows = [f for f in OFFICE_ROWS["findmefollow"] if f["grpnum"] == n]
    return dict(rows[0]) if rows else None


def vm_box(n, secrets=False):
    e = office.EXTENSIONS_BY_NUMBER[n]
    if not e["voicemail"]:
        return None
    return {"pwd": e["vm_password"] if secrets else None, "name": e["name"], "email": e["email"],
            "pager": e["pager"], "options": dict(e["vm_options"]), "context": "default"}


def expected(n, secrets=False):
    e = office.EXTENSIONS_BY_NUMBER[n]
    return {"extension": n, "tech": e["tech"], "user": user_row(n), "device": device_row(n),
            "sip": sip_dict(n, secrets) if e["tech"] != "virtual" else {}, "followme": fm_row(n),
            "voicemail": vm_box(n, secrets)}


def test_full_dump_is_every_extension_from_sql_and_voicemail_conf(pbx):
    r = pbx.get("extdump")
    assert r.status_code == 200
    data = body(r)["data"]
    assert [d["extension"] for d in data] == [e["number"] for e in office.EXTENSIONS]
    for d in data:
        assert d == expected(d["extension"]), d["extension"]
    # No AstDB in the full dump.
    assert [a.name for a in pbx.peer.actions if a.name.startswith("DB")] == []
    # chan_sip trunk rows sharing the sip table are not extensions.
    assert not any(k.startswith("tr-") for d in data for k in d["sip"])


def test_secrets_only_on_request_and_audited(pbx):
    d = next(x for x in body(pbx.get("extdump"))["data"] if x["extension"] == "101")
    assert d["sip"]["secret"] is None and d["voicemail"]["pwd"] is None
    r = pbx.get("extdump", query_string={"secrets": "yes"})
    data = {x["extension"]: x for x in body(r)["data"]}
    assert data["101"] == expected("101", secrets=True)
    assert data["101"]["sip"]["secret"] == office.EXTENSIONS_BY_NUMBER["101"]["secret"]
    assert data["201"]["sip"]["secret"] == office.EXTENSIONS_BY_NUMBER["201"]["secret"]
    lines = [json.loads(l) for l in (pbx.root / "audit.log").read_text().splitlines()]
    assert [l["action"] for l in lines] == ["extdump.secrets"]
    assert lines[0]["result"] == {"extensions": 16}


def com_select(rt) -> int:
    row = rt.db.query_one("SHOW SESSION STATUS LIKE 'Com_select'")
    return int(row["Value"])


def test_full_dump_query_count_does_not_grow_with_extensions(pbx_rw):
    rt = pbx_rw.app.extensions["rfapi"]

    def selects_for_dump():
        # The test client runs the request in this thread, on this thread's connection.
        start = com_select(rt)
        r = pbx_rw.get("extdump")
        assert r.status_code == 200
        return com_select(rt) - start, len(body(r)["data"])

    small, count = selects_for_dump()
    assert count == 16
    for i in range(300):  # 300 more pjsip extensions, copied from 104 with FreePBX's rows
        n = str(3000 + i)
        pbx_rw.sql("INSERT INTO users SELECT %s, password, name, voicemail, ringtimer, noanswer, recording, "
                   "outboundcid, sipname, noanswer_cid, busy_cid, chanunavail_cid, noanswer_dest, busy_dest, "
                   "chanunavail_dest, mohclass FROM users WHERE extension = '104'", (n,))
        pbx_rw.sql("INSERT INTO devices SELECT %s, tech, dial, devicetype, user, description, emergency_cid, "
                   "hint_override FROM devices WHERE id = '104'", (n,))
        pbx_rw.sql("INSERT INTO sip SELECT %s, keyword, data, flags FROM sip WHERE id = '104'", (n,))
    large, count = selects_for_dump()
    assert count == 316
    assert small == large == 4  # users, devices, sip, findmefollow


def test_one_extension_with_its_astdb(pbx):
    r = pbx.get("extdump/101")
    assert r.status_code == 200
    d = body(r)["data"]
    astdb = d.pop("astdb")
    assert d == expected("101")
    want = {k: v for k, v in office.astdb().items()
            if k.startswith(("/AMPUSER/101/", "/DEVICE/101/")) or k in ("/CW/101", "/CustomPresence/101",
                                                                        "/CustomDevstate/FOLLOWME101")}
    assert astdb == dict(sorted(want.items()))


def test_one_extension_call_forward_and_dnd_keys(pbx):
    a112 = body(pbx.get("extdump/112"))["data"]["astdb"]
    assert a112["/CF/112"] == "5559871234"
    a108 = body(pbx.get("extdump/108"))["data"]["astdb"]
    assert a108["/DND/108"] == "YES" and a108["/CustomDevstate/DND108"] == "BUSY"
    assert "/CW/110" not in body(pbx.get("extdump/110"))["data"]["astdb"]  # call waiting off


def test_one_virtual_extension(pbx):
    d = body(pbx.get("extdump/191"))["data"]
    assert d["tech"] == "virtual" and d["device"] is None and d["sip"] == {}
    assert d["followme"] == fm_row("191")
    assert d["astdb"]["/AMPUSER/191/followme/grplist"] == "5554443333#"


def test_one_with_secrets(pbx):
    d = body(pbx.get("extdump/202", query_string={"secrets": "1"}))["data"]
    assert d["sip"]["secret"] == office.EXTENSIONS_BY_NUMBER["202"]["secret"]


def test_unknown_is_404(pbx):
    for n in ("999", "600", "abc"):
        r = pbx.get("extdump/" + n)
        assert r.status_code == 404 and body(r)["message"] == "Extension %s not found" % n


def test_one_extension_needs_ami(pbx):
    pbx.peer.stop()
    assert pbx.get("extdump/101").status_code == 503
    assert pbx.get("extdump").status_code == 200  # the full dump does not
