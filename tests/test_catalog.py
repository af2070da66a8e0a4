"""The PBX catalog routes (/pbx/framework/destinations, destnumbers, mohclasses,
needreload) and the catalog functions other resources call."""
from __future__ import annotations


from rfapi.services import catalog
from tests.support import office
from tests.support.world import body


def data(pbx, path):
    r = pbx.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)
    return body(r)["data"]


def D(dest, description, category, module, id_):
    return {"destination": dest, "description": description, "category": category, "module": module, "id": id_}


def expected_destinations():
    """What FreePBX 17's <module>_destinations() hooks list for the office (see rfapi/services/catalog.py)."""
    out = [D("app-blackhole,%s,1" % k, label, "Terminate Call", "core", k) for k, label in catalog.TERMINATE]
    assert [d["description"] for d in out] == [
        "Hangup", "Congestion", "Busy", "Play SIT Tone (Zapateller)", "Put caller on hold forever",
        "Play ringtones to caller until they hangup", "Play no service message"]
    for e in sorted(office.EXTENSIONS, key=lambda e: int(e["number"])):
        n, name = e["number"], e["name"]
        out.append(D("from-did-direct,%s,1" % n, "%s %s" % (n, name), "Extensions", "core", n))
        if e["voicemail"]:
            for p, label in (("vmb", "Busy Message"), ("vmu", "Unavailable Message"), ("vms", "No Message"),
                             ("vmi", "Instructions Only")):
                out.append(D("ext-local,%s%s,1" % (p, n), "%s %s (%s)" % (n, name, label), "Voicemail", "core", n))
    for t in office.TRUNKS:
        out.append(D("ext-trunk,%d,1" % t["trunkid"], "%s (%s)" % (t["name"], t["tech"]), "Trunks", "core",
                     str(t["trunkid"])))
    dids = [D("from-trunk,%s,1" % d["extension"], "%s(%s)" % (d["description"], d["extension"]), "Inbound Routes",
              "core", d["extension"]) for d in office.DIDS]
    rest = []
    for a in office.ANNOUNCEMENTS:
        rest.append(D("app-announcement-%d,s,1" % a["announcement_id"], a["description"], "Announcements",
                      "announcement", str(a["announcement_id"])))
    for c in office.CONFERENCES:
        rest.append(D("ext-meetme,%s,1" % c["exten"], "%s %s" % (c["exten"], c["description"]), "Conferences",
                      "conferences", c["exten"]))
    for cf in office.CALLFLOWS:
        rest.append(D("app-daynight,%s,1" % cf["ext"], "(%s) %s" % (cf["ext"], cf["fc_description"]),
                      "Call Flow Control", "daynight", cf["ext"]))
    for i in office.IVRS:
        rest.append(D("ivr-%d,s,1" % i["id"], i["name"], "IVR", "ivr", str(i["id"])))
    for q in office.QUEUES:
        rest.append(D("ext-queues,%s,1" % q["extension"], "%s %s" % (q["extension"], q["descr"]), "Queues", "queues",
                      q["extension"]))
    for r in sorted(office.RECORDINGS, key=lambda r: r["displayname"]):
        rest.append(D("play-system-recording,%d,1" % r["id"], r["displayname"], "Play Recording", "recordings",
                      str(r["id"])))
    for g in office.RINGGROUPS:
        rest.append(D("ext-group,%s,1" % g["grpnum"], "%s %s" % (g["grpnum"], g["description"]), "Ring Groups",
                      "ringgroups", g["grpnum"]))
    for t in office.TIMECONDITIONS:
        rest.append(D("timeconditions,%d,1" % t["timeconditions_id"], t["displayname"], "Time Conditions",
                      "timeconditions", str(t["timeconditions_id"])))
    return out, dids, rest


def test_destinations_field_by_field(pbx):
    got = data(pbx, "pbx/framework/destinations")
    head, dids, rest = expected_destinations()
    assert got[:len(head)] == head
    got_dids = got[len(head):len(head) + len(dids)]
    # Inbound routes come in the database's (extension, cidnum) order; compare as a multiset.
    key = lambda d: (d["destination"], d["description"])  # noqa: E731
    assert sorted(got_dids, key=key) == sorted(dids, key=key)
    assert got[len(head) + len(dids):] == rest
    # Spot checks of FreePBX's exact wording.
    by_dest = {}
    for d in got:
        by_dest.setdefault(d["destination"], d)
    assert by_dest["from-did-direct,109,1"]["description"] == "109 Front Desk"
    assert by_dest["ext-local,vmu190,1"]["description"] == "190 General Mailbox (Unavailable Message)"
    assert "ext-local,vmu104,1" not in by_dest  # 104 has no mailbox
    assert by_dest["from-trunk,,1"]["description"] == "Catch-all()"
    assert by_dest["from-trunk,5551230400,1"]["description"] == "Support Line(5551230400)"
    assert by_dest["ext-trunk,2,1"]["description"] == "carrier_backup (sip)"
    assert by_dest["app-daynight,0,1"]["description"] == "(0) Snow Day Override"
    assert by_dest["ivr-1,s,1"] == D("ivr-1,s,1", "Main Menu", "IVR", "ivr", "1")
    assert by_dest["play-system-recording,4,1"]["category"] == "Play Recording"
    # Follow Me and feature codes are not offered (featurecodeadmin is not installed in the office).
    assert not [d for d in got if d["destination"].startswith(("ext-findmefollow", "ext-featurecodes"))]


def test_categories_cover_every_routed_module(pbx):
    cats = {d["category"] for d in data(pbx, "pbx/framework/destinations")}
    assert cats == {"Terminate Call", "Extensions", "Voicemail", "Trunks", "Inbound Routes", "Announcements",
                    "Conferences", "Call Flow Control", "IVR", "Queues", "Play Recording", "Ring Groups",
                    "Time Conditions"}


def test_feature_code_destinations_with_featurecodeadmin(pbx_rw):
    pbx_rw.sql("INSERT INTO modules (modulename, version, enabled) VALUES ('featurecodeadmin', '17.0.3', 1)")
    pbx_rw.sql("UPDATE featurecodes SET customcode = '*99' WHERE featurename = 'toggle-mode-1'")
    got = [d for d in data(pbx_rw, "pbx/framework/destinations") if d["category"] == "Feature Code Admin"]
    assert got == [
        D("ext-featurecodes,*280,1", "0: Snow Day Override <*280>", "Feature Code Admin", "featurecodeadmin",
          "daynight:toggle-mode-0"),
        D("ext-featurecodes,*292,1", "Edit Recording: Main Menu Options <*292>", "Feature Code Admin",
          "featurecodeadmin", "recordings:edit-recording-2"),
        # A custom code is shown, but the destination keeps the default code (SCHEMA §1).
        D("ext-featurecodes,*271,1", "1: Office Hours <*99>", "Feature Code Admin", "featurecodeadmin",
          "timeconditions:toggle-mode-1"),
        D("ext-featurecodes,*272,1", "2: Holiday Check <*272>", "Feature Code Admin", "featurecodeadmin",
          "timeconditions:toggle-mode-2"),
    ]


def test_disabled_module_and_hidden_trunk_are_not_destinations(pbx_rw):
    pbx_rw.sql("UPDATE modules SET enabled = 0 WHERE modulename IN ('ivr', 'queues')")
    pbx_rw.sql("UPDATE trunks SET routedisplay = 'off' WHERE trunkid = 2")
    pbx_rw.sql("INSERT INTO daynight (ext, dmode, dest) VALUES ('5', 'fc_description', 'Half set')")
    pbx_rw.sql("INSERT INTO daynight (ext, dmode, dest) VALUES ('5', 'day', 'ivr-1,s,1')")
    got = data(pbx_rw, "pbx/framework/destinations")
    cats = {d["category"] for d in got}
    assert "IVR" not in cats and "Queues" not in cats
    assert [d["destination"] for d in got if d["category"] == "Trunks"] == ["ext-trunk,1,1"]
    # daynight_destinations() skips a toggle without both destinations.
    assert [d["destination"] for d in got if d["category"] == "Call Flow Control"] == ["app-daynight,0,1"]


def test_deviceanduser_mode_calls_them_users(pbx_rw):
    pbx_rw.sql("UPDATE freepbx_settings SET value = 'deviceanduser' WHERE keyword = 'AMPEXTENSIONS'")
    if not pbx_rw.sql("SELECT 1 FROM freepbx_settings WHERE keyword = 'AMPEXTENSIONS'"):
        pbx_rw.sql("INSERT INTO freepbx_settings (keyword, value) VALUES ('AMPEXTENSIONS', 'deviceanduser')")
    got = data(pbx_rw, "pbx/framework/destinations")
    assert {d["category"] for d in got if d["destination"].startswith("from-did-direct,")} == {"Users"}


def test_destnumbers(pbx):
    got = data(pbx, "pbx/framework/destnumbers")
    want = sorted([(e["number"], "extension") for e in office.EXTENSIONS]
                  + [(g["grpnum"], "ringgroup") for g in office.RINGGROUPS]
                  + [(q["extension"], "queue") for q in office.QUEUES]
                  + [(c["exten"], "conference") for c in office.CONFERENCES], key=lambda nk: (int(nk[0]), nk[1]))
    assert got == [{"number": n, "kind": k} for n, k in want]
    assert got[-1] == {"number": "800", "kind": "conference"}


def test_destnumbers_numeric_order_and_clashes(pbx_rw):
    pbx_rw.sql("INSERT INTO ringgroups (grpnum, strategy, grptime, grplist, description) "
               "VALUES ('1000', 'ringall', 20, '101', 'Big'), ('101', 'ringall', 20, '102', 'Clash')")
    got = data(pbx_rw, "pbx/framework/destnumbers")
    assert got[:2] == [{"number": "101", "kind": "extension"}, {"number": "101", "kind": "ringgroup"}]
    assert got[-1] == {"number": "1000", "kind": "ringgroup"}


def test_mohclasses(pbx):
    got = data(pbx, "pbx/framework/mohclasses")
    assert got == [dict(m, random=bool(m["random"])) for m in office.MOH_CLASSES] + [
        {"id": None, "category": "none", "type": "files", "random": False, "application": "", "format": ""}]


def test_mohclasses_without_default_row(pbx_rw):
    pbx_rw.sql("DELETE FROM music WHERE category = 'default'")
    got = data(pbx_rw, "pbx/framework/mohclasses")
    assert [m["category"] for m in got] == ["default", "jazz", "none"]
    assert got[0]["id"] is None


def test_needreload(pbx_rw):
    assert data(pbx_rw, "pbx/framework/needreload") is False
    pbx_rw.sql("UPDATE admin SET value = 'true' WHERE variable = 'need_reload'")
    assert data(pbx_rw, "pbx/framework/needreload") is True
    r = pbx_rw.put("pbx/framework/needreload")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD, POST"


def test_catalog_routes_are_get_only(pbx):
    for path in ("pbx/framework/destinations", "pbx/framework/destnumbers", "pbx/framework/mohclasses"):
        for method in ("POST", "PUT", "DELETE"):
            r = pbx.call(method, path)
            assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"


def test_catalog_functions(pbx):
    with pbx.app.app_context():
        assert catalog.destination_exists("ivr-1,s,1")
        assert catalog.destination_exists("ext-local,vmb101,1")
        assert catalog.destination_exists("app-blackhole,hangup,1")
        assert not catalog.destination_exists("ext-local,vmb104,1")
        assert not catalog.destination_exists("ivr-2,s,1")
        assert catalog.number_in_use("101") == "extension"
        assert catalog.number_in_use("600") == "ringgroup"
        assert catalog.number_in_use("400") == "queue"
        assert catalog.number_in_use("800") == "conference"
        assert catalog.number_in_use("555") is None
        assert catalog.mohclass_exists("jazz") and catalog.mohclass_exists("default")
        assert catalog.mohclass_exists("none") and not catalog.mohclass_exists("rock")
